package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testEndpoint = "https://cloudauth.test"
	testKeyID    = "LTAI-test-key-id"
	testSecret   = "test-secret-value-0123456789"
	testToken    = "STS.test-security-token-abcdef"
)

// fixturesDir holds copies of the API reference's example responses, error
// bodies and published signature vectors, so a clone tests on its own.
var fixturesDir = filepath.Join("testdata", "fixtures")

// readFixture returns a file of the fixtures folder.
func readFixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesDir, name))
	require.NoError(t, err)
	return string(data)
}

// mockServer is an httpmock transport that records the requests it gets.
type mockServer struct {
	transport *httpmock.MockTransport
	mu        sync.Mutex
	requests  []*http.Request
}

// newMockServer responds to every GET to testEndpoint with responder.
func newMockServer(t *testing.T, responder httpmock.Responder) *mockServer {
	t.Helper()
	m := &mockServer{transport: httpmock.NewMockTransport()}
	m.transport.RegisterResponder(http.MethodGet, testEndpoint+"/",
		func(req *http.Request) (*http.Response, error) {
			m.mu.Lock()
			m.requests = append(m.requests, req)
			m.mu.Unlock()
			return responder(req)
		})
	return m
}

func (m *mockServer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.requests)
}

func (m *mockServer) request(i int) *http.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[i]
}

// newTestClient returns a client that sends through m with fast retries.
func newTestClient(t *testing.T, m *mockServer, opts ...Option) *Client {
	t.Helper()
	base := []Option{
		WithEndpoint(testEndpoint),
		WithAccessKey(testKeyID, testSecret),
		WithHTTPClient(&http.Client{Transport: m.transport}),
		WithBackoff(time.Millisecond, 2*time.Millisecond),
	}
	client, err := NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return client
}

// respond returns a responder of a fixed status, body and headers.
func respond(status int, body string, headers ...string) httpmock.Responder {
	return func(req *http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(status, body)
		for i := 0; i+1 < len(headers); i += 2 {
			resp.Header.Set(headers[i], headers[i+1])
		}
		resp.Request = req
		return resp, nil
	}
}

var testRequest = &GetStatusRequest{Biz: "RPBasic", TicketID: "ticket-1"}

func TestGetStatusReferenceExamples(t *testing.T) {
	for _, name := range []string{"getstatus-reference-example.json", "getstatus-reference-example.xml"} {
		t.Run(name, func(t *testing.T) {
			m := newMockServer(t, respond(200, readFixture(t, name), "x-acs-request-id", "hdr-id"))
			resp, err := newTestClient(t, m).GetStatus(context.Background(), testRequest)
			require.NoError(t, err)
			assert.Equal(t, StatusPassed, resp.StatusCode)
			assert.Equal(t, 93.12, resp.SimilarityScore)
			assert.Equal(t, "不通过原因", resp.AuditConclusions)
			assert.Equal(t, "hdr-id", resp.RequestID, "RequestID falls back to the header")
		})
	}
}

func TestGetStatusTolerantBodies(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus StatusCode
		wantScore  float64
		wantText   string
		wantID     string
	}{
		{"quoted numbers", `{"RequestId":"r1","Success":"true","Data":{"StatusCode":"2","SimilarityScore":"41.5","AuditConclusions":"blurred"}}`,
			StatusRejected, 41.5, "blurred", "r1"},
		{"no Success field", `{"Data":{"StatusCode":0}}`, StatusInReview, 0, "", ""},
		{"unknown fields", `{"Extra":{"a":[1,2]},"Data":{"StatusCode":-1,"TrustedScore":99,"New":"x"},"Success":true}`,
			StatusNotSubmitted, 0, "", ""},
		{"lower-case names", `{"requestId":"r2","data":{"statusCode":1,"similarityScore":12}}`,
			StatusPassed, 12, "", "r2"},
		{"byte-order mark", "\xEF\xBB\xBF  {\"Data\":{\"StatusCode\":1}}", StatusPassed, 0, "", ""},
		{"whole float status", `{"Data":{"StatusCode":1.0}}`, StatusPassed, 0, "", ""},
		{"null score", `{"Data":{"StatusCode":1,"SimilarityScore":null,"AuditConclusions":null}}`,
			StatusPassed, 0, "", ""},
		{"empty quoted score", `{"Data":{"StatusCode":1,"SimilarityScore":""}}`, StatusPassed, 0, "", ""},
		{"unknown status", `{"Data":{"StatusCode":3}}`, StatusCode(3), 0, "", ""},
		{"XML quoted spaces", "<R><RequestId>r3</RequestId><Data><StatusCode> 2 </StatusCode>" +
			"<SimilarityScore>7.5</SimilarityScore></Data><Success>true</Success></R>",
			StatusRejected, 7.5, "", "r3"},
		{"XML with BOM", "\xEF\xBB\xBF<?xml version=\"1.0\"?><R><Data><StatusCode>0</StatusCode></Data></R>",
			StatusInReview, 0, "", ""},
		{"XML labelled GBK", "<?xml version=\"1.0\" encoding=\"GBK\"?><R><Data><StatusCode>2</StatusCode>" +
			"<AuditConclusions>照片模糊</AuditConclusions></Data></R>", StatusRejected, 0, "照片模糊", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, respond(200, tt.body))
			resp, err := newTestClient(t, m).GetStatus(context.Background(), testRequest)
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Equal(t, tt.wantScore, resp.SimilarityScore)
			assert.Equal(t, tt.wantText, resp.AuditConclusions)
			assert.Equal(t, tt.wantID, resp.RequestID)
		})
	}
}

func TestStatusCodeMethods(t *testing.T) {
	tests := []struct {
		code    StatusCode
		text    string
		known   bool
		isFinal bool
	}{
		{StatusNotSubmitted, "NotSubmitted", true, false},
		{StatusInReview, "InReview", true, false},
		{StatusPassed, "Passed", true, true},
		{StatusRejected, "Rejected", true, true},
		{StatusCode(3), "StatusCode(3)", false, false},
		{StatusCode(-2), "StatusCode(-2)", false, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.text, tt.code.String())
		assert.Equal(t, tt.known, tt.code.IsKnown(), "IsKnown of %d", int(tt.code))
		assert.Equal(t, tt.isFinal, tt.code.IsFinal(), "IsFinal of %d", int(tt.code))
	}
}

func TestGetStatusUnusableSuccessBodies(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		headers   []string
		wantID    string
		wantCause string
	}{
		{"empty", "", []string{"x-acs-request-id", "hdr-1"}, "hdr-1", "empty"},
		{"blank", " \n\t", nil, "", "empty"},
		{"malformed JSON", `{"Data":{"StatusCode":1`, nil, "", "JSON"},
		{"no Data", `{"RequestId":"body-1","Success":true}`, []string{"x-acs-request-id", "hdr-1"}, "body-1", "no Data"},
		{"null Data", `{"RequestId":"body-2","Data":null}`, nil, "body-2", "no Data"},
		{"no StatusCode", `{"RequestId":"body-3","Data":{"SimilarityScore":1}}`, nil, "body-3", "StatusCode"},
		{"text StatusCode", `{"Data":{"StatusCode":"passed"}}`, nil, "", "invalid integer"},
		{"fractional StatusCode", `{"Data":{"StatusCode":1.5}}`, nil, "", "invalid integer"},
		{"object StatusCode", `{"Data":{"StatusCode":{}}}`, nil, "", "expected a number"},
		{"Data is a string", `{"Data":"x"}`, nil, "", "wrong type"},
		{"array", `[1,2]`, nil, "", "wrong type"},
		{"HTML page", "<html><body>OK</body></html>", nil, "", "HTML"},
		{"plain text", "OK", nil, "", "neither JSON nor XML"},
		{"XML without StatusCode", "<R><Data><Other>1</Other></Data></R>", nil, "", "StatusCode"},
		{"broken XML", "<R><Data><StatusCode>1</Data>", nil, "", "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, respond(200, tt.body, tt.headers...))
			_, err := newTestClient(t, m).GetStatus(context.Background(), testRequest)
			var respErr *ResponseError
			require.ErrorAs(t, err, &respErr)
			assert.Equal(t, 200, respErr.HTTPStatusCode)
			assert.Equal(t, tt.wantID, respErr.RequestID)
			assert.Contains(t, err.Error(), tt.wantCause)
			assert.Equal(t, strings.TrimSpace(tt.body), strings.TrimSpace(respErr.Excerpt))
			var apiErr *APIError
			assert.False(t, errors.As(err, &apiErr), "a ResponseError is not an APIError")
			assert.Equal(t, 1, m.count(), "an unusable 2xx answer is not retried")
		})
	}
}

func TestGetStatusLongExcerptIsCut(t *testing.T) {
	body := `{"Data":"` + strings.Repeat("界", 300) + `"}`
	m := newMockServer(t, respond(200, body))
	_, err := newTestClient(t, m).GetStatus(context.Background(), testRequest)
	var respErr *ResponseError
	require.ErrorAs(t, err, &respErr)
	assert.LessOrEqual(t, len(respErr.Excerpt), maxExcerptBytes+len("…"))
	assert.True(t, strings.HasSuffix(respErr.Excerpt, "…"))
	assert.NotContains(t, respErr.Excerpt, "\uFFFD", "the excerpt is cut at a rune boundary")
}

func TestGetStatusSuccessFalseIsAPIError(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"JSON", `{"RequestId":"r9","Success":false,"Code":"Error.NoPermissionAccess","Message":"no permission","Data":{"StatusCode":1}}`},
		{"quoted false", `{"RequestId":"r9","Success":"false","Code":"Error.NoPermissionAccess","Message":"no permission"}`},
		{"XML", `<R><RequestId>r9</RequestId><Success>false</Success><Code>Error.NoPermissionAccess</Code><Message>no permission</Message></R>`},
		{"code without Data", `{"RequestId":"r9","Code":"Error.NoPermissionAccess","Message":"no permission"}`},
		{"code with Data", `{"RequestId":"r9","Code":"Error.NoPermissionAccess","Message":"no permission","Data":{"StatusCode":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, respond(200, tt.body))
			_, err := newTestClient(t, m).GetStatus(context.Background(), testRequest)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, 200, apiErr.HTTPStatusCode)
			assert.Equal(t, "Error.NoPermissionAccess", apiErr.Code)
			assert.Equal(t, "no permission", apiErr.Message)
			assert.Equal(t, "r9", apiErr.RequestID)
			assert.ErrorIs(t, err, ErrNoPermission)
			assert.Equal(t, 1, m.count())
		})
	}
}

func TestGetStatusErrorBodies(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		headers    []string
		want       APIError
		wantTarget error
	}{
		{"JSON fixture", 400, readFixture(t, "error-invalid-biz.json"), nil, APIError{
			HTTPStatusCode: 400, Code: "InvalidParam.InvalidBiz", Message: "The biz is not valid.",
			RequestID: "5C2C2A0B-0000-4000-8000-00000000B12F", HostID: "cloudauth.aliyuncs.com",
			Recommend: "https://api.aliyun.com/troubleshoot?q=InvalidParam.InvalidBiz",
		}, ErrInvalidBiz},
		{"XML fixture", 400, readFixture(t, "error-invalid-biz.xml"), nil, APIError{
			HTTPStatusCode: 400, Code: "InvalidParam.InvalidBiz", Message: "The biz is not valid.",
			RequestID: "5C2C2A0B-0000-4000-8000-00000000B12F", HostID: "cloudauth.aliyuncs.com",
		}, ErrInvalidBiz},
		{"missing parameter", 400, `{"Code":"InvalidParam.ParamMissing","Message":"Biz is mandatory"}`,
			[]string{"x-acs-request-id", "hdr-2"},
			APIError{HTTPStatusCode: 400, Code: "InvalidParam.ParamMissing", Message: "Biz is mandatory",
				RequestID: "hdr-2"}, ErrParamMissing},
		{"no permission", 403, `{"Code":"Error.NoPermissionAccess","Message":"denied","RequestId":"r"}`, nil,
			APIError{HTTPStatusCode: 403, Code: "Error.NoPermissionAccess", Message: "denied", RequestID: "r"},
			ErrNoPermission},
		{"numeric fields", 400, `{"RequestId":12345,"Code":400,"Message":["a"],"HostId":true,"Recommend":null}`, nil,
			APIError{HTTPStatusCode: 400, Code: "400", RequestID: "12345", HostID: "true"}, nil},
		{"malformed JSON", 400, `{"Code":"Oops",`, nil,
			APIError{HTTPStatusCode: 400, Message: `{"Code":"Oops",`}, nil},
		{"lower-case JSON", 400, `{"code":"InvalidParam.InvalidBiz","message":"bad biz","requestId":"r5"}`, nil,
			APIError{HTTPStatusCode: 400, Code: "InvalidParam.InvalidBiz", Message: "bad biz", RequestID: "r5"},
			ErrInvalidBiz},
		{"XML error with BOM", 404, "\xEF\xBB\xBF<Error><Code>InvalidAccessKeyId.NotFound</Code><Message>no key</Message></Error>",
			[]string{"x-acs-request-id", "hdr-3"},
			APIError{HTTPStatusCode: 404, Code: "InvalidAccessKeyId.NotFound", Message: "no key", RequestID: "hdr-3"}, nil},
		{"HTML gateway page", 403, "<!DOCTYPE html>\n<html><head><title>403 Forbidden</title><style>b{}</style></head>" +
			"<body><h1>Forbidden</h1><p>Access &amp; denied</p><script>var x=1;</script></body></html>", nil,
			APIError{HTTPStatusCode: 403, Message: "403 Forbidden Forbidden Access & denied"}, nil},
		{"empty body", 404, "", []string{"x-acs-request-id", "hdr-4"},
			APIError{HTTPStatusCode: 404, RequestID: "hdr-4"}, nil},
		{"plain text", 400, "Bad request, check the query", nil,
			APIError{HTTPStatusCode: 400, Message: "Bad request, check the query"}, nil},
		{"redirect", 302, "", []string{"Location", "https://elsewhere.test/"},
			APIError{HTTPStatusCode: 302}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, respond(tt.status, tt.body, tt.headers...))
			_, err := newTestClient(t, m).GetStatus(context.Background(), testRequest)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			got := *apiErr
			got.retryAfter, got.serverTime = 0, time.Time{}
			assert.Equal(t, tt.want, got)
			if tt.wantTarget != nil {
				assert.ErrorIs(t, err, tt.wantTarget)
			}
			for _, sentinel := range []error{ErrInternal, ErrParamMissing, ErrNoPermission, ErrInvalidBiz} {
				if sentinel != tt.wantTarget {
					assert.NotErrorIs(t, err, sentinel)
				}
			}
			assert.Equal(t, 1, m.count(), "a 4xx or 3xx answer is not retried")
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	err := &APIError{HTTPStatusCode: 400, Code: "InvalidParam.InvalidBiz", Message: "The biz is not valid.",
		RequestID: "r1"}
	assert.Equal(t, "cloudauth: InvalidParam.InvalidBiz (HTTP 400): The biz is not valid. (request id r1)",
		err.Error())
	assert.Equal(t, "cloudauth: request failed (HTTP 502 Bad Gateway)", (&APIError{HTTPStatusCode: 502}).Error())
	assert.True(t, (&APIError{HTTPStatusCode: 400, Code: "Throttling.User"}).Temporary())
	assert.True(t, (&APIError{HTTPStatusCode: 503, Code: "ServiceUnavailable"}).Temporary())
	assert.False(t, (&APIError{HTTPStatusCode: 400, Code: "InvalidParam.InvalidBiz"}).Temporary())
	assert.False(t, (&APIError{HTTPStatusCode: 400, Code: "ThrottlingX"}).Throttled())
}

func TestGetStatusRejectsBadRequestsWithoutSending(t *testing.T) {
	tests := []struct {
		name string
		req  *GetStatusRequest
		want string
	}{
		{"nil request", nil, "request is nil"},
		{"empty Biz", &GetStatusRequest{TicketID: "t"}, "Biz"},
		{"blank Biz", &GetStatusRequest{Biz: " \t", TicketID: "t"}, "Biz"},
		{"empty TicketID", &GetStatusRequest{Biz: "RPBasic"}, "TicketID"},
		{"blank TicketID", &GetStatusRequest{Biz: "RPBasic", TicketID: "\n"}, "TicketID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, respond(200, `{"Data":{"StatusCode":1}}`))
			_, err := newTestClient(t, m).GetStatus(context.Background(), tt.req)
			require.ErrorIs(t, err, ErrParamMissing)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 0, m.count(), "nothing is sent")
		})
	}
}

func TestGetStatusRequestParameters(t *testing.T) {
	m := newMockServer(t, respond(200, `{"Data":{"StatusCode":1}}`))
	client := newTestClient(t, m, WithRegion("cn-shanghai"), WithFormat(FormatXML), WithUserAgent("onboarding/2.1"))
	_, err := client.GetStatus(context.Background(), &GetStatusRequest{Biz: "RP Basic", TicketID: "a+b*c~"})
	require.NoError(t, err)

	req := m.request(0)
	assert.Equal(t, http.MethodGet, req.Method)
	assert.Equal(t, "/", req.URL.Path)
	q := req.URL.Query()
	assert.Equal(t, "GetStatus", q.Get("Action"))
	assert.Equal(t, APIVersion, q.Get("Version"))
	assert.Equal(t, "cn-shanghai", q.Get("RegionId"))
	assert.Equal(t, "RP Basic", q.Get("Biz"))
	assert.Equal(t, "a+b*c~", q.Get("TicketId"))
	assert.Equal(t, "XML", q.Get("Format"))
	assert.Equal(t, testKeyID, q.Get("AccessKeyId"))
	assert.Equal(t, "HMAC-SHA1", q.Get("SignatureMethod"))
	assert.Equal(t, "1.0", q.Get("SignatureVersion"))
	assert.Len(t, q.Get("SignatureNonce"), 32, "a 128-bit nonce in hex")
	assert.Empty(t, q.Get("SecurityToken"))
	assert.Contains(t, req.URL.RawQuery, "Biz=RP%20Basic", "a space is %20")
	assert.Contains(t, req.URL.RawQuery, "TicketId=a%2Bb%2Ac~")
	assert.Equal(t, "application/xml", req.Header.Get("Accept"))
	assert.Regexp(t, `^cloudauth-go/`+Version+` \(go[^;]+; [a-z0-9]+/[a-z0-9]+\) onboarding/2\.1$`,
		req.Header.Get("User-Agent"))

	signature := q.Get("Signature")
	q.Del("Signature")
	assert.Equal(t, SignV1(http.MethodGet, q, testSecret), signature)
}

func TestGetStatusTimestampIsUTC(t *testing.T) {
	saved := time.Local
	time.Local = time.FixedZone("UTC+8", 8*3600)
	defer func() { time.Local = saved }()

	m := newMockServer(t, respond(200, `{"Data":{"StatusCode":1}}`))
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	client := newTestClient(t, m)
	client.now = func() time.Time { return fixed }
	_, err := client.GetStatus(context.Background(), testRequest)
	require.NoError(t, err)
	assert.Equal(t, "2026-01-01T19:04:05Z", m.request(0).URL.Query().Get("Timestamp"))
}

func TestGetStatusSecurityToken(t *testing.T) {
	m := newMockServer(t, respond(200, `{"Data":{"StatusCode":1}}`))
	client := newTestClient(t, m)
	client.credentials = NewStaticCredentialsProvider(testKeyID, testSecret, testToken)
	_, err := client.GetStatus(context.Background(), testRequest)
	require.NoError(t, err)
	q := m.request(0).URL.Query()
	assert.Equal(t, testToken, q.Get("SecurityToken"))
	signature := q.Get("Signature")
	q.Del("Signature")
	assert.Equal(t, SignV1(http.MethodGet, q, testSecret), signature, "the token is signed")
}

func TestGetStatusRetries(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         string
		wantAttempts int
		wantRetried  bool
	}{
		{"internal error", 500, `{"Code":"Error.InternalError","Message":"boom"}`, 3, true},
		{"HTML bad gateway", 502, "<html><body>502 Bad Gateway</body></html>", 3, true},
		{"empty 503", 503, "", 3, true},
		{"throttling", 400, `{"Code":"Throttling.User","Message":"slow down"}`, 3, true},
		{"plain throttling", 400, `{"Code":"Throttling","Message":"slow down"}`, 3, true},
		{"service unavailable", 400, `{"Code":"ServiceUnavailable"}`, 3, true},
		{"invalid biz", 400, `{"Code":"InvalidParam.InvalidBiz"}`, 1, false},
		{"no permission", 403, `{"Code":"Error.NoPermissionAccess"}`, 1, false},
		{"bad signature", 400, `{"Code":"SignatureDoesNotMatch"}`, 1, false},
		{"not found", 404, ``, 1, false},
		{"gateway 429", 429, "Too many requests, slow down", 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, respond(tt.status, tt.body))
			_, err := newTestClient(t, m).GetStatus(context.Background(), testRequest)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr, "the last failure is reachable")
			assert.Equal(t, tt.status, apiErr.HTTPStatusCode)
			assert.Equal(t, tt.wantAttempts, m.count())
			if tt.wantRetried {
				assert.Contains(t, err.Error(), "failed after 3 attempts")
			} else {
				assert.NotContains(t, err.Error(), "attempts")
			}
		})
	}
}

func TestGetStatusRetryThenSuccessSignsEachAttempt(t *testing.T) {
	var calls atomic.Int32
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		if calls.Add(1) < 3 {
			return respond(503, `{"Code":"ServiceUnavailable"}`)(req)
		}
		return respond(200, `{"Data":{"StatusCode":1}}`)(req)
	})
	client := newTestClient(t, m)
	tick := time.Date(2026, 5, 6, 7, 8, 0, 0, time.UTC)
	var mu sync.Mutex
	client.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		tick = tick.Add(time.Second)
		return tick
	}
	resp, err := client.GetStatus(context.Background(), testRequest)
	require.NoError(t, err)
	assert.Equal(t, StatusPassed, resp.StatusCode)
	require.Equal(t, 3, m.count())

	seen := map[string]map[string]bool{"SignatureNonce": {}, "Timestamp": {}, "Signature": {}}
	for i := 0; i < 3; i++ {
		q := m.request(i).URL.Query()
		for name := range seen {
			seen[name][q.Get(name)] = true
		}
	}
	for name, values := range seen {
		assert.Len(t, values, 3, "each attempt has its own %s", name)
	}
}

func TestGetStatusMaxAttemptsOne(t *testing.T) {
	m := newMockServer(t, respond(503, ""))
	_, err := newTestClient(t, m, WithMaxAttempts(1)).GetStatus(context.Background(), testRequest)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 1, m.count())
}

// cancelOnRetry is a slog.Handler that cancels a context when the client
// logs a retry, which happens just before the backoff starts.
type cancelOnRetry struct {
	slog.Handler
	cancel context.CancelFunc
}

func (h cancelOnRetry) Handle(_ context.Context, record slog.Record) error {
	if record.Message == "cloudauth: retrying" {
		h.cancel()
	}
	return nil
}

func TestGetStatusCancelDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(cancelOnRetry{Handler: slog.NewTextHandler(io.Discard, nil), cancel: cancel})
	m := newMockServer(t, respond(503, `{"Code":"ServiceUnavailable"}`))
	client := newTestClient(t, m, WithBackoff(time.Hour, time.Hour), WithMaxAttempts(5), WithLogger(logger))

	_, err := client.GetStatus(ctx, testRequest)
	require.ErrorIs(t, err, context.Canceled)
	var apiErr *APIError
	assert.ErrorAs(t, err, &apiErr, "the last failure is still reachable")
	assert.Equal(t, 1, m.count())
	assert.Contains(t, err.Error(), "stopped after 1 attempt")
}

func TestGetStatusDeadlineShorterThanBackoff(t *testing.T) {
	m := newMockServer(t, respond(503, `{"Code":"ServiceUnavailable"}`))
	client := newTestClient(t, m, WithBackoff(time.Hour, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.GetStatus(ctx, testRequest)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "ServiceUnavailable", apiErr.Code)
	assert.Equal(t, 1, m.count(), "no sleep can end before the deadline")
}

func TestGetStatusContextAlreadyCancelled(t *testing.T) {
	m := newMockServer(t, respond(200, `{"Data":{"StatusCode":1}}`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newTestClient(t, m).GetStatus(ctx, testRequest)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, m.count())
}

func TestGetStatusTransportErrorHidesQuery(t *testing.T) {
	failing := httpmock.NewMockTransport()
	failing.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("dial failed for %s", req.URL.String())
	})
	client, err := NewClient(WithEndpoint(testEndpoint), WithAccessKey(testKeyID, testSecret),
		WithHTTPClient(&http.Client{Transport: failing}), WithBackoff(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	client.credentials = NewStaticCredentialsProvider(testKeyID, testSecret, testToken)

	_, err = client.GetStatus(context.Background(), testRequest)
	require.Error(t, err)
	text := err.Error()
	assert.Contains(t, text, "failed after 3 attempts")
	assert.Contains(t, text, "GET https://cloudauth.test/")
	assert.NotContains(t, text, "Signature=")
	assert.NotContains(t, text, "SecurityToken")
	assert.NotContains(t, text, testToken)
	assert.NotContains(t, text, "AccessKeyId")
	var urlErr *url.Error
	assert.False(t, errors.As(err, &urlErr), "no *url.Error with the signed URL is reachable")
}

func TestGetStatusRedactsEchoedSecrets(t *testing.T) {
	stringToSign := "GET&%2F&AccessKeyId%3D" + testKeyID + "%26SecurityToken%3D" + PercentEncode(PercentEncode(testToken))
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		signature := req.URL.Query().Get("Signature")
		body := fmt.Sprintf(`{"Code":"SignatureDoesNotMatch","Message":"server string to sign is:%s, token %s, secret %s, signature %s","Recommend":"%s"}`,
			stringToSign, testToken, testSecret, signature, url.QueryEscape(signature))
		return respond(400, body)(req)
	})
	client := newTestClient(t, m)
	client.credentials = NewStaticCredentialsProvider(testKeyID, testSecret, testToken)
	_, err := client.GetStatus(context.Background(), testRequest)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	signature := m.request(0).URL.Query().Get("Signature")
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", apiErr)} {
		assert.NotContains(t, text, testToken)
		assert.NotContains(t, text, PercentEncode(testToken))
		assert.NotContains(t, text, testSecret)
		assert.NotContains(t, text, signature)
		assert.NotContains(t, text, PercentEncode(signature))
		assert.Contains(t, text, "[REDACTED]")
	}
}

func TestGetStatusBodySizeLimit(t *testing.T) {
	large := `{"Data":{"StatusCode":1,"AuditConclusions":"` + strings.Repeat("x", 4096) + `"}}`
	t.Run("2xx", func(t *testing.T) {
		m := newMockServer(t, respond(200, large))
		_, err := newTestClient(t, m, WithMaxResponseBytes(1024)).GetStatus(context.Background(), testRequest)
		var respErr *ResponseError
		require.ErrorAs(t, err, &respErr)
		assert.ErrorIs(t, err, errBodyTooLarge)
	})
	t.Run("5xx", func(t *testing.T) {
		m := newMockServer(t, respond(503, strings.Repeat("y", 4096)))
		_, err := newTestClient(t, m, WithMaxResponseBytes(1024)).GetStatus(context.Background(), testRequest)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 503, apiErr.HTTPStatusCode)
	})
	t.Run("unknown length", func(t *testing.T) {
		m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
			resp := httpmock.NewStringResponse(200, large)
			resp.ContentLength = -1
			return resp, nil
		})
		_, err := newTestClient(t, m, WithMaxResponseBytes(1024)).GetStatus(context.Background(), testRequest)
		assert.ErrorIs(t, err, errBodyTooLarge)
	})
}

// trackingBody records how much of a body was read and whether it was closed.
type trackingBody struct {
	reader io.Reader
	read   int
	closed bool
}

func (b *trackingBody) Read(p []byte) (int, error) {
	n, err := b.reader.Read(p)
	b.read += n
	return n, err
}

func (b *trackingBody) Close() error {
	b.closed = true
	return nil
}

func TestGetStatusDrainsAndClosesBodies(t *testing.T) {
	var bodies []*trackingBody
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		body := &trackingBody{reader: strings.NewReader(strings.Repeat("z", 200<<10))}
		bodies = append(bodies, body)
		return &http.Response{StatusCode: 400, Header: http.Header{}, Body: body, ContentLength: -1, Request: req}, nil
	})
	_, err := newTestClient(t, m, WithMaxResponseBytes(1024)).GetStatus(context.Background(), testRequest)
	require.Error(t, err)
	require.Len(t, bodies, 1)
	assert.True(t, bodies[0].closed)
	assert.Equal(t, 1025+maxDrainBytes, bodies[0].read, "reads the cap plus one byte, then drains at most 64 KiB")
}

func TestNewClientRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"zero attempts", WithMaxAttempts(0), "WithMaxAttempts(0)"},
		{"nil HTTP client", WithHTTPClient(nil), "WithHTTPClient"},
		{"endpoint path", WithEndpoint("https://cloudauth.aliyuncs.com/v1"), `the path "/v1"`},
		{"endpoint query", WithEndpoint("https://cloudauth.aliyuncs.com/?a=b"), "query"},
		{"endpoint scheme", WithEndpoint("cloudauth.aliyuncs.com"), "scheme"},
		{"endpoint fragment", WithEndpoint("https://cloudauth.aliyuncs.com#x"), "fragment"},
		{"endpoint password", WithEndpoint("https://user:hunter2@cloudauth.aliyuncs.com"), "user name"},
		{"endpoint invalid", WithEndpoint("http://[::1"), "not a valid URL"},
		{"endpoint IPv6 zone", WithEndpoint("http://[fe80::1%25lo]:8080"), "IPv6 zone"},
		{"endpoint non-ASCII host", WithEndpoint("https://bücher.test"), "punycode"},
		{"empty region", WithRegion(""), "WithRegion"},
		{"bad region", WithRegion("cn hangzhou"), "WithRegion"},
		{"bad format", WithFormat("YAML"), "WithFormat"},
		{"nil logger", WithLogger(nil), "WithLogger"},
		{"empty key id", WithAccessKey("", "secret"), "WithAccessKey"},
		{"empty secret", WithAccessKey("id", ""), "WithAccessKey"},
		{"nil provider", WithCredentials(nil), "WithCredentials"},
		{"empty user agent", WithUserAgent(" "), "WithUserAgent"},
		{"control user agent", WithUserAgent("a\nb"), "WithUserAgent"},
		{"small body limit", WithMaxResponseBytes(10), "WithMaxResponseBytes"},
		{"inverted backoff", WithBackoff(time.Second, time.Millisecond), "WithBackoff"},
		{"negative timeout", WithAttemptTimeout(-time.Second), "WithAttemptTimeout"},
		{"bad signature version", WithSignatureVersion(2), "WithSignatureVersion"},
		{"nil option", nil, "option 0 is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := NewClient(tt.opt)
			require.Error(t, err)
			assert.Nil(t, client)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}

	_, err := NewClient(WithAccessKey("id", "s"), WithCredentials(NewStaticCredentialsProvider("a", "b", "")))
	assert.ErrorContains(t, err, "already set by WithAccessKey")
}

func TestNewClientNormalizesEndpoint(t *testing.T) {
	for _, endpoint := range []string{"https://cloudauth.test", "https://cloudauth.test/", " https://cloudauth.test\n",
		"HTTPS://cloudauth.test"} {
		client, err := NewClient(WithEndpoint(endpoint), WithAccessKey(testKeyID, testSecret))
		require.NoError(t, err)
		assert.Equal(t, "https://cloudauth.test/", client.endpoint)
	}
}

func TestNewClientDefaultTransport(t *testing.T) {
	client, err := NewClient(WithAccessKey(testKeyID, testSecret))
	require.NoError(t, err)
	transport, ok := client.httpClient.Transport.(*http.Transport)
	require.True(t, ok)
	assert.NotSame(t, http.DefaultTransport, transport)
	assert.True(t, transport.ForceAttemptHTTP2)
	assert.NotNil(t, transport.Proxy)
	assert.Equal(t, defaultMaxIdleConnsPerHost, transport.MaxIdleConnsPerHost)
	assert.Equal(t, defaultTLSHandshakeTimeout, transport.TLSHandshakeTimeout)
	assert.Equal(t, defaultResponseHeaderTimeout, transport.ResponseHeaderTimeout)
	assert.EqualValues(t, 0x0303, transport.TLSClientConfig.MinVersion, "TLS 1.2 or newer")
	assert.NotNil(t, client.httpClient.CheckRedirect)
	assert.Equal(t, DefaultEndpoint+"/", client.endpoint)
	assert.Equal(t, DefaultRegion, client.region)
	assert.Equal(t, DefaultMaxAttempts, client.maxAttempts)
}

func TestWithHTTPClientIsCopied(t *testing.T) {
	user := &http.Client{Timeout: time.Second}
	client, err := NewClient(WithAccessKey(testKeyID, testSecret), WithHTTPClient(user))
	require.NoError(t, err)
	assert.Nil(t, user.CheckRedirect, "the caller's client is not changed")
	assert.NotSame(t, user, client.httpClient)
	assert.Equal(t, time.Second, client.httpClient.Timeout)
	assert.NotNil(t, client.httpClient.CheckRedirect)
}

func TestPrintedValuesHideSecrets(t *testing.T) {
	creds := Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret, SecurityToken: testToken,
		Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	provider := NewStaticCredentialsProvider(testKeyID, testSecret, testToken)
	client, err := NewClient(WithCredentials(provider), WithEndpoint(testEndpoint))
	require.NoError(t, err)

	values := []any{creds, &creds, provider, client, CredentialsProviderFunc(nil)}
	for _, value := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			text := fmt.Sprintf(verb, value)
			assert.NotContains(t, text, testSecret, "%s of %T", verb, value)
			assert.NotContains(t, text, testToken, "%s of %T", verb, value)
		}
	}
	assert.Contains(t, fmt.Sprintf("%+v", creds), testKeyID)
	assert.Contains(t, fmt.Sprintf("%v", creds), "[REDACTED]")
	assert.Contains(t, fmt.Sprintf("%v", client), "cloudauth.test")
	assert.Contains(t, fmt.Sprintf("%#v", creds), "cloudauth.Credentials{")
}

func TestGetStatusSignatureV3Request(t *testing.T) {
	m := newMockServer(t, respond(200, `{"Data":{"StatusCode":1}}`))
	client := newTestClient(t, m, WithSignatureVersion(SignatureV3), WithFormat(FormatXML))
	client.credentials = NewStaticCredentialsProvider(testKeyID, testSecret, testToken)
	_, err := client.GetStatus(context.Background(), &GetStatusRequest{Biz: "RP Basic", TicketID: "t*1"})
	require.NoError(t, err)

	req := m.request(0)
	q := req.URL.Query()
	assert.Equal(t, url.Values{"Biz": {"RP Basic"}, "TicketId": {"t*1"}, "Format": {"XML"}, "RegionId": {DefaultRegion}}, q,
		"only the API's parameters travel in the query")
	assert.Equal(t, "Biz=RP%20Basic&Format=XML&RegionId=cn-hangzhou&TicketId=t%2A1", req.URL.RawQuery)
	assert.Equal(t, "GetStatus", req.Header.Get("x-acs-action"))
	assert.Equal(t, APIVersion, req.Header.Get("x-acs-version"))
	assert.Equal(t, HashPayloadV3(nil), req.Header.Get("x-acs-content-sha256"))
	assert.Equal(t, testToken, req.Header.Get("x-acs-security-token"))
	assert.Len(t, req.Header.Get("x-acs-signature-nonce"), 32)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, req.Header.Get("x-acs-date"))
	assert.Equal(t, "application/xml", req.Header.Get("Accept"))

	signed := req.Header.Clone()
	signed.Del("Authorization")
	signed.Set("host", req.URL.Host)
	want := SignV3(http.MethodGet, "/", q, signed, HashPayloadV3(nil), testKeyID, testSecret)
	assert.Equal(t, want, req.Header.Get("Authorization"))
	assert.Contains(t, want, "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;"+
		"x-acs-security-token;x-acs-signature-nonce;x-acs-version,")
}

func TestClientCachesExpiringCredentials(t *testing.T) {
	var retrievals atomic.Int32
	provider := CredentialsProviderFunc(func(context.Context) (Credentials, error) {
		retrievals.Add(1)
		return Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret, SecurityToken: testToken,
			Expires: time.Now().Add(time.Hour)}, nil
	})
	m := newMockServer(t, respond(200, `{"Data":{"StatusCode":1}}`))
	client, err := NewClient(WithEndpoint(testEndpoint), WithCredentials(provider),
		WithHTTPClient(&http.Client{Transport: m.transport}))
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		_, err := client.GetStatus(context.Background(), testRequest)
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), retrievals.Load())
	assert.Equal(t, testToken, m.request(4).URL.Query().Get("SecurityToken"))
}

func TestClientCredentialsFailureIsNotSent(t *testing.T) {
	provider := CredentialsProviderFunc(func(context.Context) (Credentials, error) {
		return Credentials{}, errors.New("vault is sealed")
	})
	m := newMockServer(t, respond(200, `{"Data":{"StatusCode":1}}`))
	client, err := NewClient(WithEndpoint(testEndpoint), WithCredentials(provider),
		WithHTTPClient(&http.Client{Transport: m.transport}))
	require.NoError(t, err)
	_, err = client.GetStatus(context.Background(), testRequest)
	require.ErrorContains(t, err, "retrieving credentials: vault is sealed")
	assert.Equal(t, 0, m.count())
}

func TestNewRequestV3HeadersIndependent(t *testing.T) {
	// The V3 header values share one backing array, so adding a value to
	// one header must leave every other header unchanged.
	client, err := NewClient(WithAccessKey(testKeyID, testSecret), WithEndpoint(testEndpoint),
		WithSignatureVersion(SignatureV3))
	require.NoError(t, err)
	creds := Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret, SecurityToken: testToken}
	req, _, err := client.newRequest(context.Background(), "GetStatus",
		[]queryParam{{"Biz", "RPBasic"}, {"TicketId", "t1"}}, creds)
	require.NoError(t, err)

	before := req.Header.Clone()
	for key := range before {
		req.Header.Add(key, "added")
	}
	for key, values := range before {
		want := append(append([]string(nil), values...), "added")
		assert.Equal(t, want, req.Header[key], key)
	}
}
