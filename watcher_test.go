package cloudauth

import (
	"container/heap"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// testTimeout bounds each watcher test, so a bug hangs no test for long.
// No test expects to come near it.
const testTimeout = 10 * time.Second

// scriptStep is one response of a scriptedService.
type scriptStep struct {
	status int
	body   string
}

var (
	stepNotSubmitted = scriptStep{200, bodyNotSubmitted}
	stepInReview     = scriptStep{200, bodyInReview}
	stepPassed       = scriptStep{200, bodyPassed}
	stepRejected     = scriptStep{200, bodyRejected}
	stepUnavailable  = scriptStep{503, bodyUnavailable}
	stepThrottled    = scriptStep{400, bodyThrottled}
)

// scriptedService responds to the polls of each ticket with the ticket's
// steps in order, repeating the last one, and counts the polls.
type scriptedService struct {
	mu      sync.Mutex
	scripts map[string][]scriptStep
	polls   map[string]int
}

func newScriptedService(scripts map[string][]scriptStep) *scriptedService {
	return &scriptedService{scripts: scripts, polls: map[string]int{}}
}

func (s *scriptedService) respond(req *http.Request) (*http.Response, error) {
	ticket := req.URL.Query().Get("TicketId")
	s.mu.Lock()
	steps, ok := s.scripts[ticket]
	poll := s.polls[ticket]
	s.polls[ticket]++
	s.mu.Unlock()
	if !ok {
		return respond(400, `{"Code":"InvalidParam.TicketNotFound"}`)(req)
	}
	step := steps[min(poll, len(steps)-1)]
	return respond(step.status, step.body)(req)
}

func (s *scriptedService) pollsOf(ticket string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls[ticket]
}

// newTestWatcher returns a Watcher on a client that sends to service, with
// fast polls and no effective rate limit unless opts set one.
func newTestWatcher(t *testing.T, service *scriptedService, clientOpts []Option, opts ...WatcherOption) (*Watcher, *mockServer) {
	t.Helper()
	m := newMockServer(t, service.respond)
	client := newTestClient(t, m, clientOpts...)
	base := []WatcherOption{WithPollInterval(time.Millisecond, 4*time.Millisecond), WithRateLimit(math.Inf(1), 1)}
	w, err := client.NewWatcher(append(base, opts...)...)
	require.NoError(t, err)
	return w, m
}

// runAndCollect runs w and returns every update it delivered, in order,
// and Run's error.
func runAndCollect(ctx context.Context, w *Watcher) ([]Update, error) {
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	var updates []Update
	for update := range w.Updates() {
		updates = append(updates, update)
	}
	return updates, <-runErr
}

// byTicket groups updates by TicketID, keeping their order.
func byTicket(updates []Update) map[string][]Update {
	groups := map[string][]Update{}
	for _, update := range updates {
		groups[update.Ticket.TicketID] = append(groups[update.Ticket.TicketID], update)
	}
	return groups
}

func ticket(id string) GetStatusRequest { return GetStatusRequest{Biz: "RPBasic", TicketID: id} }

// statusChange is the part of an Update that TestWatcherFinalStates checks.
type statusChange struct {
	status   StatusCode
	previous StatusCode
	first    bool
	final    bool
}

func TestWatcherFinalStates(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{
		"review-pass":   {stepInReview, stepInReview, stepPassed},
		"submit-reject": {stepNotSubmitted, stepNotSubmitted, stepInReview, stepRejected},
		"passed":        {stepPassed},
	})
	want := map[string][]statusChange{
		"review-pass": {
			{StatusInReview, 0, true, false},
			{StatusPassed, StatusInReview, false, true},
		},
		"submit-reject": {
			{StatusNotSubmitted, 0, true, false},
			{StatusInReview, StatusNotSubmitted, false, false},
			{StatusRejected, StatusInReview, false, true},
		},
		"passed": {{StatusPassed, 0, true, true}},
	}
	wantPolls := map[string]int{"review-pass": 3, "submit-reject": 4, "passed": 1}

	w, _ := newTestWatcher(t, service, nil, WithStopWhenIdle(), WithConcurrency(2))
	for id := range want {
		require.True(t, w.Add(ticket(id)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	require.NoError(t, err, "Run returns nil once every ticket is final")

	groups := byTicket(updates)
	for id, changes := range want {
		require.Len(t, groups[id], len(changes), id)
		for i, change := range changes {
			update := groups[id][i]
			require.NoError(t, update.Err)
			require.NotNil(t, update.Response)
			assert.Equal(t, ticket(id), update.Ticket)
			assert.Equal(t, change.status, update.Response.StatusCode, "%s update %d", id, i)
			assert.Equal(t, change.first, update.First, "%s update %d", id, i)
			assert.Equal(t, change.final, update.Final, "%s update %d", id, i)
			if !change.first {
				assert.Equal(t, change.previous, update.Previous, "%s update %d", id, i)
			}
		}
		assert.Equal(t, wantPolls[id], service.pollsOf(id), id)
	}
	assert.Equal(t, 0, w.Len())
}

func TestWatcherCustomCondition(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{
		"a": {stepNotSubmitted, stepInReview, stepPassed},
	})
	submitted := func(resp *GetStatusResponse) bool { return resp.StatusCode != StatusNotSubmitted }
	w, _ := newTestWatcher(t, service, nil, WithStopWhenIdle(), WithCondition(submitted))
	require.True(t, w.Add(ticket("a")))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	require.NoError(t, err)
	require.Len(t, updates, 2)
	assert.False(t, updates[0].Final)
	assert.Equal(t, StatusInReview, updates[1].Response.StatusCode)
	assert.True(t, updates[1].Final)
	assert.Equal(t, 2, service.pollsOf("a"))
}

func TestWatcherFinalWithoutStatusChange(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{"a": {stepInReview}})
	var calls atomic.Int32
	thirdPoll := func(*GetStatusResponse) bool { return calls.Add(1) == 3 }
	w, _ := newTestWatcher(t, service, nil, WithStopWhenIdle(), WithCondition(thirdPoll))
	require.True(t, w.Add(ticket("a")))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	require.NoError(t, err)
	require.Len(t, updates, 2, "the first status and the final one")
	assert.True(t, updates[0].First)
	assert.True(t, updates[1].Final)
	assert.Equal(t, StatusInReview, updates[1].Previous)
}

func TestWatcherTransientErrorsKeepPolling(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{
		"unavailable": {stepUnavailable, stepInReview, stepUnavailable, stepPassed},
		"throttled":   {stepThrottled, stepRejected},
	})
	w, _ := newTestWatcher(t, service, []Option{WithMaxAttempts(1)}, WithStopWhenIdle())
	require.True(t, w.Add(ticket("unavailable")))
	require.True(t, w.Add(ticket("throttled")))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	require.NoError(t, err)
	groups := byTicket(updates)

	unavailable := groups["unavailable"]
	require.Len(t, unavailable, 4)
	assert.Equal(t, []bool{true, false, true, false}, []bool{unavailable[0].Err != nil, unavailable[1].Err != nil,
		unavailable[2].Err != nil, unavailable[3].Err != nil})
	var apiErr *APIError
	require.ErrorAs(t, unavailable[0].Err, &apiErr)
	assert.Equal(t, "ServiceUnavailable", apiErr.Code)
	assert.Nil(t, unavailable[0].Response)
	assert.True(t, unavailable[0].First)
	assert.False(t, unavailable[0].Final)
	assert.True(t, unavailable[1].First, "the first response follows only a failure")
	assert.False(t, unavailable[2].First)
	assert.Equal(t, StatusInReview, unavailable[2].Previous)
	assert.Equal(t, StatusPassed, unavailable[3].Response.StatusCode)
	assert.Equal(t, StatusInReview, unavailable[3].Previous)
	assert.True(t, unavailable[3].Final)

	throttled := groups["throttled"]
	require.Len(t, throttled, 2)
	require.ErrorAs(t, throttled[0].Err, &apiErr)
	assert.True(t, apiErr.Throttled())
	assert.False(t, throttled[0].Final)
	assert.Equal(t, StatusRejected, throttled[1].Response.StatusCode)
	assert.True(t, throttled[1].Final)
}

func TestWatcherPermanentErrorsEndTicket(t *testing.T) {
	tests := []struct {
		name     string
		step     scriptStep
		sentinel error
	}{
		{"invalid biz", scriptStep{400, `{"Code":"InvalidParam.InvalidBiz"}`}, ErrInvalidBiz},
		{"no permission", scriptStep{403, `{"Code":"Error.NoPermissionAccess"}`}, ErrNoPermission},
		{"bad signature", scriptStep{400, `{"Code":"SignatureDoesNotMatch"}`}, nil},
		{"unknown access key", scriptStep{404, `{"Code":"InvalidAccessKeyId.NotFound"}`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			service := newScriptedService(map[string][]scriptStep{"a": {tt.step}, "b": {stepInReview, stepPassed}})
			w, _ := newTestWatcher(t, service, nil, WithStopWhenIdle())
			require.True(t, w.Add(ticket("a")))
			require.True(t, w.Add(ticket("b")))
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			updates, err := runAndCollect(ctx, w)
			require.NoError(t, err)
			groups := byTicket(updates)

			require.Len(t, groups["a"], 1)
			failed := groups["a"][0]
			var apiErr *APIError
			require.ErrorAs(t, failed.Err, &apiErr)
			assert.Equal(t, tt.step.status, apiErr.HTTPStatusCode)
			if tt.sentinel != nil {
				assert.ErrorIs(t, failed.Err, tt.sentinel)
			}
			assert.True(t, failed.Final)
			assert.Nil(t, failed.Response)
			assert.Equal(t, 1, service.pollsOf("a"))
			require.Len(t, groups["b"], 2, "other tickets go on")
			assert.True(t, groups["b"][1].Final)
		})
	}
}

func TestWatcherInvalidTicketIsNotSent(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{})
	w, m := newTestWatcher(t, service, nil, WithStopWhenIdle())
	require.True(t, w.Add(GetStatusRequest{Biz: "RPBasic"}))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	require.NoError(t, err)
	require.Len(t, updates, 1)
	assert.ErrorIs(t, updates[0].Err, ErrParamMissing)
	assert.True(t, updates[0].Final)
	assert.Equal(t, 0, m.count())
}

func TestWatcherAddWhileRunning(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{"late": {stepInReview, stepPassed}})
	w, _ := newTestWatcher(t, service, nil)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	require.True(t, w.Add(ticket("late")))
	var updates []Update
	for update := range w.Updates() {
		updates = append(updates, update)
		if update.Final {
			cancel()
		}
	}
	require.ErrorIs(t, <-runErr, context.Canceled)
	require.Len(t, updates, 2)
	assert.Equal(t, StatusPassed, updates[1].Response.StatusCode)
	assert.False(t, w.Add(ticket("after-run")), "Add after Run returned does nothing")
}

func TestWatcherDuplicateAddIgnored(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{"a": {stepPassed}})
	w, _ := newTestWatcher(t, service, nil, WithStopWhenIdle())
	require.True(t, w.Add(ticket("a")))
	assert.False(t, w.Add(ticket("a")))
	assert.True(t, w.Add(GetStatusRequest{Biz: "Other", TicketID: "a"}), "another Biz is another ticket")
	assert.Equal(t, 2, w.Len())

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	require.NoError(t, err)
	var rpBasic []Update
	for _, update := range updates {
		if update.Ticket.Biz == "RPBasic" {
			rpBasic = append(rpBasic, update)
		}
	}
	assert.Len(t, rpBasic, 1, "one final update, not two")
	assert.Equal(t, 2, service.pollsOf("a"), "one poll for each Biz")
}

func TestWatcherRemoveStopsPolling(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{
		"removed": {stepInReview}, "queued": {stepInReview}, "kept": {stepInReview, stepInReview, stepPassed},
	})
	w, _ := newTestWatcher(t, service, nil, WithStopWhenIdle())
	require.True(t, w.Add(ticket("queued")))
	assert.True(t, w.Remove("RPBasic", "queued"), "a ticket can be removed before Run")
	assert.False(t, w.Remove("RPBasic", "queued"))
	assert.False(t, w.Remove("RPBasic", "unknown"))
	require.True(t, w.Add(ticket("removed")))
	require.True(t, w.Add(ticket("kept")))

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	var updates []Update
	pollsAtRemove := -1
	for update := range w.Updates() {
		updates = append(updates, update)
		if update.Ticket.TicketID == "removed" && pollsAtRemove < 0 {
			assert.True(t, w.Remove("RPBasic", "removed"))
			pollsAtRemove = service.pollsOf("removed")
		}
	}
	require.NoError(t, <-runErr, "Run stops once the kept ticket is final")

	assert.Equal(t, 0, service.pollsOf("queued"))
	// A poll already in progress at Remove may still complete.
	assert.LessOrEqual(t, service.pollsOf("removed"), pollsAtRemove+1)
	assert.Len(t, byTicket(updates)["removed"], 1)
	assert.Equal(t, 3, service.pollsOf("kept"))
}

func TestWatcherCancelStopsEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{"a": {stepInReview}, "b": {stepInReview}})
	w, _ := newTestWatcher(t, service, nil, WithPollInterval(time.Hour, time.Hour))
	require.True(t, w.Add(ticket("a")))
	require.True(t, w.Add(ticket("b")))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	seen := 0
	for range w.Updates() {
		seen++
		if seen == 2 {
			// Both tickets now wait an hour for their next poll.
			cancel()
		}
	}
	require.ErrorIs(t, <-runErr, context.Canceled)
	assert.Equal(t, 2, seen)
	assert.Equal(t, 2, w.Len(), "cancelled tickets are still watched, not final")
	assert.Error(t, w.Run(context.Background()), "a Watcher runs once")
}

func TestWatcherCancelWithoutReceiver(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	scripts := map[string][]scriptStep{}
	for _, id := range ids {
		scripts[id] = []scriptStep{stepInReview}
	}
	w, m := newTestWatcher(t, newScriptedService(scripts), nil, WithConcurrency(2))
	for _, id := range ids {
		require.True(t, w.Add(ticket(id)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	// The test receives no update, so the workers fill the buffer and then wait.
	for m.count() < 4 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	require.ErrorIs(t, <-runErr, context.Canceled)
	for range w.Updates() {
		// Drains what was buffered. The loop ends because Run closed the channel.
	}
}

func TestWatcherDeadline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{"a": {stepInReview}})
	w, _ := newTestWatcher(t, service, nil)
	require.True(t, w.Add(ticket("a")))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotEmpty(t, updates)
	assert.Equal(t, StatusInReview, updates[0].Response.StatusCode)
	assert.GreaterOrEqual(t, service.pollsOf("a"), 1)
}

func TestWatcherStopWhenIdleWithoutTickets(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w, m := newTestWatcher(t, newScriptedService(nil), nil, WithStopWhenIdle())
	updates, err := runAndCollect(context.Background(), w)
	require.NoError(t, err)
	assert.Empty(t, updates)
	assert.Equal(t, 0, m.count())
}

func TestNewWatcherRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  WatcherOption
		want string
	}{
		{"zero concurrency", WithConcurrency(0), "WithConcurrency(0)"},
		{"huge concurrency", WithConcurrency(1 << 20), "WithConcurrency(1048576)"},
		{"zero rate", WithRateLimit(0, 1), "WithRateLimit(0, 1)"},
		{"negative rate", WithRateLimit(-1, 1), "WithRateLimit(-1, 1)"},
		{"NaN rate", WithRateLimit(math.NaN(), 1), "WithRateLimit(NaN, 1)"},
		{"zero burst", WithRateLimit(10, 0), "WithRateLimit(10, 0)"},
		{"bad interval", WithPollInterval(time.Second, time.Millisecond), "WithPollInterval(1s, 1ms)"},
		{"nil condition", WithCondition(nil), "WithCondition"},
		{"nil option", nil, "option 0 is nil"},
		{"nil PollOption", PollOption(nil), "the PollOption is nil"},
	}
	client := newTestClient(t, newMockServer(t, respond(200, bodyPassed)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := client.NewWatcher(tt.opt)
			require.Error(t, err)
			assert.Nil(t, w)
			assert.Contains(t, err.Error(), "cloudauth: NewWatcher: ")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestNewWatcherDefaults(t *testing.T) {
	client := newTestClient(t, newMockServer(t, respond(200, bodyPassed)))
	w, err := client.NewWatcher()
	require.NoError(t, err)
	assert.Equal(t, DefaultWatcherConcurrency, w.concurrency)
	assert.Equal(t, DefaultWatcherConcurrency, cap(w.updates))
	assert.Equal(t, DefaultPollInterval, w.poll.initialInterval)
	assert.Equal(t, DefaultMaxPollInterval, w.poll.maxInterval)
	assert.InDelta(t, DefaultWatcherRate, float64(w.limiter.Limit()), 0)
	assert.Equal(t, DefaultWatcherBurst, w.limiter.Burst())
	assert.False(t, w.stopWhenIdle)

	unlimited, err := client.NewWatcher(WithRateLimit(math.Inf(1), 1))
	require.NoError(t, err)
	assert.Equal(t, math.MaxFloat64, float64(unlimited.limiter.Limit()))
}

// scriptedServer starts an httptest server on 127.0.0.1 that counts the
// requests and responds to the n-th with the status and body respondTo
// returns for n.
func scriptedServer(t *testing.T, respondTo func(n int64) (int, string)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		status, body := respondTo(requests.Add(1))
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(status)
		_, _ = rw.Write([]byte(body))
	}))
	return server, &requests
}

func newLocalClient(t *testing.T, server *httptest.Server, opts ...Option) *Client {
	t.Helper()
	base := []Option{
		WithEndpoint(server.URL),
		WithAccessKey(testKeyID, testSecret),
		WithHTTPClient(server.Client()),
		WithBackoff(time.Millisecond, 2*time.Millisecond),
	}
	client, err := NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return client
}

func TestWatcherRateLimit(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	server, requests := scriptedServer(t, func(int64) (int, string) { return 200, bodyPassed })
	defer server.Close()
	client := newLocalClient(t, server)
	defer client.httpClient.CloseIdleConnections()

	const tickets = 10
	const rps = 20.0
	w, err := client.NewWatcher(WithRateLimit(rps, 1), WithConcurrency(8), WithStopWhenIdle())
	require.NoError(t, err)
	for i := range tickets {
		require.True(t, w.Add(ticket(string(rune('a'+i)))))
	}
	start := time.Now()
	updates, err := runAndCollect(context.Background(), w)
	elapsed := time.Since(start)
	require.NoError(t, err)
	assert.Len(t, updates, tickets)
	assert.Equal(t, int64(tickets), requests.Load())
	// With a burst of 1, the first request goes at once and each other
	// one waits 1/rps after the one before.
	assert.GreaterOrEqual(t, elapsed, time.Duration(float64(tickets-1)/rps*float64(time.Second)))
}

func TestWatcherRateLimitCoversRetries(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// The first ten attempts get a 503, which the client retries on its
	// own, so five tickets take fifteen attempts.
	server, requests := scriptedServer(t, func(n int64) (int, string) {
		if n <= 10 {
			return 503, bodyUnavailable
		}
		return 200, bodyRejected
	})
	defer server.Close()
	// Enough attempts that no ticket fails, however the 503s fall.
	client := newLocalClient(t, server, WithMaxAttempts(11))
	defer client.httpClient.CloseIdleConnections()

	const rps = 40.0
	w, err := client.NewWatcher(WithRateLimit(rps, 1), WithConcurrency(5), WithStopWhenIdle())
	require.NoError(t, err)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		require.True(t, w.Add(ticket(id)))
	}
	start := time.Now()
	updates, err := runAndCollect(context.Background(), w)
	elapsed := time.Since(start)
	require.NoError(t, err)
	attempts := requests.Load()
	assert.Equal(t, int64(15), attempts)
	for _, update := range updates {
		assert.NoError(t, update.Err, "the client's retries hide the 503s")
	}
	assert.GreaterOrEqual(t, elapsed, time.Duration(float64(attempts-1)/rps*float64(time.Second)))
}

func TestBeforeAttemptRunsForEachAttempt(t *testing.T) {
	m := newMockServer(t, sequence(respond(503, bodyUnavailable), respond(500, ""), respond(200, bodyPassed)))
	client := newTestClient(t, m)
	var calls atomic.Int32
	ctx := withBeforeAttempt(context.Background(), func(context.Context) error {
		calls.Add(1)
		return nil
	})
	_, err := client.GetStatus(ctx, testRequest)
	require.NoError(t, err)
	assert.Equal(t, int32(3), calls.Load())
	assert.Equal(t, 3, m.count())
}

func TestBeforeAttemptErrorStopsCall(t *testing.T) {
	m := newMockServer(t, respond(200, bodyPassed))
	ctx := withBeforeAttempt(context.Background(), func(context.Context) error { return errors.New("limiter closed") })
	_, err := newTestClient(t, m).GetStatus(ctx, testRequest)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GetStatus was not sent: limiter closed")
	assert.Equal(t, 0, m.count())
}

func TestWaitForRateLimitCancel(t *testing.T) {
	client := newTestClient(t, newMockServer(t, respond(200, bodyPassed)))
	w, err := client.NewWatcher(WithRateLimit(0.001, 1))
	require.NoError(t, err)
	require.NoError(t, w.waitForRateLimit(context.Background()), "the burst allows one request at once")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, w.waitForRateLimit(ctx), context.Canceled)
	assert.InDelta(t, 0, w.limiter.Tokens(), 0.01, "the cancelled reservation gave its token back")
}

func TestTicketQueueOrder(t *testing.T) {
	base := time.Now()
	var queue ticketQueue
	add := func(id string, offset time.Duration, order uint64) *watchedTicket {
		t := &watchedTicket{req: ticket(id), next: base.Add(offset), order: order}
		heap.Push(&queue, t)
		return t
	}
	add("late", 3*time.Second, 0)
	removed := add("removed", time.Second, 1)
	add("tie-second", 2*time.Second, 3)
	add("tie-first", 2*time.Second, 2)
	add("early", 0, 4)

	heap.Remove(&queue, removed.index)
	assert.Equal(t, -1, removed.index)
	var order []string
	for queue.Len() > 0 {
		popped := heap.Pop(&queue).(*watchedTicket)
		assert.Equal(t, -1, popped.index)
		order = append(order, popped.req.TicketID)
	}
	assert.Equal(t, []string{"early", "tie-first", "tie-second", "late"}, order)
}
