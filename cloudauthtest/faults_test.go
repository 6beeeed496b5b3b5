package cloudauthtest

import (
	"context"
	"errors"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var rateLimitPattern = regexp.MustCompile(`^Limit:(\d+),Remain:0,TimeLeft:(\d+),Reset:(\d+)$`)

// parseRateLimit checks the x-ratelimit-user-api value and returns its
// Limit, TimeLeft and Reset fields.
func parseRateLimit(t *testing.T, value string) (limit, timeLeft, reset int64) {
	t.Helper()
	match := rateLimitPattern.FindStringSubmatch(value)
	require.NotNil(t, match, "x-ratelimit-user-api: %q", value)
	fields := make([]int64, 3)
	for i := range fields {
		n, err := strconv.ParseInt(match[i+1], 10, 64)
		require.NoError(t, err)
		fields[i] = n
	}
	return fields[0], fields[1], fields[2]
}

func TestFailNextOrder(t *testing.T) {
	srv := newTestServer(t)
	srv.FailNext(1, ServiceUnavailableFailure())
	srv.FailNext(2, BadGatewayHTML())
	srv.FailNext(1, ThrottlingFailure(1500*time.Millisecond))

	var responses []response
	for i := 0; i < 5; i++ {
		responses = append(responses, getStatusV1(t, srv, testBiz, testTicket))
	}

	assert.Equal(t, http.StatusServiceUnavailable, responses[0].status)
	assert.Equal(t, "ServiceUnavailable", responses[0].jsonError(t).Code)
	for _, resp := range responses[1:3] {
		assert.Equal(t, http.StatusBadGateway, resp.status)
		assert.Equal(t, "text/html", resp.header.Get("Content-Type"))
		assert.Contains(t, resp.body, "<h1>502 Bad Gateway</h1>")
	}
	throttled := responses[3]
	assert.Equal(t, http.StatusBadRequest, throttled.status)
	assert.Equal(t, "Throttling.User", throttled.jsonError(t).Code)
	limit, timeLeft, reset := parseRateLimit(t, throttled.header.Get("x-ratelimit-user-api"))
	assert.Equal(t, int64(1), limit)
	assert.Equal(t, int64(1500), timeLeft)
	assert.GreaterOrEqual(t, reset, time.Now().Unix()+1)
	assert.Equal(t, http.StatusOK, responses[4].status)

	for _, resp := range responses {
		assert.Regexp(t, requestIDPattern, resp.header.Get("x-acs-request-id"))
		assert.NotEmpty(t, resp.header.Get("Date"))
	}
	stats := srv.Stats()
	assert.Equal(t, 4, stats.Injected)
	assert.Equal(t, 1, stats.Succeeded)
	assert.Empty(t, stats.Rejected)
}

func TestFailNextComesBeforeChecks(t *testing.T) {
	srv := newTestServer(t)
	srv.FailNext(1, ServiceUnavailableFailure())
	unsigned, err := http.NewRequest(http.MethodGet, srv.URL+"/?Format=XML", nil)
	require.NoError(t, err)

	failed := send(t, unsigned)
	checked := send(t, unsigned.Clone(context.Background()))

	assert.Equal(t, http.StatusServiceUnavailable, failed.status)
	assert.Equal(t, "text/xml;charset=utf-8", failed.header.Get("Content-Type"))
	body := failed.xmlError(t)
	assert.Equal(t, "ServiceUnavailable", body.Code)
	assert.Equal(t, failed.header.Get("x-acs-request-id"), body.RequestID)
	assert.Equal(t, http.StatusBadRequest, checked.status)
	assert.Equal(t, "InvalidParam.ParamMissing", checked.xmlError(t).Code)
}

func TestCustomFailures(t *testing.T) {
	tests := []struct {
		name        string
		failure     Failure
		status      int
		body        string
		contentType string
		header      http.Header
	}{
		{
			name:    "empty body",
			failure: Failure{Status: http.StatusInternalServerError},
			status:  http.StatusInternalServerError,
		},
		{
			name: "verbatim body",
			failure: Failure{
				Status:      http.StatusOK,
				Body:        `{"RequestId":"fixed","Success":false,"Code":"Error.InternalError"}`,
				ContentType: "application/json",
				Header:      http.Header{"Retry-After": {"3"}, "X-Acs-Request-Id": {"fixed"}},
			},
			status:      http.StatusOK,
			body:        `{"RequestId":"fixed","Success":false,"Code":"Error.InternalError"}`,
			contentType: "application/json",
			header:      http.Header{"Retry-After": {"3"}, "X-Acs-Request-Id": {"fixed"}},
		},
		{
			name:        "coded error",
			failure:     Failure{Status: http.StatusForbidden, Code: "Error.NoPermissionAccess", Message: "No permission."},
			status:      http.StatusForbidden,
			body:        `"Code":"Error.NoPermissionAccess","Message":"No permission."`,
			contentType: "application/json;charset=utf-8",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t)
			srv.FailNext(1, tt.failure)
			if tt.failure.Header != nil {
				tt.failure.Header.Set("Retry-After", "changed after FailNext")
			}

			resp := getStatusV1(t, srv, testBiz, testTicket)

			assert.Equal(t, tt.status, resp.status)
			if tt.body == "" {
				assert.Empty(t, resp.body)
			} else {
				assert.Contains(t, resp.body, tt.body)
			}
			assert.Equal(t, tt.contentType, resp.header.Get("Content-Type"))
			for name := range tt.header {
				assert.Equal(t, tt.header.Get(name), resp.header.Get(name), name)
			}
			assert.Equal(t, 1, srv.Stats().Injected)
		})
	}
}

func TestSlowAnswerThenNormalResponse(t *testing.T) {
	srv := newTestServer(t)
	srv.FailNext(1, SlowAnswer(10*time.Millisecond))

	resp := getStatusV1(t, srv, testBiz, testTicket)

	assert.Equal(t, http.StatusOK, resp.status)
	stats := srv.Stats()
	assert.Equal(t, 1, stats.Delayed)
	assert.Equal(t, 0, stats.Injected)
	assert.Equal(t, 1, stats.Succeeded)
}

func TestSlowAnswerStopsOnCancel(t *testing.T) {
	srv := newTestServer(t)
	srv.FailNext(1, SlowAnswer(time.Hour))
	params := v1Params(testKeyID, testBiz, testTicket)
	signV1(http.MethodGet, testSecret, params)
	req := newV1Request(t, srv, http.MethodGet, params)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	result := make(chan error, 1)
	go func() { result <- sendWithContext(ctx, req) }()
	require.Eventually(t, func() bool { return srv.Stats().Delayed == 1 }, 10*time.Second, time.Millisecond)
	cancel()

	assert.ErrorIs(t, <-result, context.Canceled)
	require.Eventually(t, func() bool { return srv.Stats().Canceled == 1 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, http.StatusOK, getStatusV1(t, srv, testBiz, testTicket).status)
	stats := srv.Stats()
	assert.Equal(t, 2, stats.Requests)
	assert.Equal(t, 1, stats.Succeeded)
	assert.Equal(t, 0, stats.Injected)
}

func TestCloseEndsSlowAnswer(t *testing.T) {
	srv := newTestServer(t)
	srv.FailNext(1, SlowAnswer(time.Hour))
	req := v3Request{}.build(t, srv)

	result := make(chan error, 1)
	go func() { result <- sendWithContext(context.Background(), req) }()
	require.Eventually(t, func() bool { return srv.Stats().Delayed == 1 }, 10*time.Second, time.Millisecond)
	srv.Close()

	assert.Error(t, <-result)
	assert.Equal(t, 1, srv.Stats().Canceled)
}

// faultStatuses sends n signed requests one at a time and returns the
// status of each response.
func faultStatuses(t *testing.T, rate float64, seed int64, n int, failures ...Failure) []int {
	t.Helper()
	srv := newTestServer(t)
	srv.SetFaultRate(rate, seed, failures...)
	statuses := make([]int, n)
	for i := range statuses {
		statuses[i] = getStatusV1(t, srv, testBiz, testTicket).status
	}
	return statuses
}

func TestSetFaultRateRepeatsWithSeed(t *testing.T) {
	first := faultStatuses(t, 0.5, 42, 40)
	second := faultStatuses(t, 0.5, 42, 40)
	otherSeed := faultStatuses(t, 0.5, 43, 40)

	assert.Equal(t, first, second)
	assert.NotEqual(t, first, otherSeed)
	assert.Contains(t, first, http.StatusOK)
	assert.Contains(t, first, http.StatusServiceUnavailable)
	for _, status := range first {
		assert.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, status)
	}
}

func TestSetFaultRateBounds(t *testing.T) {
	never := faultStatuses(t, 0, 1, 10)
	always := faultStatuses(t, 1, 1, 20, BadGatewayHTML(), ThrottlingFailure(time.Second))

	for _, status := range never {
		assert.Equal(t, http.StatusOK, status)
	}
	assert.Contains(t, always, http.StatusBadGateway)
	assert.Contains(t, always, http.StatusBadRequest)
	assert.NotContains(t, always, http.StatusOK)
}

func TestSetFaultRateAfterFailNext(t *testing.T) {
	srv := newTestServer(t)
	srv.SetFaultRate(1, 1, BadGatewayHTML())
	srv.FailNext(1, ServiceUnavailableFailure())

	first := getStatusV1(t, srv, testBiz, testTicket)
	second := getStatusV1(t, srv, testBiz, testTicket)
	srv.SetFaultRate(0, 0)
	third := getStatusV1(t, srv, testBiz, testTicket)

	assert.Equal(t, http.StatusServiceUnavailable, first.status)
	assert.Equal(t, http.StatusBadGateway, second.status)
	assert.Equal(t, http.StatusOK, third.status)
}

func TestSetFaultRateRejectsInvalidRate(t *testing.T) {
	srv := newTestServer(t)
	for _, rate := range []float64{-0.1, 1.5, math.NaN()} {
		assert.Panics(t, func() { srv.SetFaultRate(rate, 1) }, "rate %v", rate)
	}
}

func TestRateLimit(t *testing.T) {
	srv := newTestServer(t)
	srv.SetRateLimit(0.001, 2)

	first := getStatusV1(t, srv, testBiz, testTicket)
	second := getStatusV1(t, srv, testBiz, testTicket)
	throttled := getStatusV1(t, srv, testBiz, testTicket)
	srv.SetRateLimit(0, 0)
	unlimited := getStatusV1(t, srv, testBiz, testTicket)

	assert.Equal(t, http.StatusOK, first.status)
	assert.Equal(t, http.StatusOK, second.status)
	assert.Equal(t, http.StatusBadRequest, throttled.status)
	assert.Equal(t, "Throttling.User", throttled.jsonError(t).Code)
	limit, timeLeft, reset := parseRateLimit(t, throttled.header.Get("x-ratelimit-user-api"))
	assert.Equal(t, int64(2), limit)
	assert.Greater(t, timeLeft, int64(990_000), "one token takes 1000 s at 0.001 per second")
	assert.LessOrEqual(t, timeLeft, int64(1_000_000))
	assert.GreaterOrEqual(t, reset, time.Now().Unix()+990)
	assert.Equal(t, http.StatusOK, unlimited.status)
	assert.Equal(t, map[string]int{"Throttling.User": 1}, srv.Stats().Rejected)
}

func TestRateLimitSkipsUnauthenticated(t *testing.T) {
	srv := newTestServer(t)
	srv.SetRateLimit(0.001, 1)

	unknownKey := send(t, v3Request{keyID: "unknown", secret: "x"}.build(t, srv))
	allowed := getStatusV1(t, srv, testBiz, testTicket)

	assert.Equal(t, "InvalidAccessKeyId.NotFound", unknownKey.jsonError(t).Code)
	assert.Equal(t, http.StatusOK, allowed.status)
}

func TestSetRateLimitRejectsInvalidValues(t *testing.T) {
	srv := newTestServer(t)

	assert.Panics(t, func() { srv.SetRateLimit(-1, 1) })
	assert.Panics(t, func() { srv.SetRateLimit(math.Inf(1), 1) })
	assert.Panics(t, func() { srv.SetRateLimit(math.NaN(), 1) })
	assert.Panics(t, func() { srv.SetRateLimit(1, 0) })
	assert.NotPanics(t, func() { srv.SetRateLimit(0, 0) })
}

func TestTokenBucket(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	bucket := &tokenBucket{rate: 2, burst: 2, tokens: 2, last: start}

	for i := 0; i < 2; i++ {
		ok, _ := bucket.take(start)
		assert.True(t, ok, "burst token %d", i)
	}
	ok, wait := bucket.take(start)
	assert.False(t, ok)
	assert.Equal(t, 500*time.Millisecond, wait)

	ok, wait = bucket.take(start.Add(250 * time.Millisecond))
	assert.False(t, ok)
	assert.Equal(t, 250*time.Millisecond, wait)

	ok, _ = bucket.take(start.Add(500 * time.Millisecond))
	assert.True(t, ok)

	ok, _ = bucket.take(start.Add(time.Hour))
	assert.True(t, ok)
	ok, _ = bucket.take(start.Add(time.Hour))
	assert.True(t, ok, "refilled up to the burst")
	ok, _ = bucket.take(start.Add(time.Hour))
	assert.False(t, ok, "refilled no further than the burst")
}

func TestRateLimitValue(t *testing.T) {
	now := time.Unix(100, 0)

	assert.Equal(t, "Limit:5,Remain:0,TimeLeft:1501,Reset:102",
		rateLimitValue(5, 1500*time.Millisecond+time.Nanosecond, now))
	assert.Equal(t, "Limit:1,Remain:0,TimeLeft:2000,Reset:102", rateLimitValue(1, 2*time.Second, now))
}

func TestThrottlingFailureNonPositiveTimeLeft(t *testing.T) {
	f := ThrottlingFailure(-time.Second)

	assert.Equal(t, http.StatusBadRequest, f.Status)
	assert.Equal(t, "Throttling.User", f.Code)
	assert.Equal(t, time.Millisecond, f.throttleTimeLeft)
}

func TestSendWithContextReportsCancel(t *testing.T) {
	srv := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := sendWithContext(ctx, v3Request{}.build(t, srv))

	assert.True(t, errors.Is(err, context.Canceled), "error: %v", err)
}
