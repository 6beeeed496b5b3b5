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

// Each test in this file reproduces a fault found by sending hostile
// responses and bad input to the client. They fail until the fault is
// fixed. hostile_test.go holds the passing regression tests.

// stringToSignOf returns the V1 string to sign of r, which a service
// reporting SignatureDoesNotMatch repeats in its message.
func stringToSignOf(r *http.Request) string {
	query := r.URL.Query()
	query.Del("Signature")
	return cloudauth.StringToSignV1(r.Method, query)
}

// A long STS token is cut, not removed. The client truncates the message
// to 512 bytes, or an HTML or malformed body to a 200-byte excerpt, before
// it searches for the token. The start of the token then stays in the
// error, the logs and %#v.
func TestFaultEchoedTokenCutBeforeRedaction(t *testing.T) {
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

// A quoted "NaN" or "Infinity", or a value outside 0 to 100, decodes into
// SimilarityScore. NaN then breaks json.Marshal of the response, as in the
// example's -json output, and compares false with every threshold.
func TestFaultSimilarityScoreAcceptsNaN(t *testing.T) {
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

// WithMaxResponseBytes accepts math.MaxInt64, and readBody's limit+1 then
// overflows, so every body reads as empty: a valid 200 becomes "the body is
// empty", and an error response loses its code.
func TestFaultMaxResponseBytesOverflow(t *testing.T) {
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

// readBody grows its buffer to the Content-Length the server claims before
// reading a byte. With a raised cap, a 10-byte response that claims 512 MiB
// makes the client allocate 512 MiB, on each attempt and each goroutine.
func TestFaultContentLengthPreallocation(t *testing.T) {
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

// redactEndpoint redacts the password only when the URL parses, so an
// endpoint with a typo elsewhere is quoted in the error with its password.
func TestFaultEndpointErrorShowsPassword(t *testing.T) {
	_, err := cloudauth.NewClient(cloudauth.WithAccessKey("id", "secret"),
		cloudauth.WithEndpoint("https://user:hunter2@127.0.0.1:bad port/"))

	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

// An endpoint with a port but no host name passes validation, and the
// client then dials that port on the local machine.
func TestFaultEndpointWithoutHostName(t *testing.T) {
	_, err := cloudauth.NewClient(cloudauth.WithAccessKey("id", "secret"),
		cloudauth.WithEndpoint("http://:8080"))

	assert.Error(t, err)
}

// A nil context panics with a nil pointer dereference in sendAttempt.
// net/http returns the error "net/http: nil Context" instead.
func TestFaultNilContextPanics(t *testing.T) {
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

// Credentials with a line break fail in net/http before anything is sent,
// but the failure is classified as a transport error: the client sleeps and
// retries a request that can never be built, then reports "3 attempts".
func TestFaultUnsendableRequestIsRetried(t *testing.T) {
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

// HTTP 429 Too Many Requests from a gateway carries no Throttling code, so
// the client treats it as final although it is the standard throttling
// status.
func TestFault429IsNotRetried(t *testing.T) {
	srv, counter := newHostileServer(t, respondWith(http.StatusTooManyRequests,
		"<html><body>Too Many Requests</body></html>"))
	client := newHostileClient(t, srv.URL)

	_, err := callHostile(t, client)

	var apiErr *cloudauth.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.EqualValues(t, 3, counter.requests.Load(), "attempts")
}

// Only Message is cut to 512 bytes. Code, RequestID, HostID and Recommend
// are copied whole into Error(), and line breaks from the body reach the
// error text, so a hostile body can flood or forge log lines.
func TestFaultErrorTextUnbounded(t *testing.T) {
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

// WithAttemptTimeout's expiry makes the final error satisfy
// errors.Is(err, context.DeadlineExceeded) although the caller's context is
// still live, so a caller (like the example's describeError) concludes that
// its own deadline was too short.
func TestFaultAttemptTimeoutLooksLikeCallerDeadline(t *testing.T) {
	srv, _ := newHostileServer(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	client := newHostileClient(t, srv.URL, cloudauth.WithAttemptTimeout(50*time.Millisecond))

	ctx := context.Background()
	_, err := client.GetStatus(ctx, hostileRequest)

	require.Error(t, err)
	require.NoError(t, ctx.Err())
	assert.False(t, errors.Is(err, context.DeadlineExceeded),
		"the caller's context did not end: %v", err)
}
