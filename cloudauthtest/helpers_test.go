package cloudauthtest

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The helpers below build signed requests the way a correct client does,
// reusing the verifier's encoding and signing functions, which the
// published vectors pin down.

const (
	testKeyID  = "test-key-id"
	testSecret = "test-key-secret"
	testBiz    = "RPBasic"
	testTicket = "ticket-1"
)

var nonceCounter atomic.Int64

// uniqueNonce returns a nonce no other call in this test binary returns.
func uniqueNonce() string {
	return "nonce-" + strconv.FormatInt(nonceCounter.Add(1), 10)
}

// newTestServer starts a server with the test key and business scenario,
// closed when the test ends.
func newTestServer(t *testing.T) *Server {
	t.Helper()
	srv := NewServer()
	t.Cleanup(srv.Close)
	srv.AddAccessKey(testKeyID, testSecret)
	srv.AddBiz(testBiz)
	return srv
}

// v1Params returns the parameters of a GetStatus request for the ticket,
// unsigned, with a fresh nonce and the current time.
func v1Params(keyID, biz, ticketID string) url.Values {
	return url.Values{
		"Action":           {"GetStatus"},
		"Version":          {"2018-09-16"},
		"RegionId":         {"cn-hangzhou"},
		"Biz":              {biz},
		"TicketId":         {ticketID},
		"Format":           {"JSON"},
		"AccessKeyId":      {keyID},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {uniqueNonce()},
		"Timestamp":        {time.Now().UTC().Format(timestampLayout)},
	}
}

// signV1 sets the Signature parameter for a request sent with method.
func signV1(method, secret string, params url.Values) {
	params.Del("Signature")
	params.Set("Signature", v1Signature(secret, v1StringToSign(method, params)))
}

// newV1Request returns a request carrying params in the query for GET, or
// in a form body for POST.
func newV1Request(t *testing.T, srv *Server, method string, params url.Values) *http.Request {
	t.Helper()
	encoded := canonicalQuery(params)
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequest(method, srv.URL+"/", strings.NewReader(encoded))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, err = http.NewRequest(method, srv.URL+"/?"+encoded, nil)
		require.NoError(t, err)
	}
	return req
}

// v3Request describes a V3-signed request. Zero fields get defaults.
type v3Request struct {
	method        string     // GET by default
	keyID, secret string     // the test key by default
	securityToken string     // sent and signed when set
	query         url.Values // GetStatus for the test ticket by default
	body          string
	contentType   string
	date          time.Time // now by default
	action        string    // GetStatus by default
	version       string    // 2018-09-16 by default
	extraHeaders  http.Header
	// signedHeaders replaces the list of signed headers when set.
	signedHeaders []string
	// afterSigning changes the request once it is signed.
	afterSigning func(req *http.Request)
}

// build returns the signed request for srv.
func (v v3Request) build(t *testing.T, srv *Server) *http.Request {
	t.Helper()
	if v.method == "" {
		v.method = http.MethodGet
	}
	if v.keyID == "" {
		v.keyID, v.secret = testKeyID, testSecret
	}
	if v.query == nil {
		v.query = url.Values{"RegionId": {"cn-hangzhou"}, "Biz": {testBiz}, "TicketId": {testTicket}}
	}
	if v.date.IsZero() {
		v.date = time.Now()
	}
	if v.action == "" {
		v.action = "GetStatus"
	}
	if v.version == "" {
		v.version = "2018-09-16"
	}

	target := srv.URL + "/"
	if len(v.query) > 0 {
		target += "?" + canonicalQuery(v.query)
	}
	req, err := http.NewRequest(v.method, target, strings.NewReader(v.body))
	require.NoError(t, err)
	if v.contentType != "" {
		req.Header.Set("Content-Type", v.contentType)
	}
	req.Header.Set("x-acs-action", v.action)
	req.Header.Set("x-acs-version", v.version)
	req.Header.Set("x-acs-date", v.date.UTC().Format(timestampLayout))
	req.Header.Set("x-acs-signature-nonce", uniqueNonce())
	req.Header.Set("x-acs-content-sha256", hexSHA256([]byte(v.body)))
	if v.securityToken != "" {
		req.Header.Set("x-acs-security-token", v.securityToken)
	}
	for name, values := range v.extraHeaders {
		req.Header[name] = values
	}

	signed := v.signedHeaders
	if signed == nil {
		signed = []string{"host"}
		for name := range req.Header {
			lower := strings.ToLower(name)
			if strings.HasPrefix(lower, "x-acs-") || lower == "content-type" {
				signed = append(signed, lower)
			}
		}
		sort.Strings(signed)
	}
	canonical := v3CanonicalRequest(v.method, "/", v.query, req.Header, req.Host, signed,
		hexSHA256([]byte(v.body)))
	signature := v3Signature(v.secret, v3StringToSign(canonical))
	req.Header.Set("Authorization", v3Algorithm+" Credential="+v.keyID+
		",SignedHeaders="+strings.Join(signed, ";")+",Signature="+signature)

	if v.afterSigning != nil {
		v.afterSigning(req)
	}
	return req
}

// response is a received HTTP response with its body read.
type response struct {
	status int
	header http.Header
	body   string
}

// send sends req and reads the whole response.
func send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// sendWithContext sends req with ctx and returns the transport error.
func sendWithContext(ctx context.Context, req *http.Request) error {
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	return err
}

// getStatusV1 sends a signed V1 GET for the ticket with the test key.
func getStatusV1(t *testing.T, srv *Server, biz, ticketID string) response {
	t.Helper()
	params := v1Params(testKeyID, biz, ticketID)
	signV1(http.MethodGet, testSecret, params)
	return send(t, newV1Request(t, srv, http.MethodGet, params))
}

// jsonSuccess is a decoded JSON GetStatus response body.
type jsonSuccess struct {
	RequestID string `json:"RequestId"`
	Data      struct {
		StatusCode       *int     `json:"StatusCode"`
		SimilarityScore  *float64 `json:"SimilarityScore"`
		AuditConclusions *string  `json:"AuditConclusions"`
	} `json:"Data"`
	Success bool   `json:"Success"`
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func (r response) jsonSuccess(t *testing.T) jsonSuccess {
	t.Helper()
	var body jsonSuccess
	require.NoError(t, json.Unmarshal([]byte(r.body), &body), "body: %s", r.body)
	require.NotNil(t, body.Data.StatusCode, "body: %s", r.body)
	return body
}

func (r response) statusCode(t *testing.T) int {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	return *r.jsonSuccess(t).Data.StatusCode
}

func (r response) jsonError(t *testing.T) errorBody {
	t.Helper()
	var body errorBody
	require.NoError(t, json.Unmarshal([]byte(r.body), &body), "body: %s", r.body)
	return body
}

func (r response) xmlError(t *testing.T) errorBody {
	t.Helper()
	var body errorBody
	require.NoError(t, xml.Unmarshal([]byte(r.body), &body), "body: %s", r.body)
	return body
}
