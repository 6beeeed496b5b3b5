package cloudauth

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// bodyKind is the format of a response body, detected from its first
// non-space byte because gateways mislabel Content-Type.
type bodyKind int

const (
	bodyEmpty bodyKind = iota
	bodyJSON
	bodyXML
	bodyHTML
	bodyText
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// trimBody drops a UTF-8 byte-order mark and the white space around body.
func trimBody(body []byte) []byte {
	body = bytes.TrimLeft(body, " \t\r\n")
	body = bytes.TrimPrefix(body, utf8BOM)
	return bytes.TrimSpace(body)
}

// detectBody returns the format of body, which trimBody has trimmed.
func detectBody(body []byte) bodyKind {
	if len(body) == 0 {
		return bodyEmpty
	}
	switch body[0] {
	case '{', '[':
		return bodyJSON
	case '<':
		if looksLikeHTML(body) {
			return bodyHTML
		}
		return bodyXML
	}
	return bodyText
}

// looksLikeHTML reports whether a body that starts with '<' is an HTML page
// rather than an XML document.
func looksLikeHTML(body []byte) bool {
	head := body[:min(len(body), 512)]
	lower := bytes.ToLower(head)
	if bytes.HasPrefix(lower, []byte("<?xml")) {
		return false
	}
	return bytes.HasPrefix(lower, []byte("<!doctype html")) ||
		bytes.HasPrefix(lower, []byte("<html")) ||
		bytes.Contains(lower, []byte("<body")) ||
		bytes.Contains(lower, []byte("<head"))
}

// envelope is the part of every Cloudauth RPC response outside Data. D is
// the action's Data type.
type envelope[D any] struct {
	RequestID flexString `json:"RequestId" xml:"RequestId"`
	HostID    flexString `json:"HostId" xml:"HostId"`
	Success   flexBool   `json:"Success" xml:"Success"`
	Code      flexString `json:"Code" xml:"Code"`
	Message   flexString `json:"Message" xml:"Message"`
	Recommend flexString `json:"Recommend" xml:"Recommend"`
	Data      *D         `json:"Data" xml:"Data"`
}

// decodeBody decodes a JSON or XML body into v, detecting which from the
// body, and returns an error for any other kind of body.
func decodeBody(body []byte, v any) error {
	switch detectBody(body) {
	case bodyEmpty:
		return errEmptyBody
	case bodyJSON:
		return json.Unmarshal(body, v)
	case bodyXML:
		return unmarshalXML(body, v)
	case bodyHTML:
		return errors.New("the body is an HTML page, not JSON or XML")
	}
	return errors.New("the body is neither JSON nor XML")
}

// unmarshalXML decodes an XML body into v. Without a charset reader,
// encoding/xml rejects every declared encoding but UTF-8. Services that
// mislabel their XML declare another charset, such as GBK, over UTF-8
// bytes, so such a body is accepted when its bytes are valid UTF-8. Other
// bodies fail with a clear error.
func unmarshalXML(body []byte, v any) error {
	decoder := xml.NewDecoder(bytes.NewReader(body))
	decoder.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		if utf8.Valid(body) {
			return input, nil
		}
		return nil, fmt.Errorf("the XML declares the charset %q and is not valid UTF-8", label)
	}
	return decoder.Decode(v)
}

// isSuccessCode reports whether code is a Code value that comes with a
// successful response, such as the 1 of the XML reference example.
func isSuccessCode(code string) bool {
	switch strings.ToLower(strings.TrimSpace(code)) {
	case "", "0", "1", "200", "ok", "success":
		return true
	}
	return false
}

// decodeSuccess decodes a 2xx response into env. It returns an *APIError when
// the body reports a failure and a *ResponseError when the body is unusable.
func decodeSuccess[D any](resp *http.Response, body []byte, env *envelope[D], secrets *redactor) error {
	body = trimBody(body)
	if err := decodeBody(body, env); err != nil {
		return newResponseError(resp, body, string(env.RequestID), describeDecodeError(err), secrets)
	}
	// An explicit Success decides. Without one, an error Code does, so a
	// gateway's {"Code":"Throttling.User"} is not taken for a result.
	failed := env.Success.set && !env.Success.value ||
		!env.Success.set && !isSuccessCode(string(env.Code))
	if failed {
		return newAPIError(resp, body, env.errorFields(), secrets)
	}
	if env.Data == nil {
		return newResponseError(resp, body, string(env.RequestID), errNoData, secrets)
	}
	if checker, ok := any(env.Data).(dataChecker); ok {
		if err := checker.check(); err != nil {
			return newResponseError(resp, body, string(env.RequestID), err, secrets)
		}
	}
	if env.RequestID == "" {
		env.RequestID = flexString(resp.Header.Get("x-acs-request-id"))
	}
	return nil
}

// dataChecker is implemented by Data types that have required fields.
type dataChecker interface {
	check() error
}

func (env *envelope[D]) errorFields() errorBody {
	return errorBody{
		RequestID: env.RequestID,
		HostID:    env.HostID,
		Code:      env.Code,
		Message:   env.Message,
		Recommend: env.Recommend,
	}
}

// describeDecodeError rewrites a decoder error into a short sentence without
// repeating the body.
func describeDecodeError(err error) error {
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("malformed JSON at byte %d: %w", syntaxErr.Offset, err)
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("JSON field %s has the wrong type: %w", typeErr.Field, err)
	}
	if errors.Is(err, errEmptyBody) {
		return err
	}
	return fmt.Errorf("cannot decode the body: %w", err)
}

// errorBody is an error response in the service's JSON or XML shape. Every
// field is a flexString, so a number where a string belongs never fails it.
type errorBody struct {
	RequestID flexString `json:"RequestId" xml:"RequestId"`
	HostID    flexString `json:"HostId" xml:"HostId"`
	Code      flexString `json:"Code" xml:"Code"`
	Message   flexString `json:"Message" xml:"Message"`
	Recommend flexString `json:"Recommend" xml:"Recommend"`
}

// parseErrorBody builds the *APIError for a non-2xx response from whatever the
// body carries: JSON, XML, HTML, other text or nothing.
func parseErrorBody(resp *http.Response, body []byte, secrets *redactor) *APIError {
	body = trimBody(body)
	var fields errorBody
	switch detectBody(body) {
	case bodyJSON:
		if err := json.Unmarshal(body, &fields); err != nil {
			fields = errorBody{Message: flexString(textExcerpt(secrets.redactBytes(body)))}
		}
	case bodyXML:
		if err := unmarshalXML(body, &fields); err != nil {
			fields = errorBody{Message: flexString(textExcerpt(secrets.redactBytes(body)))}
		}
	case bodyHTML, bodyText:
		fields.Message = flexString(textExcerpt(secrets.redactBytes(body)))
	}
	return newAPIError(resp, body, fields, secrets)
}

// Limits on the text fields of an *APIError, so a hostile body cannot
// flood error text or log records.
const (
	maxCodeBytes      = 128
	maxRequestIDBytes = 128
	maxHostIDBytes    = 256
	maxRecommendBytes = 512
	// maxMessageBytes bounds APIError.Message, which for HTML bodies is
	// the page's text.
	maxMessageBytes = 512
)

// newAPIError builds an *APIError from the fields of an error body. Each
// field has the secrets removed from its whole text first, then control
// characters replaced and its length capped, so no cut can leave part of
// a secret behind and no line break can forge a log line.
func newAPIError(resp *http.Response, body []byte, fields errorBody, secrets *redactor) *APIError {
	e := &APIError{
		HTTPStatusCode: resp.StatusCode,
		Code:           cleanField(string(fields.Code), maxCodeBytes, secrets),
		Message:        cleanField(string(fields.Message), maxMessageBytes, secrets),
		RequestID:      cleanField(string(fields.RequestID), maxRequestIDBytes, secrets),
		HostID:         cleanField(string(fields.HostID), maxHostIDBytes, secrets),
		Recommend:      cleanField(string(fields.Recommend), maxRecommendBytes, secrets),
		retryAfter:     throttleWait(resp.Header),
	}
	if e.RequestID == "" {
		e.RequestID = cleanField(resp.Header.Get("x-acs-request-id"), maxRequestIDBytes, secrets)
	}
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		e.serverTime = date
	}
	if e.Message == "" && len(body) > 0 && e.Code == "" {
		e.Message = cleanField(textExcerpt(secrets.redactBytes(body)), maxMessageBytes, secrets)
	}
	return e
}

// cleanField removes secrets from text, replaces control characters with
// spaces, trims it and caps it at limit bytes.
func cleanField(text string, limit int, secrets *redactor) string {
	text = secrets.redact(text)
	text = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, text)
	return truncate(strings.TrimSpace(strings.ToValidUTF8(text, "\uFFFD")), limit)
}

func newResponseError(resp *http.Response, body []byte, requestID string, cause error, secrets *redactor) *ResponseError {
	requestID = cleanField(requestID, maxRequestIDBytes, secrets)
	if requestID == "" {
		requestID = cleanField(resp.Header.Get("x-acs-request-id"), maxRequestIDBytes, secrets)
	}
	if text := cause.Error(); secrets.redact(text) != text {
		cause = &scrubbedError{text: secrets.redact(text), err: cause}
	}
	return &ResponseError{
		HTTPStatusCode: resp.StatusCode,
		RequestID:      requestID,
		Excerpt:        excerpt(secrets.redactBytes(body), maxExcerptBytes),
		Err:            cause,
	}
}

// maxExcerptBytes bounds the body excerpt in a ResponseError.
const maxExcerptBytes = 200

// excerpt returns the start of body as valid UTF-8, at most limit bytes.
func excerpt(body []byte, limit int) string {
	text := strings.ToValidUTF8(string(body[:min(len(body), limit+utf8.UTFMax)]), "\uFFFD")
	return truncate(text, limit)
}

// textExcerpt returns the text of an HTML or plain-text body without markup,
// white space collapsed, cut to maxExcerptBytes.
func textExcerpt(body []byte) string {
	var b strings.Builder
	inTag, inSkipped, space := false, false, false
	scan := body[:min(len(body), 16*1024)]
	for i := 0; i < len(scan) && b.Len() < maxExcerptBytes+utf8.UTFMax; i++ {
		c := scan[i]
		switch {
		case c == '<':
			inTag = true
			rest := bytes.ToLower(scan[i:min(len(scan), i+8)])
			if bytes.HasPrefix(rest, []byte("<script")) || bytes.HasPrefix(rest, []byte("<style")) {
				inSkipped = true
			} else if bytes.HasPrefix(rest, []byte("</script")) || bytes.HasPrefix(rest, []byte("</style")) {
				inSkipped = false
			}
		case c == '>' && inTag:
			inTag = false
			space = true
		case inTag || inSkipped:
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			space = true
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteByte(c)
		}
	}
	text := strings.ToValidUTF8(b.String(), "\uFFFD")
	text = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`,
		"&#39;", "'", "&nbsp;", " ").Replace(text)
	return truncate(text, maxExcerptBytes)
}

// throttleWait returns the TimeLeft, in milliseconds, of the throttling
// headers x-ratelimit-user-api and x-ratelimit-user, whichever is longer.
// Their values look like "Limit:100,Remain:0,TimeLeft:2000,Reset:1700000000".
func throttleWait(header http.Header) time.Duration {
	wait := max(timeLeft(header.Get("x-ratelimit-user-api")),
		timeLeft(header.Get("x-ratelimit-user")))
	return time.Duration(wait) * time.Millisecond
}

func timeLeft(value string) int64 {
	for value != "" {
		var field string
		field, value, _ = strings.Cut(value, ",")
		name, number, ok := strings.Cut(field, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "TimeLeft") {
			continue
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(number), 10, 64)
		if err != nil || ms < 0 {
			return 0
		}
		// Cap at a day so a hostile header cannot overflow a Duration.
		return min(ms, int64(24*time.Hour/time.Millisecond))
	}
	return 0
}
