package cloudauthtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
)

// hostID is the HostId the service puts in its error bodies.
const hostID = "cloudauth.aliyuncs.com"

// Response formats, as the Format parameter names them.
const (
	formatJSON = "JSON"
	formatXML  = "XML"
)

const (
	contentTypeJSON = "application/json;charset=utf-8"
	contentTypeXML  = "text/xml;charset=utf-8"
)

// apiError is an error response in the service's error shape.
type apiError struct {
	status  int
	code    string
	message string
	header  http.Header // extra response headers, such as the rate-limit header
}

func newAPIError(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

// errorBody is the JSON error document. Its XML form leaves out Recommend.
type errorBody struct {
	XMLName   xml.Name `json:"-" xml:"Error"`
	RequestID string   `json:"RequestId" xml:"RequestId"`
	HostID    string   `json:"HostId" xml:"HostId"`
	Code      string   `json:"Code" xml:"Code"`
	Message   string   `json:"Message" xml:"Message"`
	Recommend string   `json:"Recommend" xml:"-"`
}

// statusData is the Data member of a GetStatus response. A zero
// SimilarityScore and an empty AuditConclusions are left out.
type statusData struct {
	StatusCode       int     `json:"StatusCode" xml:"StatusCode"`
	SimilarityScore  float64 `json:"SimilarityScore,omitempty" xml:"SimilarityScore,omitempty"`
	AuditConclusions string  `json:"AuditConclusions,omitempty" xml:"AuditConclusions,omitempty"`
}

// jsonSuccessBody is a GetStatus response body in JSON.
type jsonSuccessBody struct {
	RequestID string     `json:"RequestId"`
	Data      statusData `json:"Data"`
	Success   bool       `json:"Success"`
	Code      string     `json:"Code"`
	Message   string     `json:"Message"`
}

// xmlSuccessBody is a GetStatus response body in XML, which carries no Message.
type xmlSuccessBody struct {
	XMLName   xml.Name   `xml:"GetStatusResponse"`
	RequestID string     `xml:"RequestId"`
	Data      statusData `xml:"Data"`
	Success   bool       `xml:"Success"`
	Code      string     `xml:"Code"`
}

// writeSuccess writes the GetStatus response for state in format.
func writeSuccess(w http.ResponseWriter, format, requestID string, state TicketState) {
	data := statusData{
		StatusCode:       int(state.Status),
		SimilarityScore:  state.SimilarityScore,
		AuditConclusions: state.AuditConclusions,
	}
	if format == formatXML {
		body := xmlSuccessBody{RequestID: requestID, Data: data, Success: true, Code: "1"}
		writeXML(w, http.StatusOK, "<?xml version='1.0' encoding='UTF-8'?>", body)
		return
	}
	body := jsonSuccessBody{RequestID: requestID, Data: data, Success: true, Code: "1", Message: "success"}
	writeJSON(w, http.StatusOK, body)
}

// writeError writes e as the service's error document in format, after
// adding e's extra headers.
func writeError(w http.ResponseWriter, format, requestID string, e *apiError) {
	for name, values := range e.header {
		w.Header()[name] = append([]string(nil), values...)
	}
	body := errorBody{
		RequestID: requestID,
		HostID:    hostID,
		Code:      e.code,
		Message:   e.message,
		Recommend: "https://api.aliyun.com/troubleshoot?q=" + e.code,
	}
	if format == formatXML {
		writeXML(w, e.status, `<?xml version="1.0" encoding="UTF-8"?>`, body)
		return
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	encoded, err := json.Marshal(body)
	if err != nil {
		// The bodies are fixed structs of strings and numbers, which always encode.
		panic("cloudauthtest: encoding a JSON response failed: " + err.Error())
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", contentTypeJSON)
	}
	w.WriteHeader(status)
	_, _ = w.Write(encoded)
}

// writeXML writes declaration followed by body marshaled as XML, which
// escapes the text of every element.
func writeXML(w http.ResponseWriter, status int, declaration string, body any) {
	encoded, err := xml.Marshal(body)
	if err != nil {
		panic("cloudauthtest: encoding an XML response failed: " + err.Error())
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", contentTypeXML)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(declaration + "\n"))
	_, _ = w.Write(encoded)
}

// newRequestID returns a random version 4 UUID in upper case, the form the
// service uses for RequestId.
func newRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("cloudauthtest: reading random bytes for a request id failed: " + err.Error())
	}
	b[6] = b[6]&0x0F | 0x40
	b[8] = b[8]&0x3F | 0x80

	encoded := strings.ToUpper(hex.EncodeToString(b[:]))
	return encoded[0:8] + "-" + encoded[8:12] + "-" + encoded[12:16] + "-" + encoded[16:20] + "-" + encoded[20:32]
}
