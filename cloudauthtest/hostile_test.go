package cloudauthtest

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudauth-go/cloudauth"
)

// These tests attack the fake's own checks: requests that a strict service
// rejects must be rejected, correct ones in unusual forms must pass, and
// its setters must behave under misuse and concurrent use.

// requireCode asserts that resp is an error response with status and code.
func requireCode(t *testing.T, resp response, status int, code string) {
	t.Helper()
	require.Equal(t, status, resp.status, "body: %s", resp.body)
	assert.Equal(t, code, resp.jsonError(t).Code)
}

func TestHostileV3HeaderSentButNotSigned(t *testing.T) {
	srv := newTestServer(t)
	signed := append([]string(nil), v3RequiredSignedHeaders...)
	req := v3Request{
		extraHeaders:  http.Header{"X-Acs-Extra": {"1"}},
		signedHeaders: signed,
	}.build(t, srv)

	resp := send(t, req)

	requireCode(t, resp, http.StatusBadRequest, "SignatureDoesNotMatch")
	assert.Contains(t, resp.jsonError(t).Message, "x-acs-extra")
}

func TestHostileV3HeaderAddedAfterSigning(t *testing.T) {
	srv := newTestServer(t)
	req := v3Request{afterSigning: func(req *http.Request) {
		req.Header.Add("X-Acs-Date", time.Now().UTC().Format(timestampLayout))
	}}.build(t, srv)

	requireCode(t, send(t, req), http.StatusBadRequest, "SignatureDoesNotMatch")
}

func TestHostileV3MissingRequiredSignedHeader(t *testing.T) {
	for _, left := range v3RequiredSignedHeaders {
		t.Run(left, func(t *testing.T) {
			srv := newTestServer(t)
			var signed []string
			for _, name := range v3RequiredSignedHeaders {
				if name != left {
					signed = append(signed, name)
				}
			}
			resp := send(t, v3Request{signedHeaders: signed}.build(t, srv))

			requireCode(t, resp, http.StatusBadRequest, "SignatureDoesNotMatch")
		})
	}
}

func TestHostileV3ExtraSignedHeaderNotSent(t *testing.T) {
	// Signing a header that is absent signs an empty value, which the
	// verifier reproduces, so the request passes.
	srv := newTestServer(t)
	signed := append([]string{"content-type"}, v3RequiredSignedHeaders...)
	signed = append(signed, "x-acs-missing")
	sort.Strings(signed)

	resp := send(t, v3Request{signedHeaders: signed}.build(t, srv))

	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
}

func TestHostileV3QueryChangedAfterSigning(t *testing.T) {
	srv := newTestServer(t)
	req := v3Request{afterSigning: func(req *http.Request) {
		req.URL.RawQuery += "&TicketId=other"
	}}.build(t, srv)

	requireCode(t, send(t, req), http.StatusBadRequest, "SignatureDoesNotMatch")
}

func TestHostileV3LowerCaseHexAccepted(t *testing.T) {
	srv := newTestServer(t)

	resp := send(t, v3Request{}.build(t, srv))

	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
}

func TestHostileV3ContentHashUpperCaseRejected(t *testing.T) {
	srv := newTestServer(t)
	req := v3Request{afterSigning: func(req *http.Request) {
		req.Header.Set("X-Acs-Content-Sha256", strings.ToUpper(hexSHA256(nil)))
	}}.build(t, srv)

	requireCode(t, send(t, req), http.StatusBadRequest, "SignatureDoesNotMatch")
}

func TestHostileV3PostFormBodyChanged(t *testing.T) {
	srv := newTestServer(t)
	req := v3Request{
		method:      http.MethodPost,
		query:       url.Values{"RegionId": {"cn-hangzhou"}},
		body:        "Biz=" + testBiz + "&TicketId=" + testTicket,
		contentType: "application/x-www-form-urlencoded",
		afterSigning: func(req *http.Request) {
			body := "Biz=" + testBiz + "&TicketId=other"
			req.Body = io.NopCloser(strings.NewReader(body))
			req.ContentLength = int64(len(body))
		},
	}.build(t, srv)

	requireCode(t, send(t, req), http.StatusBadRequest, "SignatureDoesNotMatch")
}

func TestHostileV1PostQueryAndFormBothSigned(t *testing.T) {
	srv := newTestServer(t)
	srv.SetTicket(testBiz, testTicket, TicketState{Status: cloudauth.StatusPassed})
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodPost, testSecret, params)
	req := newV1Request(t, srv, http.MethodPost, params)
	// A second TicketId in the query, which the signature does not cover,
	// is rejected before the signature is checked.
	req.URL.RawQuery = "TicketId=other"

	requireCode(t, send(t, req), http.StatusBadRequest, "InvalidParameter")
}

func TestHostileV1PercentEncodingVariants(t *testing.T) {
	// The fake decodes the query before it signs it again, so a lower-case
	// escape and a '+' for a space reach the same string to sign.
	tests := []struct {
		name     string
		ticketID string
		raw      string
	}{
		{"lower-case hex", "a*b", "a%2ab"},
		{"plus for space", "a b", "a+b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t)
			params := v1Params(testKeyID, testBiz, tt.ticketID)
			signV1(http.MethodGet, testSecret, params)
			req := newV1Request(t, srv, http.MethodGet, params)
			req.URL.RawQuery = strings.Replace(req.URL.RawQuery, "TicketId="+rfc3986Encode(tt.ticketID),
				"TicketId="+tt.raw, 1)
			require.Contains(t, req.URL.RawQuery, "TicketId="+tt.raw)

			resp := send(t, req)

			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			assert.Equal(t, 1, srv.TicketPolls(testBiz, tt.ticketID))
		})
	}
}

func TestHostileTimestampForms(t *testing.T) {
	now := time.Now().UTC()
	for _, timestamp := range []string{
		now.Format("2006-01-02T15:04:05+00:00"),
		now.Format("2006-01-02T15:04:05"),
		now.Format("2006-01-02 15:04:05Z"),
		now.Format("2006-01-02T15:04:05z"),
		now.Format(http.TimeFormat),
		" " + now.Format(timestampLayout),
	} {
		t.Run(timestamp, func(t *testing.T) {
			srv := newTestServer(t)
			params := v1Params(testKeyID, testBiz, testTicket)
			params.Set("Timestamp", timestamp)
			signV1(http.MethodGet, testSecret, params)

			resp := send(t, newV1Request(t, srv, http.MethodGet, params))

			requireCode(t, resp, http.StatusBadRequest, "InvalidTimeStamp.Expired")
		})
	}
}

func TestHostileNonceReuseV3ThenV1(t *testing.T) {
	srv := newTestServer(t)
	var nonce string
	first := v3Request{afterSigning: func(req *http.Request) {
		nonce = req.Header.Get("X-Acs-Signature-Nonce")
	}}.build(t, srv)
	require.Equal(t, http.StatusOK, send(t, first).status)

	params := v1Params(testKeyID, testBiz, testTicket)
	params.Set("SignatureNonce", nonce)
	signV1(http.MethodGet, testSecret, params)

	requireCode(t, send(t, newV1Request(t, srv, http.MethodGet, params)),
		http.StatusBadRequest, "SignatureNonceUsed")
}

func TestHostileSTSTokenMismatch(t *testing.T) {
	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"other token", "token-2", "InvalidSecurityToken.Expired"},
		{"prefix of token", "token", "InvalidSecurityToken.Expired"},
		{"token with suffix", "token-1x", "InvalidSecurityToken.Expired"},
	}
	for _, tt := range tests {
		t.Run("V1 "+tt.name, func(t *testing.T) {
			srv := newTestServer(t)
			srv.AddSTSCredentials("STS.id", "sts-secret", "token-1")
			params := v1Params("STS.id", testBiz, testTicket)
			params.Set("SecurityToken", tt.token)
			signV1(http.MethodGet, "sts-secret", params)

			requireCode(t, send(t, newV1Request(t, srv, http.MethodGet, params)), http.StatusBadRequest, tt.code)
		})
		t.Run("V3 "+tt.name, func(t *testing.T) {
			srv := newTestServer(t)
			srv.AddSTSCredentials("STS.id", "sts-secret", "token-1")
			req := v3Request{keyID: "STS.id", secret: "sts-secret", securityToken: tt.token}.build(t, srv)

			requireCode(t, send(t, req), http.StatusBadRequest, tt.code)
		})
	}
	t.Run("V3 token in query only", func(t *testing.T) {
		srv := newTestServer(t)
		srv.AddSTSCredentials("STS.id", "sts-secret", "token-1")
		query := url.Values{"RegionId": {"cn-hangzhou"}, "Biz": {testBiz}, "TicketId": {testTicket},
			"SecurityToken": {"token-1"}}
		req := v3Request{keyID: "STS.id", secret: "sts-secret", query: query}.build(t, srv)

		requireCode(t, send(t, req), http.StatusBadRequest, "MissingSecurityToken")
	})
}

func TestHostileUnusualValuesAccepted(t *testing.T) {
	var printable strings.Builder
	for c := byte(0x20); c < 0x7f; c++ {
		printable.WriteByte(c)
	}
	values := map[string]string{
		"printable ASCII": printable.String(),
		"non-ASCII":       "票据-認証-ÄÖÜ-🙂",
		"long":            strings.Repeat("x", 64<<10),
	}
	for name, value := range values {
		t.Run("V1 GET "+name, func(t *testing.T) {
			srv := newTestServer(t)
			srv.AddBiz(value)
			params := v1Params(testKeyID, value, value)
			signV1(http.MethodGet, testSecret, params)

			resp := send(t, newV1Request(t, srv, http.MethodGet, params))

			require.Equal(t, http.StatusOK, resp.status, "body: %.300s", resp.body)
			assert.Equal(t, 1, srv.TicketPolls(value, value))
		})
		t.Run("V1 POST "+name, func(t *testing.T) {
			srv := newTestServer(t)
			srv.AddBiz(value)
			params := v1Params(testKeyID, value, value)
			signV1(http.MethodPost, testSecret, params)

			resp := send(t, newV1Request(t, srv, http.MethodPost, params))

			require.Equal(t, http.StatusOK, resp.status, "body: %.300s", resp.body)
			assert.Equal(t, 1, srv.TicketPolls(value, value))
		})
		t.Run("V3 "+name, func(t *testing.T) {
			srv := newTestServer(t)
			srv.AddBiz(value)
			query := url.Values{"RegionId": {"cn-hangzhou"}, "Biz": {value}, "TicketId": {value}}

			resp := send(t, v3Request{query: query}.build(t, srv))

			require.Equal(t, http.StatusOK, resp.status, "body: %.300s", resp.body)
			assert.Equal(t, 1, srv.TicketPolls(value, value))
		})
	}
}

func TestHostileMisuseOfSetters(t *testing.T) {
	srv := newTestServer(t)

	t.Run("FailNext with n <= 0 queues nothing", func(t *testing.T) {
		srv.FailNext(-3, ServiceUnavailableFailure())
		srv.FailNext(0, ServiceUnavailableFailure())
		assert.Equal(t, http.StatusOK, getStatusV1(t, srv, testBiz, testTicket).status)
	})
	t.Run("SetFaultRate outside [0, 1] panics", func(t *testing.T) {
		for _, rate := range []float64{-0.01, 1.01, math.NaN(), math.Inf(1)} {
			assert.Panics(t, func() { srv.SetFaultRate(rate, 1) }, "rate %v", rate)
		}
		assert.Equal(t, http.StatusOK, getStatusV1(t, srv, testBiz, testTicket).status)
	})
	t.Run("SetRateLimit with invalid values panics", func(t *testing.T) {
		assert.Panics(t, func() { srv.SetRateLimit(-1, 1) })
		assert.Panics(t, func() { srv.SetRateLimit(math.NaN(), 1) })
		assert.Panics(t, func() { srv.SetRateLimit(math.Inf(1), 1) })
		assert.Panics(t, func() { srv.SetRateLimit(1, 0) })
		assert.Panics(t, func() { srv.SetRateLimit(1, -1) })
		assert.NotPanics(t, func() { srv.SetRateLimit(0, 0) })
		assert.Equal(t, http.StatusOK, getStatusV1(t, srv, testBiz, testTicket).status)
	})
	t.Run("ScriptTicket with no steps panics", func(t *testing.T) {
		assert.Panics(t, func() { srv.ScriptTicket(testBiz, testTicket) })
	})
	t.Run("empty Biz is still a missing parameter", func(t *testing.T) {
		srv.AddBiz("")
		resp := getStatusV1(t, srv, "", testTicket)
		requireCode(t, resp, http.StatusBadRequest, "InvalidParam.ParamMissing")
	})
}

func TestHostileCallsAfterClose(t *testing.T) {
	srv := NewServer()
	srv.Close()

	assert.NotPanics(t, func() {
		srv.AddAccessKey("id", "secret")
		srv.AddBiz("Biz")
		srv.SetTicket("Biz", "t", TicketState{Status: cloudauth.StatusPassed})
		srv.FailNext(1, SlowAnswer(time.Hour))
		srv.SetFaultRate(0.5, 1)
		srv.SetRateLimit(1, 1)
		srv.SetClockSkew(time.Hour)
		_ = srv.Stats()
		_ = srv.LastRequest()
		_ = srv.Now()
		srv.Close()
	})
	_, err := http.Get(srv.URL + "/")
	assert.Error(t, err)
}

func TestHostileStatsAndLastRequestAreCopies(t *testing.T) {
	srv := newTestServer(t)
	srv.FailNext(1, Failure{Status: http.StatusBadRequest, Code: "Bad", Message: "m"})
	getStatusV1(t, srv, testBiz, testTicket)
	resp := send(t, v3Request{method: http.MethodPost, body: "", contentType: "text/plain"}.build(t, srv))
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

	stats := srv.Stats()
	stats.Rejected["Injected"] = 99
	stats.Requests = 0
	record := srv.LastRequest()
	record.Header.Set("Authorization", "changed")
	record.Query.Set("Biz", "changed")
	record.Body = append(record.Body, 'x')

	again := srv.Stats()
	assert.Equal(t, 2, again.Requests)
	assert.NotContains(t, again.Rejected, "Injected")
	fresh := srv.LastRequest()
	assert.NotEqual(t, "changed", fresh.Header.Get("Authorization"))
	assert.Equal(t, testBiz, fresh.Query.Get("Biz"))
	assert.Empty(t, fresh.Body)
}

func TestHostileSettersDuringRequests(t *testing.T) {
	const (
		senders   = 16
		perSender = 25
	)
	srv := newTestServer(t)
	client := srv.Client()

	requests := make([][]*http.Request, senders)
	for g := range requests {
		for i := 0; i < perSender; i++ {
			var req *http.Request
			if (g+i)%2 == 0 {
				params := v1Params(testKeyID, testBiz, testTicket)
				signV1(http.MethodGet, testSecret, params)
				req = newV1Request(t, srv, http.MethodGet, params)
			} else {
				req = v3Request{}.build(t, srv)
			}
			requests[g] = append(requests[g], req)
		}
	}

	stop := make(chan struct{})
	var setters sync.WaitGroup
	setters.Add(1)
	go func() {
		defer setters.Done()
		for i := 0; i < 10_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			switch i % 7 {
			case 0:
				srv.SetTicket(testBiz, testTicket, TicketState{Status: cloudauth.StatusCode(i % 3)})
			case 1:
				srv.ScriptTicket(testBiz, testTicket,
					Step{State: TicketState{Status: cloudauth.StatusInReview}, Polls: 1},
					Step{State: TicketState{Status: cloudauth.StatusPassed}})
			case 2:
				srv.FailNext(1, Failure{Status: http.StatusServiceUnavailable,
					Header: http.Header{"X-Test": {"1"}}})
			case 3:
				srv.SetFaultRate(0.2, int64(i), BadGatewayHTML())
			case 4:
				srv.SetRateLimit(float64(1000+i), 100)
			case 5:
				srv.SetClockSkew(time.Duration(i%3) * time.Second)
			default:
				srv.SetRateLimit(0, 0)
				srv.SetFaultRate(0, 0)
			}
			_ = srv.Stats()
			_ = srv.LastRequest()
		}
	}()

	var senderGroup sync.WaitGroup
	for _, batch := range requests {
		senderGroup.Add(1)
		go func(batch []*http.Request) {
			defer senderGroup.Done()
			for _, req := range batch {
				resp, err := client.Do(req)
				if !assert.NoError(t, err) {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusBadGateway,
					http.StatusServiceUnavailable}, resp.StatusCode)
			}
		}(batch)
	}
	senderGroup.Wait()
	close(stop)
	setters.Wait()

	stats := srv.Stats()
	rejected := 0
	for code, count := range stats.Rejected {
		assert.Contains(t, []string{"Throttling.User"}, code)
		rejected += count
	}
	assert.Equal(t, senders*perSender, stats.Requests)
	assert.Equal(t, stats.Requests, stats.Succeeded+stats.Injected+stats.Canceled+rejected)
}

func TestHostileCloseWithSlowRequestsInFlight(t *testing.T) {
	srv := newTestServer(t)
	srv.FailNext(8, SlowAnswer(time.Hour))

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		req := v3Request{}.build(t, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- sendWithContext(context.Background(), req)
		}()
	}
	require.Eventually(t, func() bool { return srv.Stats().Delayed == 8 }, 5*time.Second, time.Millisecond)

	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s with slow requests in flight")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.Error(t, err)
	}
	stats := srv.Stats()
	assert.Equal(t, 8, stats.Canceled)
}
