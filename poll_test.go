package cloudauth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bodies of GetStatus responses, one for each status.
const (
	bodyNotSubmitted = `{"RequestId":"r","Data":{"StatusCode":-1}}`
	bodyInReview     = `{"RequestId":"r","Data":{"StatusCode":0}}`
	bodyPassed       = `{"RequestId":"r","Data":{"StatusCode":1,"SimilarityScore":97.5}}`
	bodyRejected     = `{"RequestId":"r","Data":{"StatusCode":2,"AuditConclusions":"blurred"}}`
	bodyUnavailable  = `{"Code":"ServiceUnavailable","Message":"try later"}`
	bodyThrottled    = `{"Code":"Throttling.User","Message":"slow down"}`
)

// sequence responds to the i-th request with responders[i], and to every
// later request with the last responder.
func sequence(responders ...httpmock.Responder) httpmock.Responder {
	var mu sync.Mutex
	next := 0
	return func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		responder := responders[min(next, len(responders)-1)]
		next++
		mu.Unlock()
		return responder(req)
	}
}

// fastPolls makes WaitForVerdict poll every few milliseconds.
var fastPolls = WithPollInterval(time.Millisecond, 4*time.Millisecond)

func TestWaitForVerdictFinalStates(t *testing.T) {
	tests := []struct {
		name      string
		responses []httpmock.Responder
		want      StatusCode
		wantPolls int
	}{
		{"passed at once", []httpmock.Responder{respond(200, bodyPassed)}, StatusPassed, 1},
		{"passed after review", []httpmock.Responder{
			respond(200, bodyNotSubmitted), respond(200, bodyInReview), respond(200, bodyInReview),
			respond(200, bodyPassed),
		}, StatusPassed, 4},
		{"rejected after review", []httpmock.Responder{
			respond(200, bodyInReview), respond(200, bodyRejected),
		}, StatusRejected, 2},
		{"XML answers", []httpmock.Responder{
			respond(200, "<R><Data><StatusCode>0</StatusCode></Data></R>"),
			respond(200, "<R><Data><StatusCode>1</StatusCode></Data></R>"),
		}, StatusPassed, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, sequence(tt.responses...))
			resp, err := newTestClient(t, m).WaitForVerdict(context.Background(), testRequest, fastPolls)
			require.NoError(t, err)
			require.NotNil(t, resp)
			assert.Equal(t, tt.want, resp.StatusCode)
			assert.Equal(t, tt.wantPolls, m.count())
		})
	}
}

func TestWaitForVerdictCustomCondition(t *testing.T) {
	m := newMockServer(t, sequence(respond(200, bodyNotSubmitted), respond(200, bodyNotSubmitted),
		respond(200, bodyInReview), respond(200, bodyPassed)))
	submitted := func(resp *GetStatusResponse) bool { return resp.StatusCode != StatusNotSubmitted }
	resp, err := newTestClient(t, m).WaitForVerdict(context.Background(), testRequest,
		fastPolls, WithCondition(submitted))
	require.NoError(t, err)
	assert.Equal(t, StatusInReview, resp.StatusCode)
	assert.Equal(t, 3, m.count())
}

func TestWaitForVerdictRetriesTransientErrors(t *testing.T) {
	tests := []struct {
		name        string
		maxAttempts int
		responses   []httpmock.Responder
		wantPolls   int
	}{
		{"503 then passed", 1, []httpmock.Responder{
			respond(503, bodyUnavailable), respond(503, ""), respond(200, bodyPassed),
		}, 3},
		{"throttled then rejected", 1, []httpmock.Responder{
			respond(400, bodyThrottled), respond(200, bodyInReview), respond(400, bodyThrottled),
			respond(200, bodyRejected),
		}, 4},
		{"internal errors outlast client retries", 2, []httpmock.Responder{
			respond(500, `{"Code":"Error.InternalError"}`), respond(500, `{"Code":"Error.InternalError"}`),
			respond(500, `{"Code":"Error.InternalError"}`), respond(200, bodyPassed),
		}, 4},
		{"transport failure then passed", 1, []httpmock.Responder{
			httpmock.NewErrorResponder(errors.New("connection reset by peer")), respond(200, bodyPassed),
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, sequence(tt.responses...))
			client := newTestClient(t, m, WithMaxAttempts(tt.maxAttempts))
			resp, err := client.WaitForVerdict(context.Background(), testRequest, fastPolls)
			require.NoError(t, err)
			assert.True(t, resp.StatusCode.IsFinal())
			assert.Equal(t, tt.wantPolls, m.count())
		})
	}
}

func TestWaitForVerdictPermanentErrorsEndAtOnce(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		sentinel error
	}{
		{"invalid biz", 400, `{"Code":"InvalidParam.InvalidBiz","Message":"no such biz"}`, ErrInvalidBiz},
		{"no permission", 403, `{"Code":"Error.NoPermissionAccess"}`, ErrNoPermission},
		{"bad signature", 400, `{"Code":"SignatureDoesNotMatch"}`, nil},
		{"unknown access key", 404, `{"Code":"InvalidAccessKeyId.NotFound"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, respond(tt.status, tt.body))
			resp, err := newTestClient(t, m).WaitForVerdict(context.Background(), testRequest, fastPolls)
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.Equal(t, 1, m.count())
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.HTTPStatusCode)
			if tt.sentinel != nil {
				assert.ErrorIs(t, err, tt.sentinel)
			}
			assert.Contains(t, err.Error(), `ticket "ticket-1" of Biz "RPBasic" failed at poll 1`)
		})
	}
}

func TestWaitForVerdictPermanentErrorKeepsLastResponse(t *testing.T) {
	m := newMockServer(t, sequence(respond(200, bodyInReview),
		respond(403, `{"Code":"Error.NoPermissionAccess"}`)))
	resp, err := newTestClient(t, m).WaitForVerdict(context.Background(), testRequest, fastPolls)
	require.ErrorIs(t, err, ErrNoPermission)
	require.NotNil(t, resp)
	assert.Equal(t, StatusInReview, resp.StatusCode)
	assert.Contains(t, err.Error(), "failed at poll 2")
}

// cancelOnFirstResponse returns a condition that cancels the wait's context
// once a response has arrived, so the cancellation always lands in the wait
// between polls and never during a poll.
func cancelOnFirstResponse(cancel func()) PollOption {
	return WithCondition(func(*GetStatusResponse) bool {
		cancel()
		return false
	})
}

func TestWaitForVerdictCancel(t *testing.T) {
	m := newMockServer(t, respond(200, bodyInReview))
	client := newTestClient(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The interval is an hour, so only the cancellation can end the wait.
	resp, err := client.WaitForVerdict(ctx, testRequest, WithPollInterval(time.Hour, time.Hour),
		cancelOnFirstResponse(cancel))
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, resp, "the last response comes with the error")
	assert.Equal(t, StatusInReview, resp.StatusCode)
	assert.Equal(t, 1, m.count())
	assert.Contains(t, err.Error(), "stopped after 1 poll (context canceled); last status InReview")
}

func TestWaitForVerdictCancelCause(t *testing.T) {
	m := newMockServer(t, respond(200, bodyInReview))
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	_, err := newTestClient(t, m).WaitForVerdict(ctx, testRequest, WithPollInterval(time.Hour, time.Hour),
		cancelOnFirstResponse(func() { cancel(errors.New("shutting down")) }))
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "(shutting down)")
}

func TestWaitForVerdictMaxWait(t *testing.T) {
	m := newMockServer(t, respond(200, bodyInReview))
	resp, err := newTestClient(t, m).WaitForVerdict(context.Background(), testRequest,
		fastPolls, WithMaxWait(300*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, resp)
	assert.Equal(t, StatusInReview, resp.StatusCode)
	assert.GreaterOrEqual(t, m.count(), 1)
	assert.Contains(t, err.Error(), "the maximum wait of 300ms set by WithMaxWait elapsed")
}

func TestWaitForVerdictDeadlineAfterOnlyErrors(t *testing.T) {
	m := newMockServer(t, respond(503, bodyUnavailable))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	resp, err := newTestClient(t, m, WithMaxAttempts(1)).WaitForVerdict(ctx, testRequest, fastPolls)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Nil(t, resp)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr, "the last failure is wrapped")
	assert.Equal(t, "ServiceUnavailable", apiErr.Code)
	assert.Contains(t, err.Error(), "last failure: ServiceUnavailable")
}

func TestWaitForVerdictContextAlreadyDone(t *testing.T) {
	m := newMockServer(t, respond(200, bodyPassed))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := newTestClient(t, m).WaitForVerdict(ctx, testRequest)
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, resp)
	assert.Equal(t, 0, m.count())
}

func TestWaitForVerdictRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name string
		req  *GetStatusRequest
	}{
		{"nil request", nil},
		{"empty Biz", &GetStatusRequest{TicketID: "t"}},
		{"blank Biz", &GetStatusRequest{Biz: " ", TicketID: "t"}},
		{"empty TicketID", &GetStatusRequest{Biz: "RPBasic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, respond(200, bodyPassed))
			resp, err := newTestClient(t, m).WaitForVerdict(context.Background(), tt.req)
			require.ErrorIs(t, err, ErrParamMissing)
			assert.Nil(t, resp)
			assert.Equal(t, 0, m.count())
		})
	}
}

func TestWaitForVerdictRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  WaitOption
		want string
	}{
		{"zero interval", WithPollInterval(0, time.Second), "WithPollInterval(0s, 1s)"},
		{"negative interval", WithPollInterval(-time.Second, time.Second), "WithPollInterval(-1s, 1s)"},
		{"max below initial", WithPollInterval(2*time.Second, time.Second), "WithPollInterval(2s, 1s)"},
		{"nil condition", WithCondition(nil), "WithCondition"},
		{"zero max wait", WithMaxWait(0), "WithMaxWait(0s)"},
		{"negative max wait", WithMaxWait(-time.Second), "WithMaxWait(-1s)"},
		{"nil option", nil, "option 0 is nil"},
		{"nil PollOption", PollOption(nil), "the PollOption is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockServer(t, respond(200, bodyPassed))
			resp, err := newTestClient(t, m).WaitForVerdict(context.Background(), testRequest, tt.opt)
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 0, m.count())
		})
	}
}

func TestPollIntervalCeilingGrows(t *testing.T) {
	tests := []struct {
		unchanged int
		want      time.Duration
	}{
		{0, time.Second},
		{1, time.Second},
		{2, 1500 * time.Millisecond},
		{3, 2250 * time.Millisecond},
		{4, 3375 * time.Millisecond},
		{9, 25628906250 * time.Nanosecond},
		{10, 30 * time.Second},
		{1000, 30 * time.Second},
	}
	for _, tt := range tests {
		got := pollIntervalCeiling(tt.unchanged, time.Second, 30*time.Second)
		assert.Equal(t, tt.want, got, "after %d unchanged polls", tt.unchanged)
	}
}

func TestPollIntervalCeilingEdgeCases(t *testing.T) {
	assert.Equal(t, 3*time.Nanosecond, pollIntervalCeiling(5, time.Nanosecond, 3*time.Nanosecond),
		"an interval too short to grow by half still grows")
	huge := time.Duration(1<<63 - 1)
	assert.Equal(t, huge, pollIntervalCeiling(200, time.Hour, huge), "growth does not overflow")
	assert.Equal(t, time.Minute, pollIntervalCeiling(50, time.Minute, time.Minute))
}

func TestPollIntervalJitter(t *testing.T) {
	settings := pollSettings{initialInterval: 100 * time.Millisecond, maxInterval: time.Second}
	for _, unchanged := range []int{1, 2, 5, 20} {
		ceiling := pollIntervalCeiling(unchanged, settings.initialInterval, settings.maxInterval)
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			wait := pollInterval(unchanged, settings)
			assert.LessOrEqual(t, wait, ceiling)
			assert.GreaterOrEqual(t, wait, ceiling-ceiling/5)
			seen[wait] = true
		}
		assert.Greater(t, len(seen), 1, "the waits vary")
	}
}

func TestThrottleDelay(t *testing.T) {
	assert.Equal(t, time.Duration(0), throttleDelay(nil))
	assert.Equal(t, time.Duration(0), throttleDelay(errors.New("other")))
	throttled := &APIError{Code: "Throttling.User", retryAfter: 150 * time.Millisecond}
	assert.Equal(t, 150*time.Millisecond, throttleDelay(&attemptsError{action: "GetStatus", attempts: 3, err: throttled}))
}

func TestWaitForVerdictHonorsThrottleTimeLeft(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	record := func(next httpmock.Responder) httpmock.Responder {
		return func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			return next(req)
		}
	}
	m := newMockServer(t, sequence(
		record(respond(400, bodyThrottled, "x-ratelimit-user", "Limit:1,Remain:0,TimeLeft:60,Reset:1")),
		record(respond(200, bodyPassed))))
	client := newTestClient(t, m, WithMaxAttempts(1))
	resp, err := client.WaitForVerdict(context.Background(), testRequest, fastPolls)
	require.NoError(t, err)
	assert.Equal(t, StatusPassed, resp.StatusCode)
	require.Len(t, times, 2)
	assert.GreaterOrEqual(t, times[1].Sub(times[0]), 60*time.Millisecond)
}

func TestFailedBeyondContext(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"not sent", errors.New("cloudauth: GetStatus was not sent: context canceled"), false},
		{"interrupted request", &transportError{op: "GET", url: testEndpoint, err: context.Canceled, contextDone: true}, false},
		{"network failure", &transportError{op: "GET", url: testEndpoint, err: errors.New("reset")}, true},
		{"service answer", &attemptsError{action: "GetStatus", attempts: 2, err: &APIError{Code: "ServiceUnavailable"},
			ctxErr: context.Canceled}, true},
		{"unusable answer", &ResponseError{HTTPStatusCode: 200}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, failedBeyondContext(tt.err))
		})
	}
}

func TestWaitForVerdictCredentialsOutageIsTransient(t *testing.T) {
	m := newMockServer(t, respond(200, bodyPassed))
	client := newTestClient(t, m)
	var retrievals atomic.Int32
	client.credentials = CredentialsProviderFunc(func(context.Context) (Credentials, error) {
		if retrievals.Add(1) <= 2 {
			return Credentials{}, errors.New("metadata service unreachable")
		}
		return Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}, nil
	})
	resp, err := client.WaitForVerdict(context.Background(), testRequest, fastPolls)
	require.NoError(t, err)
	assert.Equal(t, StatusPassed, resp.StatusCode)
	assert.Equal(t, 1, m.count(), "nothing is sent while the provider fails")
}

func TestWaitForVerdictNoCredentialsEndsAtOnce(t *testing.T) {
	m := newMockServer(t, respond(200, bodyInReview))
	client := newTestClient(t, m)
	noCreds := &NoCredentialsError{Sources: []CredentialsSourceResult{
		{Source: "environment variables", Skipped: true, Err: errors.New("not set")},
	}}
	client.credentials = CredentialsProviderFunc(func(context.Context) (Credentials, error) {
		return Credentials{}, noCreds
	})
	resp, err := client.WaitForVerdict(context.Background(), testRequest, fastPolls)
	var target *NoCredentialsError
	require.ErrorAs(t, err, &target)
	assert.Nil(t, resp)
	assert.Equal(t, 0, m.count())
	assert.Contains(t, err.Error(), "failed at poll 1: retrieving credentials")
}
