package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// throttledForever is a Throttling.User response whose TimeLeft requests
// a wait of about 31 years.
func throttledForever(req *http.Request) (*http.Response, error) {
	return respond(400, bodyThrottled, "x-ratelimit-user-api", "Limit:1,Remain:0,TimeLeft:999999999999")(req)
}

// blockUntilCanceled is a responder that never responds before the
// request's context ends.
func blockUntilCanceled(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	return nil, req.Context().Err()
}

func TestHostileWaitForVerdictFlipFlop(t *testing.T) {
	var responders []httpmock.Responder
	for i := range 10 {
		if i%2 == 0 {
			responders = append(responders, respond(200, bodyInReview))
		} else {
			responders = append(responders, respond(200, bodyNotSubmitted))
		}
	}
	responders = append(responders, respond(200, bodyPassed), respond(200, bodyInReview))
	m := newMockServer(t, sequence(responders...))
	client := newTestClient(t, m)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	resp, err := client.WaitForVerdict(ctx, &GetStatusRequest{Biz: "RPBasic", TicketID: "t"}, fastPolls)
	require.NoError(t, err)
	assert.Equal(t, StatusPassed, resp.StatusCode)
	assert.Equal(t, 11, m.count(), "polling stops at the first verdict")
}

func TestHostileWaitForVerdictErrorsForever(t *testing.T) {
	m := newMockServer(t, respond(503, bodyUnavailable))
	client := newTestClient(t, m)

	start := time.Now()
	resp, err := client.WaitForVerdict(context.Background(), &GetStatusRequest{Biz: "RPBasic", TicketID: "t"},
		fastPolls, WithMaxWait(200*time.Millisecond))
	elapsed := time.Since(start)
	assert.Nil(t, resp)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "ServiceUnavailable", apiErr.Code)
	assert.Less(t, elapsed, 2*time.Second)
	// Each poll makes up to three attempts with 1-2 ms backoff, and polls
	// are at least a millisecond apart, so 200 ms allow a few hundred.
	assert.Less(t, m.count(), 1000, "the poller loops hot")
}

func TestHostileWaitForVerdictHugeTimeLeft(t *testing.T) {
	m := newMockServer(t, throttledForever)
	client := newTestClient(t, m)

	start := time.Now()
	_, err := client.WaitForVerdict(context.Background(), &GetStatusRequest{Biz: "RPBasic", TicketID: "t"},
		fastPolls, WithMaxWait(300*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, 1, m.count(), "a wait beyond the backoff maximum is not retried in the call")
}

func TestHostileThrottleHeaderValues(t *testing.T) {
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"Limit:1,Remain:0,TimeLeft:-5", 0},
		{"TimeLeft:abc", 0},
		{"TimeLeft:", 0},
		{"TimeLeft:99999999999999999999999", 0},
		{" timeleft : 1500 ", 1500 * time.Millisecond},
		{"TimeLeft:999999999999", 24 * time.Hour},
		{"TimeLeft:1,TimeLeft:2", time.Millisecond},
		{",,,:,TimeLeft:7", 7 * time.Millisecond},
	}
	for _, tc := range cases {
		header := http.Header{}
		header.Set("x-ratelimit-user", tc.header)
		assert.Equal(t, tc.want, throttleWait(header), "header %q", tc.header)
	}
}

func TestHostileWaitForVerdictSlowServer(t *testing.T) {
	m := newMockServer(t, blockUntilCanceled)
	client := newTestClient(t, m)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	resp, err := client.WaitForVerdict(ctx, &GetStatusRequest{Biz: "RPBasic", TicketID: "t"}, fastPolls)
	assert.Nil(t, resp)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestHostileWaitForVerdictConditionPanics(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m := newMockServer(t, respond(200, bodyInReview))
	client := newTestClient(t, m)

	panicked := func() (value any) {
		defer func() { value = recover() }()
		_, _ = client.WaitForVerdict(context.Background(), &GetStatusRequest{Biz: "RPBasic", TicketID: "t"},
			WithCondition(func(*GetStatusResponse) bool { panic("condition bug") }))
		return nil
	}()
	assert.Equal(t, "condition bug", panicked, "the panic reaches the caller of WaitForVerdict")
	assert.Equal(t, 1, m.count())
}

func TestHostilePollOptionValues(t *testing.T) {
	invalidWatcher := map[string]WatcherOption{
		"concurrency 0":          WithConcurrency(0),
		"concurrency -1":         WithConcurrency(-1),
		"concurrency above max":  WithConcurrency(maxWatcherConcurrency + 1),
		"concurrency MinInt":     WithConcurrency(math.MinInt),
		"rate 0":                 WithRateLimit(0, 1),
		"rate negative":          WithRateLimit(-1, 1),
		"rate NaN":               WithRateLimit(math.NaN(), 1),
		"rate -Inf":              WithRateLimit(math.Inf(-1), 1),
		"burst 0":                WithRateLimit(1, 0),
		"burst negative":         WithRateLimit(1, -1),
		"interval 0":             WithPollInterval(0, time.Second),
		"interval negative":      WithPollInterval(-time.Second, time.Second),
		"interval max below min": WithPollInterval(time.Second, time.Millisecond),
		"nil condition":          WithCondition(nil),
	}
	client, err := NewClient(WithAccessKey("id", "secret"), WithEndpoint(testEndpoint))
	require.NoError(t, err)
	for name, opt := range invalidWatcher {
		_, err := client.NewWatcher(opt)
		assert.Error(t, err, name)
	}
	for name, opt := range map[string]WaitOption{
		"max wait 0":        WithMaxWait(0),
		"max wait negative": WithMaxWait(-time.Second),
		"max wait MinInt64": WithMaxWait(math.MinInt64),
		"interval 0":        WithPollInterval(0, 0),
	} {
		_, err := client.WaitForVerdict(context.Background(), &GetStatusRequest{Biz: "b", TicketID: "t"}, opt)
		assert.Error(t, err, name)
	}

	for name, opt := range map[string]WatcherOption{
		"concurrency max":   WithConcurrency(maxWatcherConcurrency),
		"rate huge":         WithRateLimit(math.MaxFloat64, math.MaxInt),
		"rate tiny":         WithRateLimit(math.SmallestNonzeroFloat64, 1),
		"interval MaxInt64": WithPollInterval(math.MaxInt64, math.MaxInt64),
		"interval 1ns":      WithPollInterval(1, 1),
	} {
		_, err := client.NewWatcher(opt)
		assert.NoError(t, err, name)
	}
}

func TestHostileWatcherExtremeIntervalsAndRates(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cases := map[string][]WatcherOption{
		"interval MaxInt64": {WithPollInterval(math.MaxInt64, math.MaxInt64)},
		"rate tiny":         {WithRateLimit(math.SmallestNonzeroFloat64, 1)},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			service := newScriptedService(map[string][]scriptStep{"a": {stepInReview}, "b": {stepInReview}})
			w, m := newTestWatcher(t, service, nil, opts...)
			require.True(t, w.Add(ticket("a")))
			require.True(t, w.Add(ticket("b")))
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			updates, err := runAndCollect(ctx, w)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, time.Since(start), 2*time.Second)
			assert.LessOrEqual(t, m.count(), 2, "each ticket is polled at most once")
			assert.NotEmpty(t, updates)
		})
	}
}

func TestHostileWatcherConcurrentAddRemove(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// Tickets whose number is divisible by 3 pass at once, and the rest
	// stay in review.
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		var n int
		_, _ = fmt.Sscanf(req.URL.Query().Get("TicketId"), "t-%d-%d", new(int), &n)
		if n%3 == 0 {
			return respond(200, bodyPassed)(req)
		}
		return respond(200, bodyInReview)(req)
	})
	client := newTestClient(t, m)
	w, err := client.NewWatcher(WithConcurrency(8), WithRateLimit(math.Inf(1), 1),
		WithPollInterval(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	var received atomic.Int64
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for update := range w.Updates() {
			received.Add(1)
			if update.Err != nil {
				t.Errorf("unexpected failure for %s: %v", update.Ticket.TicketID, update.Err)
			}
		}
	}()

	const goroutines, ticketsEach = 16, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ticketsEach {
				id := fmt.Sprintf("t-%d-%d", g, i)
				if !w.Add(GetStatusRequest{Biz: "RPBasic", TicketID: id}) {
					t.Errorf("Add(%s) returned false for a new ticket", id)
				}
				if i%2 == 0 {
					w.Remove("RPBasic", id)
				}
				_ = w.Len()
			}
		}()
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	cancel()
	require.ErrorIs(t, <-runErr, context.Canceled)
	<-drained
	assert.Positive(t, received.Load())
	assert.False(t, w.Add(ticket("late")), "Add after Run returned is refused")
	assert.Error(t, w.Run(context.Background()), "a Watcher runs once")
}

func TestHostileWatcherRemoveDuringInflightPoll(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var slowPolls atomic.Int32
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		if req.URL.Query().Get("TicketId") == "slow" {
			slowPolls.Add(1)
			entered <- struct{}{}
			select {
			case <-release:
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
		}
		return respond(200, bodyInReview)(req)
	})
	client := newTestClient(t, m)
	w, err := client.NewWatcher(WithRateLimit(math.Inf(1), 1), WithPollInterval(time.Millisecond, time.Millisecond),
		WithStopWhenIdle())
	require.NoError(t, err)
	require.True(t, w.Add(ticket("slow")))

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	var updates []Update
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for update := range w.Updates() {
			updates = append(updates, update)
		}
	}()

	<-entered
	require.True(t, w.Remove("RPBasic", "slow"))
	assert.Equal(t, 0, w.Len())
	close(release)
	require.NoError(t, <-runErr, "Run stops when the only ticket is removed")
	<-drained
	assert.Equal(t, int32(1), slowPolls.Load(), "a removed ticket is not polled again")
	assert.LessOrEqual(t, len(updates), 1)
}

func TestHostileWatcherThousandsOfTickets(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m := newMockServer(t, sequence(respond(200, bodyInReview), respond(200, bodyPassed)))
	client := newTestClient(t, m)
	w, err := client.NewWatcher(WithConcurrency(64), WithRateLimit(math.Inf(1), 1),
		WithPollInterval(time.Millisecond, time.Millisecond), WithStopWhenIdle())
	require.NoError(t, err)
	const tickets = 5000
	for i := range tickets {
		require.True(t, w.Add(ticket(fmt.Sprintf("t-%d", i))))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	require.NoError(t, err)
	finals := map[string]int{}
	for _, update := range updates {
		if update.Final {
			finals[update.Ticket.TicketID]++
		}
	}
	assert.Len(t, finals, tickets)
	for id, n := range finals {
		if n != 1 {
			t.Errorf("ticket %s has %d final updates", id, n)
		}
	}
	assert.Equal(t, 0, w.Len())
}

func TestHostileWatcherStalledConsumerThenCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := map[string][]scriptStep{}
	for i := range 1000 {
		service[fmt.Sprintf("t-%d", i)] = []scriptStep{stepInReview, stepNotSubmitted}
	}
	w, m := newTestWatcher(t, newScriptedService(service), nil, WithConcurrency(16))
	for id := range service {
		require.True(t, w.Add(ticket(id)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	// Read three updates, then stop reading.
	for range 3 {
		<-w.Updates()
	}
	deadline := time.Now().Add(testTimeout)
	for m.count() < 3+16+16 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	polls := m.count()
	time.Sleep(50 * time.Millisecond)
	assert.LessOrEqual(t, m.count(), polls+16, "polling goes on while nobody reads the updates")

	start := time.Now()
	cancel()
	require.ErrorIs(t, <-runErr, context.Canceled)
	assert.Less(t, time.Since(start), 2*time.Second)
	for range w.Updates() {
		// Drains what was buffered. The loop ends because Run closed the channel.
	}
}

func TestHostileWatcherErrorsForever(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m := newMockServer(t, respond(503, bodyUnavailable))
	client := newTestClient(t, m)
	w, err := client.NewWatcher(WithRateLimit(math.Inf(1), 1), WithPollInterval(time.Millisecond, 4*time.Millisecond))
	require.NoError(t, err)
	require.True(t, w.Add(ticket("a")))

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotEmpty(t, updates)
	for _, update := range updates {
		require.Error(t, update.Err)
		assert.False(t, update.Final, "a 503 is transient")
		assert.True(t, update.First, "no response was ever received")
	}
	assert.Less(t, m.count(), 1000, "the watcher loops hot")
	assert.Equal(t, 1, w.Len())
}

func TestHostileWatcherHugeTimeLeft(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m := newMockServer(t, throttledForever)
	client := newTestClient(t, m)
	w, err := client.NewWatcher(WithRateLimit(math.Inf(1), 1), WithPollInterval(time.Millisecond, time.Millisecond),
		WithStopWhenIdle())
	require.NoError(t, err)
	require.True(t, w.Add(ticket("a")))

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	update := <-w.Updates()
	require.Error(t, update.Err)
	assert.False(t, update.Final)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, 1, m.count(), "the ticket waits for the TimeLeft the service asked for")

	require.True(t, w.Remove("RPBasic", "a"))
	select {
	case err := <-runErr:
		require.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop after the throttled ticket was removed")
	}
}

func TestHostileWatcherRunWithCanceledContext(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	service := newScriptedService(map[string][]scriptStep{"a": {stepPassed}})
	w, m := newTestWatcher(t, service, nil)
	require.True(t, w.Add(ticket("a")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	updates, err := runAndCollect(ctx, w)
	require.True(t, errors.Is(err, context.Canceled))
	assert.Empty(t, updates)
	assert.Equal(t, 0, m.count())
	assert.False(t, w.Add(ticket("b")))
}

func TestHostileWaitForVerdictHugeMaxWait(t *testing.T) {
	m := newMockServer(t, sequence(respond(200, bodyInReview), respond(200, bodyRejected)))
	client := newTestClient(t, m)
	resp, err := client.WaitForVerdict(context.Background(), &GetStatusRequest{Biz: "RPBasic", TicketID: "t"},
		fastPolls, WithMaxWait(math.MaxInt64))
	require.NoError(t, err)
	assert.Equal(t, StatusRejected, resp.StatusCode)
}

func TestHostileWaitForVerdictExpiredCredentials(t *testing.T) {
	var calls atomic.Int32
	provider := CredentialsProviderFunc(func(context.Context) (Credentials, error) {
		calls.Add(1)
		return Credentials{AccessKeyID: "id", AccessKeySecret: testSecret, SecurityToken: "token",
			Expires: time.Now().Add(-time.Minute)}, nil
	})
	m := newMockServer(t, respond(200, bodyPassed))
	client, err := NewClient(WithEndpoint(testEndpoint), WithCredentials(provider),
		WithHTTPClient(&http.Client{Transport: m.transport}))
	require.NoError(t, err)

	resp, err := client.WaitForVerdict(context.Background(), &GetStatusRequest{Biz: "RPBasic", TicketID: "t"},
		WithPollInterval(10*time.Millisecond, 10*time.Millisecond), WithMaxWait(200*time.Millisecond))
	assert.Nil(t, resp)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "expired")
	assert.Equal(t, 0, m.count(), "nothing is signed with expired credentials")
	// One provider call per poll, and polls are 8-10 ms apart.
	assert.LessOrEqual(t, calls.Load(), int32(30))
	assert.Positive(t, calls.Load())
}
