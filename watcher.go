package cloudauth

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of a Watcher built without the matching option. They are
// conservative choices for a background job, not quotas that Alibaba Cloud
// documents for GetStatus.
const (
	// DefaultWatcherConcurrency is the number of polls a Watcher runs at
	// once.
	DefaultWatcherConcurrency = 8
	// DefaultWatcherRate is the number of HTTP requests per second a
	// Watcher sends at most, retries included.
	DefaultWatcherRate = 10.0
	// DefaultWatcherBurst is the number of requests a Watcher may send at
	// once before DefaultWatcherRate applies.
	DefaultWatcherBurst = 1
)

// maxWatcherConcurrency bounds WithConcurrency, because Run starts that
// many goroutines.
const maxWatcherConcurrency = 4096

// A WatcherOption sets a Watcher setting in NewWatcher. An option given an
// invalid value makes NewWatcher return an error that names the option.
type WatcherOption interface {
	applyWatcher(*watcherConfig) error
}

func (o PollOption) applyWatcher(c *watcherConfig) error {
	if o == nil {
		return errors.New("the PollOption is nil")
	}
	return o(&c.poll)
}

// watcherOption is a WatcherOption that only NewWatcher accepts.
type watcherOption func(*watcherConfig) error

func (o watcherOption) applyWatcher(c *watcherConfig) error {
	if o == nil {
		return errors.New("the WatcherOption is nil")
	}
	return o(c)
}

// watcherConfig is the settings NewWatcher collects from its options.
type watcherConfig struct {
	poll         pollSettings
	concurrency  int
	rateLimit    rate.Limit
	burst        int
	stopWhenIdle bool
}

// WithConcurrency sets how many polls a Watcher runs at once, each on its
// own goroutine. The default is DefaultWatcherConcurrency.
func WithConcurrency(n int) WatcherOption {
	return watcherOption(func(c *watcherConfig) error {
		if n < 1 || n > maxWatcherConcurrency {
			return fmt.Errorf("WithConcurrency(%d): the concurrency must be from 1 to %d", n, maxWatcherConcurrency)
		}
		c.concurrency = n
		return nil
	})
}

// WithRateLimit caps the HTTP requests a Watcher sends, the client's own
// retries included, at rps per second on average, with bursts of up to
// burst requests. math.Inf(1) removes the cap. The defaults are
// DefaultWatcherRate and DefaultWatcherBurst.
func WithRateLimit(rps float64, burst int) WatcherOption {
	return watcherOption(func(c *watcherConfig) error {
		if math.IsNaN(rps) || rps <= 0 || burst < 1 {
			return fmt.Errorf("WithRateLimit(%v, %d): the rate must be positive and the burst at least 1", rps, burst)
		}
		c.rateLimit, c.burst = rate.Limit(rps), burst
		if math.IsInf(rps, 1) {
			c.rateLimit = rate.Inf
		}
		return nil
	})
}

// WithStopWhenIdle makes Run return nil as soon as no ticket is left to
// watch, because each one has had its final update or was removed. Add the
// first tickets before calling Run, which otherwise returns at once.
func WithStopWhenIdle() WatcherOption {
	return watcherOption(func(c *watcherConfig) error {
		c.stopWhenIdle = true
		return nil
	})
}

// Update is a Watcher's report of one poll of one ticket: a status change,
// the final response, or a failure.
type Update struct {
	// Ticket is the ticket as it was passed to Add.
	Ticket GetStatusRequest
	// Response is the poll's response, nil when Err is set.
	Response *GetStatusResponse
	// Previous is the status of the ticket's previous response. It is
	// meaningless when First is set.
	Previous StatusCode
	// First reports that the Watcher had received no response for the
	// ticket before this update.
	First bool
	// Err is the poll's failure, after the client's own retries.
	Err error
	// Final reports that the Watcher stopped watching the ticket, because
	// the condition holds for Response or because Err is permanent. Errors
	// are permanent or transient as WaitForVerdict describes.
	Final bool
}

// Watcher polls many tickets until each has a verdict, or meets the
// condition that WithCondition sets, and delivers each status change on its
// Updates channel. It runs a fixed number of
// goroutines, whatever the number of tickets, and sends every HTTP attempt
// through one rate limiter. Create it with NewWatcher, add tickets with
// Add, and call Run. Its methods are safe for concurrent use.
type Watcher struct {
	client       *Client
	poll         pollSettings
	concurrency  int
	limiter      *rate.Limiter
	stopWhenIdle bool
	updates      chan Update
	// wake has room for one signal that the queue or the set of tickets
	// changed, so the scheduler looks at them again.
	wake chan struct{}

	mu      sync.Mutex
	state   watcherState
	tickets map[ticketKey]*watchedTicket
	queue   ticketQueue
	// added numbers the tickets in order of Add, which breaks ties in
	// the queue.
	added uint64
}

type watcherState int

const (
	watcherNew watcherState = iota
	watcherRunning
	watcherStopped
)

type ticketKey struct{ biz, ticketID string }

// watchedTicket is the polling state of one ticket. The Watcher's mu
// guards index, next and removed. The fields after them are used only by
// the worker polling the ticket, which holds it off the queue meanwhile.
type watchedTicket struct {
	index   int // position in the queue, -1 while it is being polled
	next    time.Time
	order   uint64 // set once by Add
	removed bool

	req       GetStatusRequest
	seen      bool // a response was received
	status    StatusCode
	unchanged int // polls since the status last changed
}

// NewWatcher returns a Watcher that polls with c. It starts nothing until
// Run is called, and returns an error naming the first option with an
// invalid value.
func (c *Client) NewWatcher(opts ...WatcherOption) (*Watcher, error) {
	cfg := watcherConfig{
		poll:        defaultPollSettings(),
		concurrency: DefaultWatcherConcurrency,
		rateLimit:   rate.Limit(DefaultWatcherRate),
		burst:       DefaultWatcherBurst,
	}
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("cloudauth: NewWatcher: option %d is nil", i)
		}
		if err := opt.applyWatcher(&cfg); err != nil {
			return nil, fmt.Errorf("cloudauth: NewWatcher: %w", err)
		}
	}
	return &Watcher{
		client:       c,
		poll:         cfg.poll,
		concurrency:  cfg.concurrency,
		limiter:      rate.NewLimiter(cfg.rateLimit, cfg.burst),
		stopWhenIdle: cfg.stopWhenIdle,
		updates:      make(chan Update, cfg.concurrency),
		wake:         make(chan struct{}, 1),
		tickets:      make(map[ticketKey]*watchedTicket),
	}, nil
}

// Updates returns the channel on which Run delivers updates. Run closes it
// when it returns. Receive from it until it is closed: while the channel is
// not drained, the goroutines that hold an update wait, and polling slows to
// a stop. Cancelling Run's context ends Run even then.
func (w *Watcher) Updates() <-chan Update { return w.updates }

// Add starts watching req's ticket, before or while Run runs, and polls it
// as soon as a goroutine is free. It returns false, and does nothing, when
// the ticket is already watched or Run has returned. A request with an
// empty Biz or TicketID gets one final update whose Err satisfies
// errors.Is(err, ErrParamMissing).
func (w *Watcher) Add(req GetStatusRequest) bool {
	key := ticketKey{req.Biz, req.TicketID}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == watcherStopped {
		return false
	}
	if _, ok := w.tickets[key]; ok {
		return false
	}
	t := &watchedTicket{req: req, next: time.Now(), order: w.added}
	w.added++
	w.tickets[key] = t
	heap.Push(&w.queue, t)
	w.signal()
	return true
}

// Remove stops watching a ticket and reports whether it was watched. If a
// poll of the ticket is in progress, its update may still be delivered.
func (w *Watcher) Remove(biz, ticketID string) bool {
	key := ticketKey{biz, ticketID}
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.tickets[key]
	if !ok {
		return false
	}
	delete(w.tickets, key)
	t.removed = true
	if t.index >= 0 {
		heap.Remove(&w.queue, t.index)
	}
	w.signal()
	return true
}

// Len returns the number of tickets being watched: those added and neither
// final nor removed.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.tickets)
}

// Run polls the tickets until ctx ends, and returns ctx's error then. With
// WithStopWhenIdle it also returns nil once no ticket is left. Before it
// returns, it stops every goroutine it started and closes the Updates
// channel. A Watcher runs once: a second call returns an error at once.
func (w *Watcher) Run(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("cloudauth: Watcher.Run: %w", errNilContext)
	}
	w.mu.Lock()
	if w.state != watcherNew {
		w.mu.Unlock()
		return errors.New("cloudauth: Watcher.Run: the watcher has already run; create another with NewWatcher")
	}
	w.state = watcherRunning
	w.mu.Unlock()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	pollCtx := withBeforeAttempt(runCtx, w.waitForRateLimit)

	jobs := make(chan *watchedTicket)
	var workers sync.WaitGroup
	for range w.concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for t := range jobs {
				w.pollTicket(pollCtx, t)
			}
		}()
	}

	err := w.schedule(runCtx, jobs)
	close(jobs)
	cancel()
	workers.Wait()
	close(w.updates)
	return err
}

// schedule hands each ticket to a worker through jobs when its next poll is
// due, until ctx ends or, with WithStopWhenIdle, no ticket is left.
func (w *Watcher) schedule(ctx context.Context, jobs chan<- *watchedTicket) error {
	for {
		w.mu.Lock()
		if err := ctx.Err(); err != nil {
			w.state = watcherStopped
			w.mu.Unlock()
			return err
		}
		if w.stopWhenIdle && len(w.tickets) == 0 {
			w.state = watcherStopped
			w.mu.Unlock()
			return nil
		}
		var due *watchedTicket
		wait := time.Duration(-1) // no ticket is queued
		if len(w.queue) > 0 {
			if untilNext := time.Until(w.queue[0].next); untilNext > 0 {
				wait = untilNext
			} else {
				due = heap.Pop(&w.queue).(*watchedTicket)
			}
		}
		w.mu.Unlock()

		if due != nil {
			// Blocks while every worker is busy, which bounds concurrency.
			select {
			case jobs <- due:
			case <-ctx.Done():
			}
			continue
		}
		w.sleep(ctx, wait)
	}
}

// sleep waits for wait, a signal on w.wake or the end of ctx. A negative
// wait waits for the signal or ctx only.
func (w *Watcher) sleep(ctx context.Context, wait time.Duration) {
	if wait < 0 {
		select {
		case <-w.wake:
		case <-ctx.Done():
		}
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-w.wake:
	case <-ctx.Done():
	}
}

// signal wakes the scheduler without blocking. Call it with w.mu held.
func (w *Watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// waitForRateLimit waits until the rate limiter allows one more request.
// The client calls it before each attempt of a Watcher's poll.
func (w *Watcher) waitForRateLimit(ctx context.Context) error {
	reservation := w.limiter.Reserve()
	delay := reservation.Delay()
	if delay == 0 {
		return nil
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		reservation.Cancel()
		return ctx.Err()
	}
}

// pollTicket polls t once, delivers the update if there is one, and puts t
// back on the queue unless it is final, removed or the Watcher stopped.
func (w *Watcher) pollTicket(ctx context.Context, t *watchedTicket) {
	if w.isRemoved(t) {
		return
	}
	resp, err := w.client.GetStatus(ctx, &t.req)
	if ctx.Err() != nil {
		// Run is returning, so the update might never be received.
		return
	}

	update, changed := t.record(resp, err, w.poll.condition)
	if changed || update.Final {
		if w.isRemoved(t) {
			return
		}
		select {
		case w.updates <- update:
		case <-ctx.Done():
			return
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if t.removed || w.state == watcherStopped {
		return
	}
	if update.Final {
		// Deleted only after the final update was delivered, so that
		// WithStopWhenIdle cannot end Run and close Updates before it.
		delete(w.tickets, ticketKey{t.req.Biz, t.req.TicketID})
	} else {
		t.next = time.Now().Add(max(pollInterval(t.unchanged, w.poll), throttleDelay(err)))
		heap.Push(&w.queue, t)
	}
	w.signal()
}

func (w *Watcher) isRemoved(t *watchedTicket) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return t.removed
}

// record updates t with the result of one poll and returns the update
// for it, and whether the status changed. A first response counts as a
// change, and so does every failure.
func (t *watchedTicket) record(resp *GetStatusResponse, err error, condition func(*GetStatusResponse) bool) (Update, bool) {
	update := Update{Ticket: t.req, Previous: t.status, First: !t.seen}
	t.unchanged++
	if err != nil {
		update.Err = err
		update.Final = !pollRetryable(err)
		return update, true
	}

	changed := !t.seen || resp.StatusCode != t.status
	if changed {
		t.unchanged = 1
	}
	t.seen, t.status = true, resp.StatusCode
	update.Response = resp
	final, err := callCondition(condition, resp)
	update.Final, update.Err = final, err
	return update, changed || err != nil
}

// callCondition calls the WithCondition function and turns a panic into a
// final error for the ticket. The Watcher calls it on its own goroutines,
// where no caller could recover, so one bad callback would otherwise end
// the whole program.
func callCondition(condition func(*GetStatusResponse) bool, resp *GetStatusResponse) (final bool, err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			final, err = true, fmt.Errorf("cloudauth: Watcher: the WithCondition function panicked: %v", recovered)
		}
	}()
	return condition(resp), nil
}

// ticketQueue is a min-heap of tickets by next poll time, then by order of
// Add. It implements heap.Interface.
type ticketQueue []*watchedTicket

func (q ticketQueue) Len() int { return len(q) }

func (q ticketQueue) Less(i, j int) bool {
	if q[i].next.Equal(q[j].next) {
		return q[i].order < q[j].order
	}
	return q[i].next.Before(q[j].next)
}

func (q ticketQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *ticketQueue) Push(x any) {
	t := x.(*watchedTicket)
	t.index = len(*q)
	*q = append(*q, t)
}

func (q *ticketQueue) Pop() any {
	old := *q
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*q = old[:n-1]
	return t
}
