package cloudauth_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudauth-go/cloudauth"
	"github.com/cloudauth-go/cloudauth/cloudauthtest"
)

// These tests send hostile responses and bad input to a client, always
// through servers on 127.0.0.1 that the test starts, and check that the
// client never panics, returns typed errors and never prints a secret.

const (
	hostileKeyID  = "LTAI5tHostileKeyId0001"
	hostileSecret = "hostileSecretValue0123456789ABCDEF"
)

// hostileToken is a 704-byte STS security token with the base64 characters
// '+', '/' and '=', which percent-encoding changes.
var hostileToken = "CAIS" + strings.Repeat("hostile+token/Z9y8x7w6v5u4t3s2r1q0=", 20)

var hostileRequest = &cloudauth.GetStatusRequest{Biz: "RPBasic", TicketID: "ticket-1"}

// countingHandler wraps handler and counts the requests it gets.
type countingHandler struct {
	requests atomic.Int32
	handler  http.HandlerFunc
}

func (h *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	h.handler(w, r)
}

// newHostileServer starts an httptest server on 127.0.0.1 that handles
// every request with handler, and counts the requests.
func newHostileServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *countingHandler) {
	t.Helper()
	counter := &countingHandler{handler: handler}
	srv := httptest.NewServer(counter)
	t.Cleanup(srv.Close)
	return srv, counter
}

// newHostileClient returns a client of srvURL that signs with a static
// AccessKey and retries fast. opts come last, so they can override the
// backoff.
func newHostileClient(t *testing.T, srvURL string, opts ...cloudauth.Option) *cloudauth.Client {
	t.Helper()
	base := []cloudauth.Option{
		cloudauth.WithEndpoint(srvURL),
		cloudauth.WithBackoff(time.Millisecond, 10*time.Millisecond),
		cloudauth.WithAccessKey(hostileKeyID, hostileSecret),
	}
	client, err := cloudauth.NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return client
}

// newSTSClient returns a client of srvURL that signs with STS credentials
// carrying hostileToken.
func newSTSClient(t *testing.T, srvURL string, opts ...cloudauth.Option) *cloudauth.Client {
	t.Helper()
	provider := cloudauth.NewStaticCredentialsProvider(hostileKeyID, hostileSecret, hostileToken)
	base := []cloudauth.Option{
		cloudauth.WithEndpoint(srvURL),
		cloudauth.WithCredentials(provider),
		cloudauth.WithBackoff(time.Millisecond, 10*time.Millisecond),
	}
	client, err := cloudauth.NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return client
}

// respondWith returns a handler that writes status and body with headers
// given as name, value pairs.
func respondWith(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// callHostile calls GetStatus with a 5 s deadline and fails the test if
// the call panics.
func callHostile(t *testing.T, client *cloudauth.Client) (*cloudauth.GetStatusResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var resp *cloudauth.GetStatusResponse
	var err error
	require.NotPanics(t, func() { resp, err = client.GetStatus(ctx, hostileRequest) })
	return resp, err
}

// assertTypedError checks that err is an *APIError or a *ResponseError.
// It does not stop the test, so goroutines may call it.
func assertTypedError(t *testing.T, err error) {
	t.Helper()
	var apiErr *cloudauth.APIError
	var respErr *cloudauth.ResponseError
	assert.True(t, errors.As(err, &apiErr) || errors.As(err, &respErr),
		"error %T is neither *APIError nor *ResponseError: %v", err, err)
}

func TestHostileUnusableSuccessBodies(t *testing.T) {
	deepJSON := strings.Repeat("[", 100_000)
	deepObject := strings.Repeat(`{"a":`, 50_000)
	billionLaughs := `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<GetStatusResponse><Data><StatusCode>1</StatusCode><AuditConclusions>&lol9;</AuditConclusions></Data></GetStatusResponse>`
	externalEntity := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
		`<GetStatusResponse><Data><StatusCode>1</StatusCode><AuditConclusions>&x;</AuditConclusions></Data></GetStatusResponse>`
	utf16 := "\xff\xfe" + string([]byte{'{', 0, '}', 0})

	tests := []struct {
		name string
		body string
	}{
		{"truncated JSON", `{"RequestId":"r","Data":{"StatusCode":1`},
		{"truncated XML", `<GetStatusResponse><Data><StatusCode>1</Stat`},
		{"nested arrays", deepJSON},
		{"nested objects", deepObject},
		{"StatusCode 1e400", `{"Data":{"StatusCode":1e400}}`},
		{"StatusCode 20 digits", `{"Data":{"StatusCode":99999999999999999999}}`},
		{"StatusCode quoted 20 digits", `{"Data":{"StatusCode":"99999999999999999999"}}`},
		{"StatusCode 2^63", `{"Data":{"StatusCode":9223372036854775808}}`},
		{"StatusCode fraction", `{"Data":{"StatusCode":1.5}}`},
		{"StatusCode NaN text", `{"Data":{"StatusCode":"NaN"}}`},
		{"StatusCode Infinity text", `{"Data":{"StatusCode":"Infinity"}}`},
		{"StatusCode bare NaN", `{"Data":{"StatusCode":NaN}}`},
		{"StatusCode bool", `{"Data":{"StatusCode":true}}`},
		{"StatusCode object", `{"Data":{"StatusCode":{"v":1}}}`},
		{"StatusCode array", `{"Data":{"StatusCode":[1]}}`},
		{"StatusCode empty string", `{"Data":{"StatusCode":""}}`},
		{"StatusCode null", `{"Data":{"StatusCode":null}}`},
		{"SimilarityScore 1e400", `{"Data":{"StatusCode":1,"SimilarityScore":1e400}}`},
		{"SimilarityScore object", `{"Data":{"StatusCode":1,"SimilarityScore":{}}}`},
		{"Success not a boolean", `{"Success":"maybe","Data":{"StatusCode":1}}`},
		{"Data array", `{"Data":[{"StatusCode":1}]}`},
		{"Data string", `{"Data":"1"}`},
		{"Data number", `{"Data":1}`},
		{"Data null", `{"Data":null}`},
		{"Data empty object", `{"Data":{}}`},
		{"top-level array", `[{"Data":{"StatusCode":1}}]`},
		{"top-level string", `"Data"`},
		{"UTF-16 with BOM", utf16},
		{"billion laughs", billionLaughs},
		{"external entity", externalEntity},
		{"XML in GBK bytes", "<?xml version=\"1.0\" encoding=\"GBK\"?><R><Data><StatusCode>1</StatusCode>" +
			"<AuditConclusions>\xd5\xd5\xc6\xac</AuditConclusions></Data></R>"},
		{"XML Data without StatusCode", `<R><Data><Other>1</Other></Data></R>`},
		{"HTML page", "<!DOCTYPE html><html><head><title>Login</title></head><body>Sign in</body></html>"},
		{"plain text", "OK"},
		{"NUL bytes", "\x00\x00\x00"},
		{"only BOM", "\xef\xbb\xbf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, counter := newHostileServer(t, respondWith(http.StatusOK, tt.body,
				"x-acs-request-id", "hdr-id"))
			client := newHostileClient(t, srv.URL)

			resp, err := callHostile(t, client)

			assert.Nil(t, resp)
			var respErr *cloudauth.ResponseError
			require.ErrorAs(t, err, &respErr)
			assert.Equal(t, http.StatusOK, respErr.HTTPStatusCode)
			assert.LessOrEqual(t, len(respErr.Error()), 2048, "error text is not bounded")
			assert.EqualValues(t, 1, counter.requests.Load(), "an unusable 2xx body is not retried")
		})
	}
}

func TestHostileTolerableSuccessBodies(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		status      cloudauth.StatusCode
		conclusions string
	}{
		{"duplicate keys, last wins", `{"Data":{"StatusCode":2,"StatusCode":1}}`, cloudauth.StatusPassed, ""},
		{"invalid UTF-8 in a string", "{\"Data\":{\"StatusCode\":2,\"AuditConclusions\":\"bad \xff\xfe\"}}",
			cloudauth.StatusRejected, "bad \uFFFD\uFFFD"},
		{"UTF-8 BOM then JSON", "\xef\xbb\xbf{\"Data\":{\"StatusCode\":1}}", cloudauth.StatusPassed, ""},
		{"XML namespaces", `<a:R xmlns:a="urn:x"><a:Data><a:StatusCode>1</a:StatusCode></a:Data></a:R>`,
			cloudauth.StatusPassed, ""},
		{"XML CDATA", `<R><Data><StatusCode><![CDATA[2]]></StatusCode>` +
			`<AuditConclusions><![CDATA[<blurred> & dark]]></AuditConclusions></Data></R>`,
			cloudauth.StatusRejected, "<blurred> & dark"},
		{"XML two roots, first wins", `<R><Data><StatusCode>1</StatusCode></Data></R><R><Data><StatusCode>2</StatusCode></Data></R>`,
			cloudauth.StatusPassed, ""},
		{"undocumented StatusCode", `{"Data":{"StatusCode":-7}}`, cloudauth.StatusCode(-7), ""},
		{"StatusCode 1.0", `{"Data":{"StatusCode":1.0}}`, cloudauth.StatusPassed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newHostileServer(t, respondWith(http.StatusOK, tt.body))
			client := newHostileClient(t, srv.URL)

			resp, err := callHostile(t, client)

			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.conclusions, resp.AuditConclusions)
		})
	}
}

func TestHostileMalformedErrorBodies(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"truncated JSON", 400, `{"Code":"InvalidParam.InvalidBiz","Mess`},
		{"nested arrays", 400, strings.Repeat("[", 100_000)},
		{"Code as object", 400, `{"Code":{"x":1},"Message":"m"}`},
		{"Code as number", 400, `{"Code":12345678901234567890123,"Message":"m"}`},
		{"XML entities", 400, `<!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><Error><Code>&b;</Code></Error>`},
		{"UTF-16", 400, "\xff\xfe<\x00E\x00>\x00"},
		{"invalid UTF-8 HTML", 400, "<html><body>\xff\xfe\xfd</body></html>"},
		{"empty 404", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, counter := newHostileServer(t, respondWith(tt.status, tt.body))
			client := newHostileClient(t, srv.URL)

			_, err := callHostile(t, client)

			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.HTTPStatusCode)
			assert.EqualValues(t, 1, counter.requests.Load(), "a 4xx is not retried")
		})
	}
}

func TestHostileHTMLPageWithStatus200(t *testing.T) {
	page := "<html><head><title>Captive portal</title></head><body><h1>Please log in</h1></body></html>"
	srv, _ := newHostileServer(t, respondWith(http.StatusOK, page, "Content-Type", "text/html"))
	client := newHostileClient(t, srv.URL)

	_, err := callHostile(t, client)

	var respErr *cloudauth.ResponseError
	require.ErrorAs(t, err, &respErr)
	assert.Contains(t, err.Error(), "HTML")
}

func TestHostileOversizedBodies(t *testing.T) {
	big := `{"Data":{"StatusCode":1,"AuditConclusions":"` + strings.Repeat("x", 4096) + `"}}`
	tests := []struct {
		name    string
		status  int
		chunked bool
	}{
		{"200 with Content-Length", 200, false},
		{"200 chunked", 200, true},
		{"503 with Content-Length", 503, false},
		{"503 chunked", 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, counter := newHostileServer(t, func(w http.ResponseWriter, _ *http.Request) {
				if !tt.chunked {
					w.Header().Set("Content-Length", fmt.Sprint(len(big)))
				}
				w.WriteHeader(tt.status)
				if tt.chunked {
					for i := 0; i < len(big); i += 512 {
						_, _ = io.WriteString(w, big[i:min(i+512, len(big))])
						w.(http.Flusher).Flush()
					}
					return
				}
				_, _ = io.WriteString(w, big)
			})
			client := newHostileClient(t, srv.URL, cloudauth.WithMaxResponseBytes(1024))

			_, err := callHostile(t, client)

			require.Error(t, err)
			if tt.status == 200 {
				var respErr *cloudauth.ResponseError
				require.ErrorAs(t, err, &respErr)
				assert.Contains(t, err.Error(), "larger than the limit")
				assert.EqualValues(t, 1, counter.requests.Load())
			} else {
				var apiErr *cloudauth.APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, 503, apiErr.HTTPStatusCode)
				assert.EqualValues(t, 3, counter.requests.Load(), "a 5xx is retried")
			}
		})
	}
}

func TestHostileStalledBodyEndsAtDeadline(t *testing.T) {
	release := make(chan struct{})
	srv, _ := newHostileServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"Data":{"Stat`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	client := newHostileClient(t, srv.URL)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.GetStatus(ctx, hostileRequest)
	elapsed := time.Since(start)

	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, elapsed, 2*time.Second, "the deadline ends a stalled body")
	assert.NotContains(t, err.Error(), "Signature=")
}

func TestHostileStalledBodyAttemptTimeout(t *testing.T) {
	srv, counter := newHostileServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"Data":`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	client := newHostileClient(t, srv.URL, cloudauth.WithAttemptTimeout(100*time.Millisecond))

	start := time.Now()
	_, err := callHostile(t, client)

	require.Error(t, err)
	assert.EqualValues(t, 3, counter.requests.Load(), "each timed-out attempt is retried")
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Contains(t, err.Error(), "3 attempts")
}

// hijackHandler returns a handler that writes raw to the connection and
// closes it, for responses net/http will not produce.
func hijackHandler(raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString(raw)
		_ = buf.Flush()
	}
}

func TestHostileConnectionClosedMidBody(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"Content-Length longer than the body",
			"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Data\":{\"StatusCode\":1}}"},
		{"chunked body cut off",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"Data\":{\"Statu"},
		{"headers cut off", "HTTP/1.1 200 OK\r\nContent-Le"},
		{"nothing at all", ""},
		{"garbage status line", "SSH-2.0-OpenSSH_9.6\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, counter := newHostileServer(t, hijackHandler(tt.raw))
			client := newHostileClient(t, srv.URL)

			_, err := callHostile(t, client)

			require.Error(t, err)
			assert.EqualValues(t, 3, counter.requests.Load(), "a broken connection is retried")
			assert.Contains(t, err.Error(), "after 3 attempts")
			assert.NotContains(t, err.Error(), "Signature")
			assert.NotContains(t, err.Error(), "AccessKeyId")
		})
	}
}

func TestHostileContentLengthShorterThanBody(t *testing.T) {
	body := `{"Data":{"StatusCode":1}}`
	srv, _ := newHostileServer(t, hijackHandler(
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"+body))
	client := newHostileClient(t, srv.URL)

	_, err := callHostile(t, client)

	var respErr *cloudauth.ResponseError
	require.ErrorAs(t, err, &respErr)
}

func TestHostileGzipBodies(t *testing.T) {
	gzipped := func(data []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(data)
		_ = zw.Close()
		return buf.Bytes()
	}

	t.Run("small body", func(t *testing.T) {
		body := gzipped([]byte(`{"Data":{"StatusCode":1}}`))
		srv, _ := newHostileServer(t, respondWith(200, string(body), "Content-Encoding", "gzip"))
		client := newHostileClient(t, srv.URL)

		resp, err := callHostile(t, client)

		require.NoError(t, err)
		assert.Equal(t, cloudauth.StatusPassed, resp.StatusCode)
	})

	t.Run("gzip bomb", func(t *testing.T) {
		// 64 MiB of spaces compress to about 64 KiB. The cap stops the
		// decompression, so the call neither takes long nor holds the
		// whole body in memory.
		bomb := gzipped(bytes.Repeat([]byte{' '}, 64<<20))
		srv, _ := newHostileServer(t, respondWith(200, string(bomb), "Content-Encoding", "gzip"))
		client := newHostileClient(t, srv.URL)

		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := callHostile(t, client)
		runtime.ReadMemStats(&after)

		var respErr *cloudauth.ResponseError
		require.ErrorAs(t, err, &respErr)
		assert.Contains(t, err.Error(), "larger than the limit")
		assert.Less(t, time.Since(start), 2*time.Second)
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20), "bytes allocated")
	})

	t.Run("gzip header on plain body", func(t *testing.T) {
		srv, _ := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`, "Content-Encoding", "gzip"))
		client := newHostileClient(t, srv.URL)

		_, err := callHostile(t, client)

		require.Error(t, err)
	})
}

func TestHostileUnusualStatuses(t *testing.T) {
	t.Run("103 then 200", func(t *testing.T) {
		srv, _ := newHostileServer(t, hijackHandler(
			"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"+
				"HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n{\"Data\":{\"StatusCode\":1}}"))
		client := newHostileClient(t, srv.URL)

		resp, err := callHostile(t, client)

		require.NoError(t, err)
		assert.Equal(t, cloudauth.StatusPassed, resp.StatusCode)
	})

	t.Run("101 without upgrade", func(t *testing.T) {
		srv, _ := newHostileServer(t, hijackHandler("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
		client := newHostileClient(t, srv.URL)

		_, err := callHostile(t, client)

		require.Error(t, err)
	})

	t.Run("204", func(t *testing.T) {
		srv, counter := newHostileServer(t, respondWith(http.StatusNoContent, ""))
		client := newHostileClient(t, srv.URL)

		_, err := callHostile(t, client)

		var respErr *cloudauth.ResponseError
		require.ErrorAs(t, err, &respErr)
		assert.Equal(t, http.StatusNoContent, respErr.HTTPStatusCode)
		assert.EqualValues(t, 1, counter.requests.Load())
	})

	t.Run("304", func(t *testing.T) {
		srv, counter := newHostileServer(t, respondWith(http.StatusNotModified, ""))
		client := newHostileClient(t, srv.URL)

		_, err := callHostile(t, client)

		var apiErr *cloudauth.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusNotModified, apiErr.HTTPStatusCode)
		assert.EqualValues(t, 1, counter.requests.Load())
	})

	t.Run("999", func(t *testing.T) {
		srv, _ := newHostileServer(t, hijackHandler("HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n"))
		client := newHostileClient(t, srv.URL)

		_, err := callHostile(t, client)

		var apiErr *cloudauth.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 999, apiErr.HTTPStatusCode)
	})
}

func TestHostileRedirectsNotFollowed(t *testing.T) {
	for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
		for _, status := range []int{301, 302, 303, 307, 308} {
			t.Run(fmt.Sprintf("%v %d", version, status), func(t *testing.T) {
				target, targetCounter := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`))
				srv, counter := newHostileServer(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.URL+"/?"+r.URL.RawQuery, status)
				})
				for _, httpClient := range []*http.Client{nil, {}} {
					opts := []cloudauth.Option{cloudauth.WithSignatureVersion(version)}
					if httpClient != nil {
						opts = append(opts, cloudauth.WithHTTPClient(httpClient))
					}
					client := newSTSClient(t, srv.URL, opts...)

					_, err := callHostile(t, client)

					var apiErr *cloudauth.APIError
					require.ErrorAs(t, err, &apiErr)
					assert.Equal(t, status, apiErr.HTTPStatusCode)
					assertNoSecrets(t, err.Error())
				}
				assert.EqualValues(t, 2, counter.requests.Load(), "a 3xx is not retried")
				assert.Zero(t, targetCounter.requests.Load(), "the redirect target got a request")
			})
		}
	}
}

func TestHostileRetryClassification(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string
		attempts int32
	}{
		{"InvalidParam.InvalidBiz", 400, "InvalidParam.InvalidBiz", 1},
		{"InvalidParam.ParamMissing", 400, "InvalidParam.ParamMissing", 1},
		{"InvalidParam.Other", 400, "InvalidParam.Whatever", 1},
		{"Error.NoPermissionAccess", 403, "Error.NoPermissionAccess", 1},
		{"SignatureDoesNotMatch", 400, "SignatureDoesNotMatch", 1},
		{"InvalidAccessKeyId.NotFound", 404, "InvalidAccessKeyId.NotFound", 1},
		{"MissingSecurityToken", 400, "MissingSecurityToken", 1},
		{"InvalidSecurityToken.Expired", 400, "InvalidSecurityToken.Expired", 1},
		{"Error.InternalError", 500, "Error.InternalError", 3},
		{"ServiceUnavailable 503", 503, "ServiceUnavailable", 3},
		{"ServiceUnavailable 400", 400, "ServiceUnavailable", 3},
		{"Throttling", 400, "Throttling", 3},
		{"Throttling.User", 400, "Throttling.User", 3},
		{"Throttling.Api", 400, "Throttling.Api", 3},
		{"502 empty", 502, "", 3},
		{"504 empty", 504, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.code != "" {
				body = fmt.Sprintf(`{"RequestId":"rid","Code":%q,"Message":"m"}`, tt.code)
			}
			srv, counter := newHostileServer(t, respondWith(tt.status, body))
			client := newHostileClient(t, srv.URL)

			_, err := callHostile(t, client)

			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.code, apiErr.Code)
			assert.Equal(t, tt.attempts, counter.requests.Load(), "attempts")
		})
	}
}

func TestHostileSuccessFalseRetries(t *testing.T) {
	tests := []struct {
		code     string
		attempts int32
	}{
		{"Throttling.User", 3},
		{"ServiceUnavailable", 3},
		{"InvalidParam.InvalidBiz", 1},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			srv, counter := newHostileServer(t, respondWith(200,
				fmt.Sprintf(`{"Success":false,"Code":%q,"Data":{"StatusCode":1}}`, tt.code)))
			client := newHostileClient(t, srv.URL)

			_, err := callHostile(t, client)

			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.attempts, counter.requests.Load())
		})
	}
}

func TestHostileTransportErrorRetried(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := "http://" + listener.Addr().String()
	require.NoError(t, listener.Close())

	client := newSTSClient(t, endpoint)
	_, err = callHostile(t, client)

	require.Error(t, err)
	assert.Contains(t, err.Error(), "after 3 attempts")
	var netErr net.Error
	assert.ErrorAs(t, err, &netErr)
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr)
	var urlErr *url.Error
	assert.False(t, errors.As(err, &urlErr), "a *url.Error would print the signed URL")
	assertNoSecrets(t, err.Error())
	assertNoSecrets(t, fmt.Sprintf("%+v %#v", err, err))
}

func TestHostileCancelDuringBackoff(t *testing.T) {
	srv, counter := newHostileServer(t, respondWith(503, `{"Code":"ServiceUnavailable","RequestId":"rid"}`))
	client := newHostileClient(t, srv.URL, cloudauth.WithBackoff(10*time.Second, 10*time.Second))

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := client.GetStatus(ctx, hostileRequest)
	elapsed := time.Since(start)

	assert.ErrorIs(t, err, context.Canceled)
	var apiErr *cloudauth.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "ServiceUnavailable", apiErr.Code)
	assert.Equal(t, "rid", apiErr.RequestID)
	assert.Less(t, elapsed, time.Second, "the backoff stops when the context is cancelled")
	assert.EqualValues(t, 1, counter.requests.Load())
}

func TestHostileRateLimitHeaders(t *testing.T) {
	tests := []struct {
		name     string
		header   string
		attempts int32
	}{
		{"negative", "Limit:1,Remain:0,TimeLeft:-5000,Reset:1", 3},
		{"non-numeric", "Limit:1,Remain:0,TimeLeft:soon,Reset:1", 3},
		{"float", "TimeLeft:1.5", 3},
		{"overflowing", "TimeLeft:999999999999999999999999", 3},
		{"int64 max", "TimeLeft:9223372036854775807", 1},
		{"a day", "TimeLeft:86400000", 1},
		{"empty fields", ",,,:,TimeLeft:,", 3},
		{"no colon", "TimeLeft", 3},
		{"spaces and case", " timeleft : 2 ", 3},
		{"repeated", "TimeLeft:1,TimeLeft:99999999", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, counter := newHostileServer(t, respondWith(400, `{"Code":"Throttling.User"}`,
				"x-ratelimit-user-api", tt.header))
			client := newHostileClient(t, srv.URL)

			start := time.Now()
			_, err := callHostile(t, client)

			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.attempts, counter.requests.Load())
			assert.Less(t, time.Since(start), 2*time.Second, "no sleep beyond the maximum backoff")
		})
	}
}

func TestHostileExpiredTimestampDateHeaders(t *testing.T) {
	tests := []struct {
		name     string
		date     string
		attempts int32
	}{
		{"absent", "", 1},
		{"garbage", "yesterday", 1},
		{"year 9999", "Fri, 31 Dec 9999 23:59:59 GMT", 2},
		{"year 1970", "Thu, 01 Jan 1970 00:00:00 GMT", 2},
		{"year 0001", "Mon, 01 Jan 0001 00:00:00 GMT", 1},
		{"RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", 2},
		{"ANSI C", "Sun Nov  6 08:49:37 1994", 2},
		{"very long", strings.Repeat("A", 8000), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, counter := newHostileServer(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.date == "" {
					w.Header()["Date"] = nil
				} else {
					w.Header().Set("Date", tt.date)
				}
				w.WriteHeader(400)
				_, _ = io.WriteString(w, `{"Code":"InvalidTimeStamp.Expired"}`)
			})
			client := newHostileClient(t, srv.URL, cloudauth.WithMaxAttempts(1))

			_, err := callHostile(t, client)

			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.attempts, counter.requests.Load())
		})
	}
}

func TestHostileInvalidRequestsNotSent(t *testing.T) {
	srv, counter := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`))
	client := newHostileClient(t, srv.URL)
	tests := []struct {
		name string
		req  *cloudauth.GetStatusRequest
	}{
		{"nil", nil},
		{"zero", &cloudauth.GetStatusRequest{}},
		{"blank Biz", &cloudauth.GetStatusRequest{Biz: " \t\r\n", TicketID: "t"}},
		{"blank TicketID", &cloudauth.GetStatusRequest{Biz: "RPBasic", TicketID: "\u00a0\u2003"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { _, err = client.GetStatus(context.Background(), tt.req) })
			assert.ErrorIs(t, err, cloudauth.ErrParamMissing)
		})
	}
	assert.Zero(t, counter.requests.Load())
}

// allPrintableASCII is every byte from 0x20 to 0x7E.
func allPrintableASCII() string {
	var b strings.Builder
	for c := byte(0x20); c <= 0x7E; c++ {
		b.WriteByte(c)
	}
	return b.String()
}

func TestHostileSignaturesOddValues(t *testing.T) {
	values := map[string]string{
		"printable ASCII":  allPrintableASCII(),
		"space star tilde": "a b*c~d",
		"percent forms":    "%20%2A%7E%%zz+",
		"Chinese":          "身份证-票据",
		"emoji":            "ticket-😀",
		"control bytes":    "a\x01b\x1fc\x7fd\te\nf",
		"NUL byte":         "nul\x00byte",
		"invalid UTF-8":    "bad\xff\xfe\xc0",
		"4 KiB":            strings.Repeat("t", 4096),
	}
	for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
		for name, value := range values {
			t.Run(fmt.Sprintf("%v %s", version, name), func(t *testing.T) {
				srv := cloudauthtest.NewServer()
				t.Cleanup(srv.Close)
				srv.AddSTSCredentials(hostileKeyID, hostileSecret, hostileToken)
				srv.SetTicket(value, value, cloudauthtest.TicketState{Status: cloudauth.StatusRejected,
					AuditConclusions: value})
				client := newSTSClient(t, srv.URL, cloudauth.WithSignatureVersion(version))

				var resp *cloudauth.GetStatusResponse
				var err error
				require.NotPanics(t, func() {
					resp, err = client.GetStatus(context.Background(),
						&cloudauth.GetStatusRequest{Biz: value, TicketID: value})
				})

				require.NoError(t, err)
				assert.Equal(t, cloudauth.StatusRejected, resp.StatusCode)
				last := srv.LastRequest()
				assert.Equal(t, value, last.Query.Get("TicketId"), "the value arrives unchanged")
			})
		}
	}
}

func TestHostileQueryEncodingIsRFC3986(t *testing.T) {
	var rawQuery atomic.Value
	srv, _ := newHostileServer(t, func(w http.ResponseWriter, r *http.Request) {
		rawQuery.Store(r.URL.RawQuery)
		_, _ = io.WriteString(w, `{"Data":{"StatusCode":1}}`)
	})
	for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
		client := newHostileClient(t, srv.URL, cloudauth.WithSignatureVersion(version))

		_, err := client.GetStatus(context.Background(),
			&cloudauth.GetStatusRequest{Biz: "RPBasic", TicketID: "a b*c~d+e/f"})

		require.NoError(t, err)
		assert.Contains(t, rawQuery.Load(), "TicketId=a%20b%2Ac~d%2Be%2Ff", "version %v", version)
	}
}

func TestHostileHugeTicketRejected(t *testing.T) {
	srv := cloudauthtest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddAccessKey(hostileKeyID, hostileSecret)
	srv.AddBiz("RPBasic")
	client := newHostileClient(t, srv.URL)

	var err error
	require.NotPanics(t, func() {
		_, err = client.GetStatus(context.Background(),
			&cloudauth.GetStatusRequest{Biz: "RPBasic", TicketID: strings.Repeat("x", 2<<20)})
	})

	// The fake's net/http server rejects a request line this long.
	var apiErr *cloudauth.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, apiErr.HTTPStatusCode)
}

func TestHostileInvalidOptions(t *testing.T) {
	tests := []struct {
		name   string
		option cloudauth.Option
		want   string
	}{
		{"endpoint with userinfo", cloudauth.WithEndpoint("https://user:pw@127.0.0.1"), "WithEndpoint"},
		{"endpoint with query", cloudauth.WithEndpoint("http://127.0.0.1/?a=b"), "WithEndpoint"},
		{"endpoint with path", cloudauth.WithEndpoint("http://127.0.0.1/api"), "WithEndpoint"},
		{"endpoint file scheme", cloudauth.WithEndpoint("file:///etc/passwd"), "WithEndpoint"},
		{"endpoint ftp scheme", cloudauth.WithEndpoint("ftp://127.0.0.1"), "WithEndpoint"},
		{"endpoint without scheme", cloudauth.WithEndpoint("127.0.0.1:8080"), "WithEndpoint"},
		{"endpoint empty", cloudauth.WithEndpoint(""), "WithEndpoint"},
		{"endpoint NUL", cloudauth.WithEndpoint("http://127.0.0.1\x00/"), "WithEndpoint"},
		{"max attempts 0", cloudauth.WithMaxAttempts(0), "WithMaxAttempts"},
		{"max attempts negative", cloudauth.WithMaxAttempts(-1), "WithMaxAttempts"},
		{"max attempts huge", cloudauth.WithMaxAttempts(1 << 30), "WithMaxAttempts"},
		{"backoff negative", cloudauth.WithBackoff(-time.Second, time.Second), "WithBackoff"},
		{"backoff inverted", cloudauth.WithBackoff(time.Second, time.Millisecond), "WithBackoff"},
		{"attempt timeout negative", cloudauth.WithAttemptTimeout(-1), "WithAttemptTimeout"},
		{"response bytes negative", cloudauth.WithMaxResponseBytes(-1), "WithMaxResponseBytes"},
		{"format lower case", cloudauth.WithFormat("json"), "WithFormat"},
		{"region upper case", cloudauth.WithRegion("CN-HANGZHOU"), "WithRegion"},
		{"region with &", cloudauth.WithRegion("cn&x=1"), "WithRegion"},
		{"signature version 2", cloudauth.WithSignatureVersion(2), "WithSignatureVersion"},
		{"user agent newline", cloudauth.WithUserAgent("a\r\nX-Evil: 1"), "WithUserAgent"},
		{"nil HTTP client", cloudauth.WithHTTPClient(nil), "WithHTTPClient"},
		{"nil logger", cloudauth.WithLogger(nil), "WithLogger"},
		{"nil provider", cloudauth.WithCredentials(nil), "WithCredentials"},
		{"empty key id", cloudauth.WithAccessKey(" ", "s"), "WithAccessKey"},
		{"empty secret", cloudauth.WithAccessKey("id", ""), "WithAccessKey"},
		{"nil option", nil, "option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() {
				_, err = cloudauth.NewClient(cloudauth.WithAccessKey("id", "s"), tt.option)
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), ":pw@")
		})
	}
}

func TestHostileCredentialsProviders(t *testing.T) {
	tests := []struct {
		name  string
		creds cloudauth.Credentials
		err   error
	}{
		{"empty credentials", cloudauth.Credentials{}, nil},
		{"blank id", cloudauth.Credentials{AccessKeyID: " ", AccessKeySecret: "s"}, nil},
		{"no secret", cloudauth.Credentials{AccessKeyID: "id"}, nil},
		{"expired", cloudauth.Credentials{AccessKeyID: "id", AccessKeySecret: "s",
			Expires: time.Now().Add(-time.Hour)}, nil},
		{"error", cloudauth.Credentials{}, errors.New("vault is sealed")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, counter := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`))
			provider := cloudauth.CredentialsProviderFunc(func(context.Context) (cloudauth.Credentials, error) {
				return tt.creds, tt.err
			})
			client, err := cloudauth.NewClient(cloudauth.WithEndpoint(srv.URL), cloudauth.WithCredentials(provider))
			require.NoError(t, err)

			_, err = callHostile(t, client)

			require.Error(t, err)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
			}
			assert.Zero(t, counter.requests.Load(), "nothing is sent without valid credentials")
		})
	}
}

func TestHostilePanickingProvider(t *testing.T) {
	srv, _ := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`))
	var calls atomic.Int32
	provider := cloudauth.CredentialsProviderFunc(func(context.Context) (cloudauth.Credentials, error) {
		if calls.Add(1) == 1 {
			panic("provider bug")
		}
		return cloudauth.Credentials{AccessKeyID: hostileKeyID, AccessKeySecret: hostileSecret}, nil
	})
	client, err := cloudauth.NewClient(cloudauth.WithEndpoint(srv.URL), cloudauth.WithCredentials(provider))
	require.NoError(t, err)

	assert.Panics(t, func() { _, _ = client.GetStatus(context.Background(), hostileRequest) })

	done := make(chan error, 1)
	go func() {
		_, err := client.GetStatus(context.Background(), hostileRequest)
		done <- err
	}()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the call after a provider panic did not return")
	}
}

func TestHostileDefaultChainSendsNothing(t *testing.T) {
	for _, name := range []string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
		"ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
		"ALIBABA_CLOUD_CONFIG_FILE", "ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_CREDENTIALS_FILE",
		"ALIBABA_CLOUD_CREDENTIALS_URI", "ALIBABA_CLOUD_ROLE_SESSION_NAME", "ALIBABA_CLOUD_ECS_METADATA",
		"ALIBABA_CLOUD_STS_REGION", "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED",
	} {
		t.Setenv(name, "")
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	srv, counter := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`))

	client, err := cloudauth.NewClient(cloudauth.WithEndpoint(srv.URL))
	require.NoError(t, err)
	_, err = callHostile(t, client)

	var noCreds *cloudauth.NoCredentialsError
	require.ErrorAs(t, err, &noCreds)
	assert.Zero(t, counter.requests.Load())
}

// secretForms returns the secret, the token and the encodings in which a
// server may echo them.
func secretForms() []string {
	var forms []string
	for _, secret := range []string{hostileSecret, hostileToken} {
		once := cloudauth.PercentEncode(secret)
		forms = append(forms, secret, once, cloudauth.PercentEncode(once), url.QueryEscape(secret))
	}
	return forms
}

// assertNoSecrets fails when text contains the AccessKey secret or any 16
// bytes in a row of the security token, in any form a server may echo.
func assertNoSecrets(t *testing.T, text string) {
	t.Helper()
	for _, form := range secretForms() {
		for i := 0; i+16 <= len(form); i += 8 {
			if strings.Contains(text, form[i:i+16]) {
				t.Errorf("text contains %q, part of a secret: %.300s", form[i:i+16], text)
				return
			}
		}
	}
}

// shortToken is an STS security token short enough that every form of it
// that formEchoHandler echoes fits in the shortest error excerpt.
const shortToken = "STS.ab+cd/ef=gh"

// signatureOf returns the signature of a V1 or V3 request.
func signatureOf(r *http.Request) string {
	if signature := r.URL.Query().Get("Signature"); signature != "" {
		return signature
	}
	authorization := r.Header.Get("Authorization")
	return authorization[strings.LastIndexByte(authorization, '=')+1:]
}

// formEchoHandler returns a handler that responds with status and a body, in
// layout, that repeats the security token and the request's signature raw,
// percent-encoded once and twice and query-escaped, as a service echoing a
// string to sign does. It stores each signature it receives in signatures.
func formEchoHandler(status int, layout string, signatures *lockedStrings) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		signature := signatureOf(r)
		signatures.add(signature)
		var echo strings.Builder
		for _, secret := range []string{shortToken, signature} {
			once := cloudauth.PercentEncode(secret)
			fmt.Fprintf(&echo, "%s %s %s %s ", secret, once, cloudauth.PercentEncode(once), url.QueryEscape(secret))
		}
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, layout, echo.String())
	}
}

// lockedStrings is a list of strings safe for concurrent use.
type lockedStrings struct {
	mu     sync.Mutex
	values []string
}

func (l *lockedStrings) add(value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.values = append(l.values, value)
}

func (l *lockedStrings) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.values...)
}

func TestHostileEchoedSecretsRedacted(t *testing.T) {
	layouts := []struct {
		name   string
		status int
		layout string
	}{
		{"JSON error", 400, `{"Code":"SignatureDoesNotMatch","Message":"%s","RequestId":"rid"}`},
		{"XML error", 400, `<Error><Code>SignatureDoesNotMatch</Code><Message>%s</Message></Error>`},
		{"HTML error", 502, `<html><body><p>%s</p></body></html>`},
		{"text error", 400, `%s`},
		{"JSON success false", 200, `{"Success":false,"Code":"SignatureDoesNotMatch","Message":"%s"}`},
		{"malformed 200", 200, `{"Data":"%s`},
	}
	for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
		for _, tt := range layouts {
			t.Run(fmt.Sprintf("%v %s", version, tt.name), func(t *testing.T) {
				var signatures lockedStrings
				srv, _ := newHostileServer(t, formEchoHandler(tt.status, tt.layout, &signatures))
				var logs bytes.Buffer
				logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				provider := cloudauth.NewStaticCredentialsProvider(hostileKeyID, hostileSecret, shortToken)
				client, err := cloudauth.NewClient(cloudauth.WithEndpoint(srv.URL),
					cloudauth.WithCredentials(provider), cloudauth.WithSignatureVersion(version),
					cloudauth.WithBackoff(time.Millisecond, time.Millisecond), cloudauth.WithLogger(logger))
				require.NoError(t, err)

				_, err = callHostile(t, client)

				require.Error(t, err)
				var texts []string
				texts = append(texts, fmt.Sprintf("%v|%+v|%#v|%s|%q", err, err, err, err, err), logs.String())
				var apiErr *cloudauth.APIError
				if errors.As(err, &apiErr) {
					texts = append(texts, fmt.Sprintf("%#v", *apiErr))
				}
				var respErr *cloudauth.ResponseError
				if errors.As(err, &respErr) {
					texts = append(texts, fmt.Sprintf("%#v", *respErr))
				}
				for _, text := range texts {
					assertNoSecrets(t, text)
					for _, secret := range append(signatures.all(), shortToken) {
						once := cloudauth.PercentEncode(secret)
						for _, form := range []string{secret, once, cloudauth.PercentEncode(once), url.QueryEscape(secret)} {
							assert.NotContains(t, text, form)
						}
					}
				}
			})
		}
	}
}

func TestHostilePrintedValuesHideSecrets(t *testing.T) {
	srv, _ := newHostileServer(t, respondWith(200, `{"Data":{"StatusCode":1}}`))
	provider := cloudauth.NewStaticCredentialsProvider(hostileKeyID, hostileSecret, hostileToken)
	client := newSTSClient(t, srv.URL)
	_, err := callHostile(t, client)
	require.NoError(t, err)
	creds, err := provider.Retrieve(context.Background())
	require.NoError(t, err)

	for _, value := range []any{client, provider, creds, &creds} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%T", "%d"} {
			assertNoSecrets(t, fmt.Sprintf(verb, value))
		}
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("value", "v", value)
		slog.New(slog.NewTextHandler(&logs, nil)).Info("value", "v", value)
		assertNoSecrets(t, logs.String())
	}
}

func TestHostileConcurrentCallsWithFaults(t *testing.T) {
	srv := cloudauthtest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddSTSCredentials(hostileKeyID, hostileSecret, hostileToken)
	srv.SetTicket("RPBasic", "ticket-1", cloudauthtest.TicketState{Status: cloudauth.StatusPassed})
	srv.SetFaultRate(0.3, 1,
		cloudauthtest.ServiceUnavailableFailure(),
		cloudauthtest.BadGatewayHTML(),
		cloudauthtest.ThrottlingFailure(time.Millisecond),
		cloudauthtest.Failure{Status: 200, Body: `{"Data":`},
		cloudauthtest.Failure{Status: 400, Code: "SignatureDoesNotMatch", Message: "no"},
	)
	var logs lockedBuffer
	for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
		client := newSTSClient(t, srv.URL, cloudauth.WithSignatureVersion(version),
			cloudauth.WithMaxAttempts(5),
			cloudauth.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))

		var wg sync.WaitGroup
		var succeeded, failed atomic.Int32
		for g := 0; g < 64; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					resp, err := client.GetStatus(ctx, hostileRequest)
					cancel()
					if err != nil {
						failed.Add(1)
						assertTypedError(t, err)
						assertNoSecrets(t, err.Error())
						continue
					}
					succeeded.Add(1)
					if resp.StatusCode != cloudauth.StatusPassed {
						t.Errorf("status %v", resp.StatusCode)
					}
				}
			}()
		}
		wg.Wait()
		assert.Positive(t, succeeded.Load())
		assert.Positive(t, failed.Load())
	}
	assertNoSecrets(t, logs.String())
	assert.Zero(t, srv.Stats().Rejected["SignatureNonceUsed"], "no nonce was reused")
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
