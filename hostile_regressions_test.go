package cloudauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudauth-go/cloudauth"
)

// Each test in this file once reproduced a fault found by sending hostile
// responses and bad input to the client, and now guards its fix.

// stringToSignOf returns the V1 string to sign of r, which a service
// reporting SignatureDoesNotMatch repeats in its message.
func stringToSignOf(r *http.Request) string {
	query := r.URL.Query()
	query.Del("Signature")
	return cloudauth.StringToSignV1(r.Method, query)
}

// A long STS token echoed by the service is removed whole: the client
// redacts the full text before it cuts a message or excerpt, so no start of
// the token stays in the error, the logs or %#v.
func TestLongEchoedTokenRedactedWhole(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   func(stringToSign string) string
	}{
		{"JSON SignatureDoesNotMatch", 400, func(stringToSign string) string {
			body, _ := json.Marshal(map[string]string{
				"RequestId": "rid",
				"Code":      "SignatureDoesNotMatch",
				"Message": "Specified signature is not matched with our calculation. server string to sign is:" +
					stringToSign,
			})
			return string(body)
		}},
		{"HTML 502", 502, func(stringToSign string) string {
			return "<html><body>" + stringToSign + "</body></html>"
		}},
		{"malformed 200", 200, func(stringToSign string) string {
			return `{"Data":"` + stringToSign
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newHostileServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body(stringToSignOf(r)))
			})
			client := newSTSClient(t, srv.URL, cloudauth.WithMaxAttempts(1))

			_, err := callHostile(t, client)

			require.Error(t, err)
			twice := cloudauth.PercentEncode(cloudauth.PercentEncode(hostileToken))
			assert.NotContains(t, err.Error(), twice[:24], "the start of the security token")
		})
	}
}

// A quoted "NaN" or "Infinity", or a value outside 0 to 100, must not
// decode into SimilarityScore: NaN would break json.Marshal of the
// response and compare false with every threshold.
func TestSimilarityScoreRejectsNaNAndRange(t *testing.T) {
	for _, body := range []string{
		`{"Data":{"StatusCode":1,"SimilarityScore":"NaN"}}`,
		`{"Data":{"StatusCode":1,"SimilarityScore":"-Infinity"}}`,
		`<R><Data><StatusCode>1</StatusCode><SimilarityScore>NaN</SimilarityScore></Data></R>`,
		`{"Data":{"StatusCode":1,"SimilarityScore":-50}}`,
		`{"Data":{"StatusCode":1,"SimilarityScore":1e300}}`,
	} {
		t.Run(body, func(t *testing.T) {
			srv, _ := newHostileServer(t, respondWith(200, body))
			client := newHostileClient(t, srv.URL)

			resp, err := callHostile(t, client)

			if err == nil {
				assert.False(t, math.IsNaN(resp.SimilarityScore) || math.IsInf(resp.SimilarityScore, 0),
					"SimilarityScore is %v", resp.SimilarityScore)
				assert.True(t, resp.SimilarityScore >= 0 && resp.SimilarityScore <= 100,
					"SimilarityScore %v is outside 0 to 100", resp.SimilarityScore)
				_, marshalErr := json.Marshal(resp)
				assert.NoError(t, marshalErr)
			}
		})
	}
}

// WithMaxResponseBytes(math.MaxInt64) must not overflow readBody's limit+1
// and make every body read as empty.
func TestMaxResponseBytesHugeValue(t *testing.T) {
	srv, _ := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`))

	client, err := cloudauth.NewClient(cloudauth.WithEndpoint(srv.URL),
		cloudauth.WithAccessKey(hostileKeyID, hostileSecret), cloudauth.WithMaxResponseBytes(math.MaxInt64))
	if err != nil {
		return // rejecting the value would be a fix too
	}
	resp, err := callHostile(t, client)

	require.NoError(t, err)
	assert.Equal(t, cloudauth.StatusPassed, resp.StatusCode)
}

// A 10-byte response that claims 512 MiB in Content-Length must not make
// the client reserve that much memory before reading a byte.
func TestClaimedContentLengthNotPreallocated(t *testing.T) {
	srv, _ := newHostileServer(t, hijackHandler(
		"HTTP/1.1 200 OK\r\nContent-Length: 536870000\r\n\r\n{\"Data\":"))
	client := newHostileClient(t, srv.URL, cloudauth.WithMaxResponseBytes(1<<30),
		cloudauth.WithMaxAttempts(1))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := callHostile(t, client)
	runtime.ReadMemStats(&after)

	require.Error(t, err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "bytes allocated for a 10-byte body")
}

// An endpoint that does not parse is still quoted without its password.
func TestEndpointErrorHidesPassword(t *testing.T) {
	_, err := cloudauth.NewClient(cloudauth.WithAccessKey("id", "secret"),
		cloudauth.WithEndpoint("https://user:hunter2@127.0.0.1:bad port/"))

	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

// An endpoint with a port but no host name is rejected, so the client never
// dials that port on the local machine.
func TestEndpointWithoutHostRejected(t *testing.T) {
	_, err := cloudauth.NewClient(cloudauth.WithAccessKey("id", "secret"),
		cloudauth.WithEndpoint("http://:8080"))

	assert.Error(t, err)
}

// A nil context is an error, as in net/http, not a panic.
func TestNilContextRejected(t *testing.T) {
	srv, counter := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`))
	client := newHostileClient(t, srv.URL)

	var err error
	assert.NotPanics(t, func() {
		//lint:ignore SA1012 a nil context is the input under test
		_, err = client.GetStatus(nil, hostileRequest)
	})
	assert.Error(t, err)
	assert.Zero(t, counter.requests.Load())
}

// Credentials with a line break can never be sent in a header, so they are
// rejected before sending and not retried.
func TestUnsendableCredentialsNotRetried(t *testing.T) {
	srv, counter := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`))
	provider := cloudauth.NewStaticCredentialsProvider(hostileKeyID, hostileSecret, "token\r\nX-Evil: 1")
	client, err := cloudauth.NewClient(cloudauth.WithEndpoint(srv.URL), cloudauth.WithCredentials(provider),
		cloudauth.WithSignatureVersion(cloudauth.SignatureV3),
		cloudauth.WithBackoff(time.Millisecond, time.Millisecond))
	require.NoError(t, err)

	_, err = callHostile(t, client)

	require.Error(t, err)
	assert.Zero(t, counter.requests.Load())
	assert.NotContains(t, err.Error(), "3 attempts", "a request that cannot be built is not retried")
}

// HTTP 429 Too Many Requests from a gateway carries no Throttling code but
// is retried as throttling.
func TestGateway429Retried(t *testing.T) {
	srv, counter := newHostileServer(t, respondWith(http.StatusTooManyRequests,
		"<html><body>Too Many Requests</body></html>"))
	client := newHostileClient(t, srv.URL)

	_, err := callHostile(t, client)

	var apiErr *cloudauth.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.EqualValues(t, 3, counter.requests.Load(), "attempts")
}

// Every text field of an APIError is capped and free of line breaks, so a
// hostile body can neither flood nor forge log lines.
func TestErrorTextBounded(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"RequestId", `{"Code":"X","RequestId":"` + strings.Repeat("r", 500_000) + `"}`},
		{"Code", `{"Code":"` + strings.Repeat("C", 500_000) + `"}`},
		{"Recommend", `{"Code":"X","Recommend":"` + strings.Repeat("h", 500_000) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newHostileServer(t, respondWith(400, tt.body))
			client := newHostileClient(t, srv.URL)

			_, err := callHostile(t, client)

			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.LessOrEqual(t, len(err.Error()), 4096, "error text length")
			assert.LessOrEqual(t, len(apiErr.RequestID)+len(apiErr.Code)+len(apiErr.Recommend), 4096)
		})
	}

	t.Run("line break in Message", func(t *testing.T) {
		srv, _ := newHostileServer(t, respondWith(400,
			`{"Code":"X","Message":"denied\ntime=2024-01-01 level=INFO msg=\"payment approved\""}`))
		client := newHostileClient(t, srv.URL)

		_, err := callHostile(t, client)

		require.Error(t, err)
		assert.NotContains(t, err.Error(), "\n")
	})
}

// WithAttemptTimeout's expiry must not satisfy
// errors.Is(err, context.DeadlineExceeded) while the caller's context is
// still live, or a caller concludes that its own deadline was too short.
func TestAttemptTimeoutNotCallerDeadline(t *testing.T) {
	srv, _ := newHostileServer(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	client := newHostileClient(t, srv.URL, cloudauth.WithAttemptTimeout(50*time.Millisecond))

	ctx := context.Background()
	_, err := client.GetStatus(ctx, hostileRequest)

	require.Error(t, err)
	require.NoError(t, ctx.Err())
	assert.False(t, errors.Is(err, context.DeadlineExceeded),
		"the caller's context did not end: %v", err)
	assert.ErrorIs(t, err, cloudauth.ErrAttemptTimeout)
}
