package cloudauthtest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each test once showed a request that the fake accepted although a strict
// service rejects it, or a misuse that the fake did not report, and now
// guards the fix.

func TestV3UpperCaseHexSignatureRejected(t *testing.T) {
	srv := newTestServer(t)
	req := v3Request{afterSigning: func(req *http.Request) {
		auth := req.Header.Get("Authorization")
		i := strings.LastIndex(auth, "Signature=") + len("Signature=")
		req.Header.Set("Authorization", auth[:i]+strings.ToUpper(auth[i:]))
	}}.build(t, srv)

	requireCode(t, send(t, req), http.StatusBadRequest, "SignatureDoesNotMatch")
}

func TestV1SignatureWithLineBreakRejected(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodGet, testSecret, params)
	signature := params.Get("Signature")
	params.Set("Signature", signature[:4]+"\r\n"+signature[4:])

	requireCode(t, send(t, newV1Request(t, srv, http.MethodGet, params)),
		http.StatusBadRequest, "SignatureDoesNotMatch")
}

func TestV1NonCanonicalBase64Rejected(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodGet, testSecret, params)
	signature := params.Get("Signature")
	// A 20-byte HMAC-SHA1 ends in one '=', and the character before it
	// carries two unused bits. Setting the lowest one gives another string
	// that decodes to the same bytes.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	last := strings.IndexByte(alphabet, signature[len(signature)-2])
	altered := signature[:len(signature)-2] + string(alphabet[last|1]) + "="
	require.NotEqual(t, signature, altered)
	params.Set("Signature", altered)

	requireCode(t, send(t, newV1Request(t, srv, http.MethodGet, params)),
		http.StatusBadRequest, "SignatureDoesNotMatch")
}

func TestTimestampFractionalSecondsRejected(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	params.Set("Timestamp", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
	signV1(http.MethodGet, testSecret, params)

	requireCode(t, send(t, newV1Request(t, srv, http.MethodGet, params)),
		http.StatusBadRequest, "InvalidTimeStamp.Expired")
}

func TestV3UnsignedContentTypeRejected(t *testing.T) {
	srv := newTestServer(t)
	req := v3Request{
		method:        http.MethodPost,
		contentType:   "application/x-www-form-urlencoded",
		signedHeaders: append([]string(nil), v3RequiredSignedHeaders...),
	}.build(t, srv)

	requireCode(t, send(t, req), http.StatusBadRequest, "SignatureDoesNotMatch")
}

func TestV1RepeatedCommonParameterRejected(t *testing.T) {
	for _, name := range []string{"SignatureNonce", "Timestamp", "AccessKeyId"} {
		t.Run(name, func(t *testing.T) {
			srv := newTestServer(t)
			srv.AddAccessKey("second-id", testSecret)
			params := v1Params(testKeyID, testBiz, testTicket)
			second := map[string]string{
				"SignatureNonce": uniqueNonce(),
				"Timestamp":      time.Now().UTC().Add(-time.Minute).Format(timestampLayout),
				"AccessKeyId":    "second-id",
			}[name]
			params.Add(name, second)
			signV1(http.MethodGet, testSecret, params)

			resp := send(t, newV1Request(t, srv, http.MethodGet, params))

			assert.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.body)
		})
	}
}

func TestV1SecondSignatureParameterRejected(t *testing.T) {
	srv := newTestServer(t)
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodGet, testSecret, params)
	req := newV1Request(t, srv, http.MethodGet, params)
	req.URL.RawQuery += "&Signature=AAAA"

	resp := send(t, req)

	assert.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.body)
}

func TestRateLimitTinyRateTimeLeftPositive(t *testing.T) {
	srv := newTestServer(t)
	srv.SetRateLimit(1e-11, 1)
	require.Equal(t, http.StatusOK, getStatusV1(t, srv, testBiz, testTicket).status)

	resp := getStatusV1(t, srv, testBiz, testTicket)

	requireCode(t, resp, http.StatusBadRequest, "Throttling.User")
	value := resp.header.Get(rateLimitHeader)
	assert.NotContains(t, value, "TimeLeft:-")
	assert.NotContains(t, value, "Reset:-")
}

func TestFailNextInvalidStatusPanics(t *testing.T) {
	for _, status := range []int{-1, 42, 103, 1000} {
		srv := newTestServer(t)
		assert.Panics(t, func() { srv.FailNext(1, Failure{Status: status, Code: "X"}) }, "status %d", status)
		assert.Panics(t, func() { srv.SetFaultRate(1, 1, Failure{Status: status, Code: "X"}) }, "status %d", status)
	}
}
