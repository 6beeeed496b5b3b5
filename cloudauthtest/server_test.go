package cloudauthtest

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudauth-go/cloudauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var requestIDPattern = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

func TestNewServerListensOnLoopback(t *testing.T) {
	srv := NewServer()
	defer srv.Close()

	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, "http", u.Scheme)
	assert.Equal(t, "127.0.0.1", u.Hostname())
}

func TestServerClient(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodGet, testSecret, params)

	resp, err := srv.Client().Do(newV1Request(t, srv, http.MethodGet, params))
	require.NoError(t, err)
	defer resp.Body.Close()

	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestGetStatusJSONSuccess(t *testing.T) {
	srv := newTestServer(t)
	srv.SetTicket(testBiz, testTicket, TicketState{
		Status:           cloudauth.StatusRejected,
		SimilarityScore:  41.5,
		AuditConclusions: "ID photo is blurred",
	})

	resp := getStatusV1(t, srv, testBiz, testTicket)

	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	assert.Equal(t, "application/json;charset=utf-8", resp.header.Get("Content-Type"))
	body := resp.jsonSuccess(t)
	assert.Equal(t, resp.header.Get("x-acs-request-id"), body.RequestID)
	assert.Regexp(t, requestIDPattern, body.RequestID)
	assert.Equal(t, int(cloudauth.StatusRejected), *body.Data.StatusCode)
	require.NotNil(t, body.Data.SimilarityScore)
	assert.Equal(t, 41.5, *body.Data.SimilarityScore)
	require.NotNil(t, body.Data.AuditConclusions)
	assert.Equal(t, "ID photo is blurred", *body.Data.AuditConclusions)
	assert.True(t, body.Success)
	assert.Equal(t, "1", body.Code)
	assert.Equal(t, "success", body.Message)

	date, err := http.ParseTime(resp.header.Get("Date"))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), date, time.Minute)
}

func TestGetStatusJSONOmitsUnsetFields(t *testing.T) {
	srv := newTestServer(t)
	srv.SetTicket(testBiz, testTicket, TicketState{Status: cloudauth.StatusInReview})

	resp := getStatusV1(t, srv, testBiz, testTicket)

	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	body := resp.jsonSuccess(t)
	assert.Equal(t, 0, *body.Data.StatusCode)
	assert.Nil(t, body.Data.SimilarityScore)
	assert.Nil(t, body.Data.AuditConclusions)
}

func TestGetStatusXMLSuccess(t *testing.T) {
	srv := newTestServer(t)
	conclusions := `Photo <blurred> & "mismatching" data`
	srv.SetTicket(testBiz, testTicket, TicketState{
		Status:           cloudauth.StatusPassed,
		SimilarityScore:  93.12,
		AuditConclusions: conclusions,
	})
	params := v1Params(testKeyID, testBiz, testTicket)
	params.Set("Format", "XML")
	signV1(http.MethodGet, testSecret, params)

	resp := send(t, newV1Request(t, srv, http.MethodGet, params))

	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	assert.Equal(t, "text/xml;charset=utf-8", resp.header.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(resp.body, "<?xml version='1.0' encoding='UTF-8'?>"), resp.body)
	assert.NotContains(t, resp.body, "<blurred>")
	var body struct {
		XMLName   xml.Name `xml:"GetStatusResponse"`
		RequestID string   `xml:"RequestId"`
		Data      struct {
			StatusCode       int     `xml:"StatusCode"`
			SimilarityScore  float64 `xml:"SimilarityScore"`
			AuditConclusions string  `xml:"AuditConclusions"`
		} `xml:"Data"`
		Success bool   `xml:"Success"`
		Code    string `xml:"Code"`
	}
	require.NoError(t, xml.Unmarshal([]byte(resp.body), &body))
	assert.Equal(t, resp.header.Get("x-acs-request-id"), body.RequestID)
	assert.Equal(t, 1, body.Data.StatusCode)
	assert.Equal(t, 93.12, body.Data.SimilarityScore)
	assert.Equal(t, conclusions, body.Data.AuditConclusions)
	assert.True(t, body.Success)
	assert.Equal(t, "1", body.Code)
}

func TestGetStatusFormatIsCaseInsensitive(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	params.Set("Format", "xml")
	signV1(http.MethodGet, testSecret, params)

	resp := send(t, newV1Request(t, srv, http.MethodGet, params))

	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	assert.Equal(t, "text/xml;charset=utf-8", resp.header.Get("Content-Type"))
}

func TestGetStatusV1Post(t *testing.T) {
	srv := newTestServer(t)
	srv.SetTicket(testBiz, testTicket, TicketState{Status: cloudauth.StatusPassed})
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodPost, testSecret, params)

	resp := send(t, newV1Request(t, srv, http.MethodPost, params))

	assert.Equal(t, int(cloudauth.StatusPassed), resp.statusCode(t))
}

func TestGetStatusV1PostSplitParameters(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodPost, testSecret, params)
	query := url.Values{}
	for _, name := range []string{"Action", "Version", "Signature", "AccessKeyId"} {
		query[name] = params[name]
		params.Del(name)
	}
	req := newV1Request(t, srv, http.MethodPost, params)
	req.URL.RawQuery = canonicalQuery(query)

	resp := send(t, req)

	assert.Equal(t, int(cloudauth.StatusNotSubmitted), resp.statusCode(t))
}

func TestGetStatusV1GetSignedAsPostRejected(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodPost, testSecret, params)

	resp := send(t, newV1Request(t, srv, http.MethodGet, params))

	require.Equal(t, http.StatusBadRequest, resp.status)
	body := resp.jsonError(t)
	assert.Equal(t, "SignatureDoesNotMatch", body.Code)
	assert.Contains(t, body.Message, "server string to sign is:GET&%2F&")
}

func TestGetStatusV1WithSTSCredentials(t *testing.T) {
	srv := newTestServer(t)
	srv.AddSTSCredentials("STS.id", "sts-secret", "token-1")
	params := v1Params("STS.id", testBiz, testTicket)
	params.Set("SecurityToken", "token-1")
	signV1(http.MethodGet, "sts-secret", params)

	resp := send(t, newV1Request(t, srv, http.MethodGet, params))

	assert.Equal(t, int(cloudauth.StatusNotSubmitted), resp.statusCode(t))
}

func TestGetStatusV3(t *testing.T) {
	srv := newTestServer(t)
	srv.SetTicket(testBiz, testTicket, TicketState{Status: cloudauth.StatusPassed, SimilarityScore: 88})
	srv.AddSTSCredentials("STS.id", "sts-secret", "token-1")

	tests := []struct {
		name    string
		request v3Request
	}{
		{"GET", v3Request{}},
		{"POST empty body", v3Request{method: http.MethodPost}},
		{"POST form body", v3Request{
			method:      http.MethodPost,
			query:       url.Values{"RegionId": {"cn-hangzhou"}},
			body:        "Biz=" + testBiz + "&TicketId=" + testTicket,
			contentType: "application/x-www-form-urlencoded",
		}},
		{"STS token", v3Request{keyID: "STS.id", secret: "sts-secret", securityToken: "token-1"}},
		{"repeated x-acs header", v3Request{extraHeaders: http.Header{"X-Acs-Extra": {"b", " a"}}}},
		{"XML", v3Request{query: url.Values{
			"RegionId": {"cn-hangzhou"}, "Biz": {testBiz}, "TicketId": {testTicket}, "Format": {"XML"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := send(t, tt.request.build(t, srv))

			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			if tt.request.query.Get("Format") == "XML" {
				assert.Contains(t, resp.body, "<StatusCode>1</StatusCode>")
				return
			}
			assert.Equal(t, int(cloudauth.StatusPassed), resp.statusCode(t))
		})
	}
}

func TestErrorResponses(t *testing.T) {
	now := time.Now().UTC()

	// v1 returns a request built from the default parameters after change
	// edits them, signed with secret.
	v1 := func(secret string, change func(params url.Values)) func(*testing.T, *Server) *http.Request {
		return func(t *testing.T, srv *Server) *http.Request {
			params := v1Params(testKeyID, testBiz, testTicket)
			if change != nil {
				change(params)
			}
			signV1(http.MethodGet, secret, params)
			return newV1Request(t, srv, http.MethodGet, params)
		}
	}
	without := func(name string) func(url.Values) {
		return func(params url.Values) { params.Del(name) }
	}
	set := func(name, value string) func(url.Values) {
		return func(params url.Values) { params.Set(name, value) }
	}
	v3 := func(v v3Request) func(*testing.T, *Server) *http.Request {
		return func(t *testing.T, srv *Server) *http.Request { return v.build(t, srv) }
	}

	tests := []struct {
		name    string
		request func(*testing.T, *Server) *http.Request
		status  int
		code    string
	}{
		{"V1 unknown key", v1(testSecret, set("AccessKeyId", "unknown")),
			http.StatusNotFound, "InvalidAccessKeyId.NotFound"},
		{"V1 wrong secret", v1("wrong", nil), http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V1 parameter changed after signing", func(t *testing.T, srv *Server) *http.Request {
			params := v1Params(testKeyID, testBiz, testTicket)
			signV1(http.MethodGet, testSecret, params)
			params.Set("TicketId", "other")
			return newV1Request(t, srv, http.MethodGet, params)
		}, http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V1 malformed signature", func(t *testing.T, srv *Server) *http.Request {
			params := v1Params(testKeyID, testBiz, testTicket)
			params.Set("Signature", "%%%")
			return newV1Request(t, srv, http.MethodGet, params)
		}, http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V1 timestamp 16 minutes old", v1(testSecret, set("Timestamp", now.Add(-16*time.Minute).Format(timestampLayout))),
			http.StatusBadRequest, "InvalidTimeStamp.Expired"},
		{"V1 timestamp 16 minutes ahead", v1(testSecret, set("Timestamp", now.Add(16*time.Minute).Format(timestampLayout))),
			http.StatusBadRequest, "InvalidTimeStamp.Expired"},
		{"V1 timestamp unparseable", v1(testSecret, set("Timestamp", now.Format(time.RFC1123))),
			http.StatusBadRequest, "InvalidTimeStamp.Expired"},
		{"V1 timestamp with offset", v1(testSecret, set("Timestamp", now.Format("2006-01-02T15:04:05+08:00"))),
			http.StatusBadRequest, "InvalidTimeStamp.Expired"},
		{"V1 STS token missing", func(t *testing.T, srv *Server) *http.Request {
			params := v1Params("STS.id", testBiz, testTicket)
			signV1(http.MethodGet, "sts-secret", params)
			return newV1Request(t, srv, http.MethodGet, params)
		}, http.StatusBadRequest, "MissingSecurityToken"},
		{"V1 STS token wrong", func(t *testing.T, srv *Server) *http.Request {
			params := v1Params("STS.id", testBiz, testTicket)
			params.Set("SecurityToken", "token-0")
			signV1(http.MethodGet, "sts-secret", params)
			return newV1Request(t, srv, http.MethodGet, params)
		}, http.StatusBadRequest, "InvalidSecurityToken.Expired"},
		{"V1 token with plain key", v1(testSecret, set("SecurityToken", "token-1")),
			http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey"},
		{"V1 Biz missing", v1(testSecret, without("Biz")), http.StatusBadRequest, "InvalidParam.ParamMissing"},
		{"V1 Biz empty", v1(testSecret, set("Biz", "")), http.StatusBadRequest, "InvalidParam.ParamMissing"},
		{"V1 TicketId blank", v1(testSecret, set("TicketId", "  ")), http.StatusBadRequest, "InvalidParam.ParamMissing"},
		{"V1 RegionId missing", v1(testSecret, without("RegionId")), http.StatusBadRequest, "InvalidParam.ParamMissing"},
		{"V1 Timestamp missing", v1(testSecret, without("Timestamp")), http.StatusBadRequest, "InvalidParam.ParamMissing"},
		{"V1 SignatureNonce missing", v1(testSecret, without("SignatureNonce")),
			http.StatusBadRequest, "InvalidParam.ParamMissing"},
		{"V1 Signature missing", func(t *testing.T, srv *Server) *http.Request {
			return newV1Request(t, srv, http.MethodGet, v1Params(testKeyID, testBiz, testTicket))
		}, http.StatusBadRequest, "InvalidParam.ParamMissing"},
		{"V1 unknown Biz", v1(testSecret, set("Biz", "OtherBiz")), http.StatusBadRequest, "InvalidParam.InvalidBiz"},
		{"V1 other action", v1(testSecret, set("Action", "DescribeVerifyToken")),
			http.StatusNotFound, "InvalidAction.NotFound"},
		{"V1 other version", v1(testSecret, set("Version", "2019-03-07")), http.StatusBadRequest, "InvalidVersion"},
		{"V1 SignatureMethod HMAC-SHA256", v1(testSecret, set("SignatureMethod", "HMAC-SHA256")),
			http.StatusBadRequest, "InvalidParameter"},
		{"V1 SignatureVersion 2.0", v1(testSecret, set("SignatureVersion", "2.0")),
			http.StatusBadRequest, "InvalidParameter"},
		{"V1 Format YAML", v1(testSecret, set("Format", "YAML")), http.StatusBadRequest, "InvalidParameter"},
		{"invalid URL encoding", func(t *testing.T, srv *Server) *http.Request {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/?Biz=%zz", nil)
			require.NoError(t, err)
			return req
		}, http.StatusBadRequest, "InvalidParameter"},
		{"PUT method", func(t *testing.T, srv *Server) *http.Request {
			params := v1Params(testKeyID, testBiz, testTicket)
			signV1(http.MethodPut, testSecret, params)
			req, err := http.NewRequest(http.MethodPut, srv.URL+"/?"+canonicalQuery(params), nil)
			require.NoError(t, err)
			return req
		}, http.StatusMethodNotAllowed, "UnsupportedHTTPMethod"},
		{"path other than root", func(t *testing.T, srv *Server) *http.Request {
			req := v1(testSecret, nil)(t, srv)
			req.URL.Path = "/v1/GetStatus"
			return req
		}, http.StatusNotFound, "InvalidAction.NotFound"},
		{"body too large", func(t *testing.T, srv *Server) *http.Request {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/",
				strings.NewReader(strings.Repeat("a", maxBodyBytes+1)))
			require.NoError(t, err)
			return req
		}, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
		{"V3 unknown key", v3(v3Request{keyID: "unknown", secret: testSecret}),
			http.StatusNotFound, "InvalidAccessKeyId.NotFound"},
		{"V3 wrong secret", v3(v3Request{keyID: testKeyID, secret: "wrong"}),
			http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V3 query changed after signing", v3(v3Request{afterSigning: func(req *http.Request) {
			req.URL.RawQuery += "&Extra=1"
		}}), http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V3 header changed after signing", v3(v3Request{afterSigning: func(req *http.Request) {
			req.Header.Set("x-acs-signature-nonce", uniqueNonce())
		}}), http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V3 body changed after signing", v3(v3Request{
			method: http.MethodPost,
			body:   "a=1",
			afterSigning: func(req *http.Request) {
				req.Body = http.NoBody
				req.ContentLength = 0
			},
		}), http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V3 date not signed", v3(v3Request{signedHeaders: []string{
			"host", "x-acs-action", "x-acs-content-sha256", "x-acs-signature-nonce", "x-acs-version",
		}}), http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V3 host not signed", v3(v3Request{signedHeaders: []string{
			"x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version",
		}}), http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V3 extra x-acs header not signed", v3(v3Request{
			extraHeaders: http.Header{"X-Acs-Extra": {"1"}},
			signedHeaders: []string{
				"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version",
			},
		}), http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V3 signature not hex", v3(v3Request{afterSigning: func(req *http.Request) {
			auth := req.Header.Get("Authorization")
			req.Header.Set("Authorization", auth[:strings.LastIndex(auth, "=")+1]+"not-hex")
		}}), http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V3 malformed Authorization", v3(v3Request{afterSigning: func(req *http.Request) {
			req.Header.Set("Authorization", v3Algorithm+" Credential="+testKeyID)
		}}), http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"V3 date missing", v3(v3Request{afterSigning: func(req *http.Request) {
			req.Header.Del("x-acs-date")
		}}), http.StatusBadRequest, "InvalidParam.ParamMissing"},
		{"V3 date expired", v3(v3Request{date: now.Add(-time.Hour)}),
			http.StatusBadRequest, "InvalidTimeStamp.Expired"},
		{"V3 STS token missing", v3(v3Request{keyID: "STS.id", secret: "sts-secret"}),
			http.StatusBadRequest, "MissingSecurityToken"},
		{"V3 STS token wrong", v3(v3Request{keyID: "STS.id", secret: "sts-secret", securityToken: "token-0"}),
			http.StatusBadRequest, "InvalidSecurityToken.Expired"},
		{"V3 other action", v3(v3Request{action: "GetVerifyToken"}), http.StatusNotFound, "InvalidAction.NotFound"},
		{"V3 TicketId missing", v3(v3Request{query: url.Values{"RegionId": {"cn-hangzhou"}, "Biz": {testBiz}}}),
			http.StatusBadRequest, "InvalidParam.ParamMissing"},
		{"V3 unknown Biz", v3(v3Request{query: url.Values{
			"RegionId": {"cn-hangzhou"}, "Biz": {"OtherBiz"}, "TicketId": {testTicket},
		}}), http.StatusBadRequest, "InvalidParam.InvalidBiz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t)
			srv.AddSTSCredentials("STS.id", "sts-secret", "token-1")

			resp := send(t, tt.request(t, srv))

			assert.Equal(t, tt.status, resp.status, "body: %s", resp.body)
			assert.Equal(t, "application/json;charset=utf-8", resp.header.Get("Content-Type"))
			body := resp.jsonError(t)
			assert.Equal(t, tt.code, body.Code)
			assert.NotEmpty(t, body.Message)
			assert.Equal(t, "cloudauth.aliyuncs.com", body.HostID)
			assert.Equal(t, resp.header.Get("x-acs-request-id"), body.RequestID)
			assert.Regexp(t, requestIDPattern, body.RequestID)
			assert.Equal(t, "https://api.aliyun.com/troubleshoot?q="+tt.code, body.Recommend)
			assert.NotEmpty(t, resp.header.Get("Date"))
			assert.Equal(t, map[string]int{tt.code: 1}, srv.Stats().Rejected)
			assert.Equal(t, 0, srv.TicketPolls(testBiz, testTicket))
		})
	}
}

func TestErrorResponseXML(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, "OtherBiz", testTicket)
	params.Set("Format", "XML")
	signV1(http.MethodGet, testSecret, params)

	resp := send(t, newV1Request(t, srv, http.MethodGet, params))

	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "text/xml;charset=utf-8", resp.header.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(resp.body, `<?xml version="1.0" encoding="UTF-8"?>`), resp.body)
	assert.NotContains(t, resp.body, "Recommend")
	body := resp.xmlError(t)
	assert.Equal(t, "Error", body.XMLName.Local)
	assert.Equal(t, "InvalidParam.InvalidBiz", body.Code)
	assert.Equal(t, "The biz is not valid.", body.Message)
	assert.Equal(t, "cloudauth.aliyuncs.com", body.HostID)
	assert.Equal(t, resp.header.Get("x-acs-request-id"), body.RequestID)
}

func TestSignatureErrorShowsServerStringToSign(t *testing.T) {
	srv := newTestServer(t)

	v1 := getStatusV1(t, srv, testBiz, testTicket)
	require.Equal(t, http.StatusOK, v1.status)
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodGet, "wrong", params)
	v1 = send(t, newV1Request(t, srv, http.MethodGet, params))
	v3 := send(t, v3Request{keyID: testKeyID, secret: "wrong"}.build(t, srv))

	assert.Contains(t, v1.jsonError(t).Message, "server string to sign is:"+v1StringToSign(http.MethodGet, params))
	assert.Contains(t, v3.jsonError(t).Message, `server canonical request is:"GET\n/\nBiz=RPBasic&RegionId=cn-hangzhou`)
}

func TestSignatureErrorHidesSecurityToken(t *testing.T) {
	const token = "sts/token+with=special chars"
	srv := newTestServer(t)
	srv.AddSTSCredentials("STS.id", "sts-secret", token)
	params := v1Params("STS.id", testBiz, testTicket)
	params.Set("SecurityToken", token)
	signV1(http.MethodGet, "wrong", params)

	v1 := send(t, newV1Request(t, srv, http.MethodGet, params)).jsonError(t)
	v3 := send(t, v3Request{keyID: "STS.id", secret: "wrong", securityToken: token}.build(t, srv)).jsonError(t)

	for _, body := range []errorBody{v1, v3} {
		assert.Equal(t, "SignatureDoesNotMatch", body.Code)
		assert.Contains(t, body.Message, "<SecurityToken>")
		assert.NotContains(t, body.Message, "sts")
		assert.NotContains(t, body.Message, rfc3986Encode(token))
	}
}

func TestNonceReuseRejected(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodGet, testSecret, params)

	first := send(t, newV1Request(t, srv, http.MethodGet, params))
	replay := send(t, newV1Request(t, srv, http.MethodGet, params))

	assert.Equal(t, http.StatusOK, first.status)
	assert.Equal(t, http.StatusBadRequest, replay.status)
	assert.Equal(t, "SignatureNonceUsed", replay.jsonError(t).Code)
}

func TestNonceReuseRejectedAcrossVersions(t *testing.T) {
	srv := newTestServer(t)
	first := v3Request{}.build(t, srv)
	nonce := first.Header.Get("x-acs-signature-nonce")
	params := v1Params(testKeyID, testBiz, testTicket)
	params.Set("SignatureNonce", nonce)
	signV1(http.MethodGet, testSecret, params)

	assert.Equal(t, http.StatusOK, send(t, first).status)
	replay := send(t, newV1Request(t, srv, http.MethodGet, params))

	assert.Equal(t, "SignatureNonceUsed", replay.jsonError(t).Code)
}

func TestNonceOfRejectedRequestStaysUnused(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodGet, "wrong", params)
	forged := send(t, newV1Request(t, srv, http.MethodGet, params))
	signV1(http.MethodGet, testSecret, params)

	genuine := send(t, newV1Request(t, srv, http.MethodGet, params))

	assert.Equal(t, "SignatureDoesNotMatch", forged.jsonError(t).Code)
	assert.Equal(t, http.StatusOK, genuine.status, "body: %s", genuine.body)
}

func TestNonceCacheExpiresAfterRetention(t *testing.T) {
	var cache nonceCache
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	assert.True(t, cache.add("a", start))
	assert.False(t, cache.add("a", start.Add(nonceRetention)))
	assert.True(t, cache.add("b", start.Add(nonceRetention+time.Second)))
	assert.True(t, cache.add("a", start.Add(nonceRetention+2*time.Second)))
	assert.False(t, cache.add("b", start.Add(nonceRetention+2*time.Second)))
	assert.Len(t, cache.seenAt, 2)
	assert.Len(t, cache.order, 2)
}

func TestNonceCacheBounded(t *testing.T) {
	var cache nonceCache
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	added := 0
	for i := 0; i < maxNonces+10; i++ {
		if cache.add(strconv.Itoa(i), now) {
			added++
		}
	}

	assert.Equal(t, maxNonces+10, added)
	assert.Len(t, cache.seenAt, maxNonces)
	assert.Len(t, cache.order, maxNonces)
	assert.True(t, cache.add("0", now), "the oldest nonce is forgotten once the cache is full")
	assert.False(t, cache.add(strconv.Itoa(maxNonces+9), now))
}

func TestClockSkew(t *testing.T) {
	srv := newTestServer(t)
	srv.SetClockSkew(time.Hour)

	current := getStatusV1(t, srv, testBiz, testTicket)
	params := v1Params(testKeyID, testBiz, testTicket)
	params.Set("Timestamp", time.Now().Add(time.Hour).UTC().Format(timestampLayout))
	signV1(http.MethodGet, testSecret, params)
	skewed := send(t, newV1Request(t, srv, http.MethodGet, params))

	assert.Equal(t, "InvalidTimeStamp.Expired", current.jsonError(t).Code)
	assert.Equal(t, http.StatusOK, skewed.status, "body: %s", skewed.body)
	for _, resp := range []response{current, skewed} {
		date, err := http.ParseTime(resp.header.Get("Date"))
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now().Add(time.Hour), date, time.Minute)
	}
	assert.WithinDuration(t, time.Now().Add(time.Hour), srv.Now(), time.Minute)
}

func TestLastRequest(t *testing.T) {
	srv := newTestServer(t)
	require.Nil(t, srv.LastRequest())
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodPost, testSecret, params)
	req := newV1Request(t, srv, http.MethodPost, params)
	req.URL.RawQuery = "Extra=1"
	req.Header.Set("User-Agent", "cloudauthtest-test")

	resp := send(t, req)
	require.Equal(t, http.StatusBadRequest, resp.status, "the unsigned Extra parameter breaks the signature")
	record := srv.LastRequest()

	require.NotNil(t, record)
	assert.Equal(t, http.MethodPost, record.Method)
	assert.Equal(t, "/", record.Path)
	assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), record.Host)
	assert.Equal(t, url.Values{"Extra": {"1"}}, record.Query)
	assert.Equal(t, params, record.Form)
	assert.Equal(t, "cloudauthtest-test", record.Header.Get("User-Agent"))
	assert.Equal(t, canonicalQuery(params), string(record.Body))

	record.Form.Set("Biz", "changed")
	record.Header.Set("User-Agent", "changed")
	again := srv.LastRequest()
	assert.Equal(t, testBiz, again.Form.Get("Biz"))
	assert.Equal(t, "cloudauthtest-test", again.Header.Get("User-Agent"))
}

func TestLastRequestGetHasNoForm(t *testing.T) {
	srv := newTestServer(t)

	getStatusV1(t, srv, testBiz, testTicket)
	record := srv.LastRequest()

	require.NotNil(t, record)
	assert.Equal(t, http.MethodGet, record.Method)
	assert.Equal(t, testTicket, record.Query.Get("TicketId"))
	assert.Nil(t, record.Form)
	assert.Empty(t, record.Body)
}

func TestDemoServer(t *testing.T) {
	srv := NewDemoServer()
	defer srv.Close()

	tests := []struct {
		ticketID    string
		status      cloudauth.StatusCode
		score       float64
		conclusions string
	}{
		{DemoTicketPassed, cloudauth.StatusPassed, 93.12, ""},
		{DemoTicketRejected, cloudauth.StatusRejected, 41.5, "ID photo is blurred"},
		{DemoTicketInReview, cloudauth.StatusInReview, 0, ""},
		{"demo-unknown", cloudauth.StatusNotSubmitted, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.ticketID, func(t *testing.T) {
			params := v1Params(DemoAccessKeyID, DemoBiz, tt.ticketID)
			signV1(http.MethodGet, DemoAccessKeySecret, params)

			resp := send(t, newV1Request(t, srv, http.MethodGet, params))

			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			body := resp.jsonSuccess(t)
			assert.Equal(t, int(tt.status), *body.Data.StatusCode)
			var score float64
			if body.Data.SimilarityScore != nil {
				score = *body.Data.SimilarityScore
			}
			assert.Equal(t, tt.score, score)
			var conclusions string
			if body.Data.AuditConclusions != nil {
				conclusions = *body.Data.AuditConclusions
			}
			assert.Equal(t, tt.conclusions, conclusions)
		})
	}
}

func TestStatsCountsOutcomes(t *testing.T) {
	srv := newTestServer(t)
	srv.FailNext(1, ServiceUnavailableFailure())

	send(t, v3Request{}.build(t, srv))
	getStatusV1(t, srv, testBiz, testTicket)
	getStatusV1(t, srv, "OtherBiz", testTicket)
	getStatusV1(t, srv, "OtherBiz", testTicket)
	stats := srv.Stats()
	stats.Rejected["changed"] = 1

	assert.Equal(t, 4, srv.Requests())
	assert.Equal(t, Stats{
		Requests:  4,
		Succeeded: 1,
		Injected:  1,
		Rejected:  map[string]int{"InvalidParam.InvalidBiz": 2},
	}, srv.Stats())
}

func TestConcurrentRequests(t *testing.T) {
	const (
		goroutines = 64
		perWorker  = 10
	)
	srv := newTestServer(t)
	srv.AddSTSCredentials("STS.id", "sts-secret", "token-1")
	srv.FailNext(20, ServiceUnavailableFailure())
	srv.SetFaultRate(0.1, 7, BadGatewayHTML(), ThrottlingFailure(time.Second))
	srv.ScriptTicket(testBiz, testTicket,
		Step{State: TicketState{Status: cloudauth.StatusInReview}, Polls: 100},
		Step{State: TicketState{Status: cloudauth.StatusPassed}})

	// The requests are built up front, because require may stop only the
	// test's own goroutine.
	requests := make([][]*http.Request, goroutines)
	for g := range requests {
		for i := 0; i < perWorker; i++ {
			var req *http.Request
			switch (g + i) % 4 {
			case 0:
				params := v1Params(testKeyID, testBiz, testTicket)
				signV1(http.MethodGet, testSecret, params)
				req = newV1Request(t, srv, http.MethodGet, params)
			case 1:
				req = v3Request{method: http.MethodPost}.build(t, srv)
			case 2:
				req = v3Request{keyID: "STS.id", secret: "sts-secret", securityToken: "token-1"}.build(t, srv)
			default:
				params := v1Params(testKeyID, "OtherBiz", testTicket)
				signV1(http.MethodPost, testSecret, params)
				req = newV1Request(t, srv, http.MethodPost, params)
			}
			requests[g] = append(requests[g], req)
		}
	}

	var wg sync.WaitGroup
	for _, batch := range requests {
		wg.Add(1)
		go func(batch []*http.Request) {
			defer wg.Done()
			for _, req := range batch {
				resp, err := http.DefaultClient.Do(req)
				if !assert.NoError(t, err) {
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				assert.NoError(t, err)
				resp.Body.Close()
				assert.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusBadGateway,
					http.StatusServiceUnavailable}, resp.StatusCode)
				srv.Stats()
				srv.LastRequest()
				srv.TicketPolls(testBiz, testTicket)
			}
		}(batch)
	}
	wg.Wait()

	stats := srv.Stats()
	assert.Equal(t, goroutines*perWorker, stats.Requests)
	rejected := 0
	for code, count := range stats.Rejected {
		assert.Contains(t, []string{"InvalidParam.InvalidBiz"}, code)
		rejected += count
	}
	assert.Equal(t, stats.Requests, stats.Succeeded+stats.Injected+rejected)
	assert.GreaterOrEqual(t, stats.Injected, 20)
	assert.Equal(t, stats.Succeeded, srv.TicketPolls(testBiz, testTicket))
}
