package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Default polling intervals of WaitForVerdict and the Watcher.
const (
	// DefaultPollInterval is the wait after the first poll, before jitter.
	DefaultPollInterval = time.Second
	// DefaultMaxPollInterval caps the wait between two polls of a ticket.
	DefaultMaxPollInterval = 30 * time.Second
)

// pollSettings are the settings that WaitForVerdict and the Watcher share.
type pollSettings struct {
	initialInterval time.Duration
	maxInterval     time.Duration
	condition       func(*GetStatusResponse) bool
}

func defaultPollSettings() pollSettings {
	return pollSettings{
		initialInterval: DefaultPollInterval,
		maxInterval:     DefaultMaxPollInterval,
		condition:       hasVerdict,
	}
}

// hasVerdict is the default condition: the ticket passed or was rejected.
func hasVerdict(resp *GetStatusResponse) bool { return resp.StatusCode.IsFinal() }

// A WaitOption sets a WaitForVerdict setting. An option given an invalid
// value makes WaitForVerdict return an error that names the option.
type WaitOption interface {
	applyWait(*waitConfig) error
}

// A PollOption sets a polling setting that WaitForVerdict and NewWatcher
// share, so it is both a WaitOption and a WatcherOption.
type PollOption func(*pollSettings) error

func (o PollOption) applyWait(c *waitConfig) error {
	if o == nil {
		return errors.New("the PollOption is nil")
	}
	return o(&c.poll)
}

// waitOption is a WaitOption that only WaitForVerdict accepts.
type waitOption func(*waitConfig) error

func (o waitOption) applyWait(c *waitConfig) error {
	if o == nil {
		return errors.New("the WaitOption is nil")
	}
	return o(c)
}

// waitConfig is the settings WaitForVerdict collects from its options.
type waitConfig struct {
	poll    pollSettings
	maxWait time.Duration
}

// WithPollInterval sets the wait after the first poll of a ticket and the
// maximum wait between two polls. Each poll that finds no status change
// makes the next wait 1.5 times longer, up to maxInterval, and jitter
// shortens each wait by up to a fifth so that tickets polled together
// drift apart. A status change starts again from initial. The defaults are
// DefaultPollInterval and DefaultMaxPollInterval.
func WithPollInterval(initial, maxInterval time.Duration) PollOption {
	return func(s *pollSettings) error {
		if initial <= 0 || maxInterval < initial {
			return fmt.Errorf("WithPollInterval(%v, %v): the intervals must be positive and the first no greater than the second",
				initial, maxInterval)
		}
		s.initialInterval, s.maxInterval = initial, maxInterval
		return nil
	}
}

// WithCondition ends polling of a ticket when done returns true for its
// latest response. The default condition is a verdict: StatusPassed or
// StatusRejected. A Watcher may call done from several goroutines at once,
// for different tickets, so done must be safe for concurrent use. A panic in
// done reaches the caller of WaitForVerdict; in a Watcher it ends that
// ticket with a final Update whose Err describes the panic.
func WithCondition(done func(*GetStatusResponse) bool) PollOption {
	return func(s *pollSettings) error {
		if done == nil {
			return errors.New("WithCondition: the condition is nil; pass a function or omit the option to wait for a verdict")
		}
		s.condition = done
		return nil
	}
}

// WithMaxWait bounds the whole of WaitForVerdict to d, as a context
// deadline would. When d elapses, WaitForVerdict returns the last response
// with an error that satisfies errors.Is(err, context.DeadlineExceeded).
// Without it, only the context bounds the wait.
func WithMaxWait(d time.Duration) WaitOption {
	return waitOption(func(c *waitConfig) error {
		if d <= 0 {
			return fmt.Errorf("WithMaxWait(%v): the maximum wait must be positive; omit the option to wait until the context ends", d)
		}
		c.maxWait = d
		return nil
	})
}

func newWaitConfig(opts []WaitOption) (waitConfig, error) {
	cfg := waitConfig{poll: defaultPollSettings()}
	for i, opt := range opts {
		if opt == nil {
			return waitConfig{}, fmt.Errorf("cloudauth: WaitForVerdict: option %d is nil", i)
		}
		if err := opt.applyWait(&cfg); err != nil {
			return waitConfig{}, fmt.Errorf("cloudauth: WaitForVerdict: %w", err)
		}
	}
	return cfg, nil
}

// WaitForVerdict polls GetStatus for req's ticket until the ticket has a
// verdict (StatusPassed or StatusRejected, or what WithCondition sets) and
// returns that response. Between polls it waits as WithPollInterval sets,
// and longer when the service's throttling headers ask for it.
//
// Transport failures, 5xx responses and throttling that persist through the
// client's own retries count as a poll, and polling goes on. Any other
// failure ends the wait at once: ErrInvalidBiz, ErrNoPermission, a rejected
// signature or AccessKey, a 2xx response the client cannot decode, or a
// *NoCredentialsError because no credential source is set up. A provider
// that fails otherwise, such as an STS or metadata outage, counts as a poll
// and polling goes on. WaitForVerdict then returns the last
// response it received, nil if none, with an error that wraps the failure.
//
// When ctx ends or WithMaxWait elapses first, WaitForVerdict returns the
// last response it received, nil if none, with an error. errors.Is matches
// that error to ctx's error, context.Canceled or context.DeadlineExceeded.
// If the last poll failed, the error also wraps that failure.
//
// A nil request or an empty Biz or TicketID is rejected before the first
// poll with an error that satisfies errors.Is(err, ErrParamMissing).
func (c *Client) WaitForVerdict(ctx context.Context, req *GetStatusRequest, opts ...WaitOption) (*GetStatusResponse, error) {
	if ctx == nil {
		return nil, fmt.Errorf("cloudauth: WaitForVerdict: %w", errNilContext)
	}
	cfg, err := newWaitConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	ticket := *req
	if cfg.maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cfg.maxWait,
			fmt.Errorf("the maximum wait of %v set by WithMaxWait elapsed: %w", cfg.maxWait, context.DeadlineExceeded))
		defer cancel()
	}

	var (
		last    *GetStatusResponse
		lastErr error
		// polls counts the polls that returned a response or a failure of
		// their own, and unchanged those since the status last changed,
		// which sets the next interval.
		polls, unchanged int
	)
	for {
		unchanged++
		resp, err := c.GetStatus(ctx, &ticket)
		switch {
		case err == nil:
			polls++
			if last != nil && last.StatusCode != resp.StatusCode {
				unchanged = 1
			}
			last, lastErr = resp, nil
			if cfg.poll.condition(resp) {
				return resp, nil
			}
		case ctx.Err() != nil:
			// The context ended during the poll. Keep the previous failure
			// unless this poll had one besides the interruption.
			if failedBeyondContext(err) {
				polls++
				lastErr = err
			}
		default:
			polls++
			lastErr = err
			if !pollRetryable(err) {
				return last, &waitError{ticket: ticket, polls: polls, last: last, err: err}
			}
		}

		if ctx.Err() == nil {
			wait := max(pollInterval(unchanged, cfg.poll), throttleDelay(err))
			if sleep(ctx, wait) == nil {
				continue
			}
		}
		return last, &waitError{ticket: ticket, polls: polls, last: last, err: lastErr,
			ctxErr: ctx.Err(), cause: context.Cause(ctx)}
	}
}

// pollRetryable reports whether a poll that failed with err may succeed
// later. Besides what the client itself retries, a failure to retrieve
// credentials is transient, because an STS or metadata outage ends. Only a
// chain that found no credential source at all is permanent.
func pollRetryable(err error) bool {
	if retryable(err) {
		return true
	}
	var credsErr *credentialsError
	if !errors.As(err, &credsErr) {
		return false
	}
	var noCreds *NoCredentialsError
	return !errors.As(err, &noCreds)
}

// failedBeyondContext reports whether err, from a call that its context
// ended, also carries an error response of the service or a network failure.
func failedBeyondContext(err error) bool {
	var apiErr *APIError
	var respErr *ResponseError
	if errors.As(err, &apiErr) || errors.As(err, &respErr) {
		return true
	}
	var transportErr *transportError
	return errors.As(err, &transportErr) && !transportErr.contextDone
}

// pollInterval returns the wait after the unchanged-th poll since the
// ticket's status last changed: pollIntervalCeiling less a random jitter of
// up to a fifth of it.
func pollInterval(unchanged int, s pollSettings) time.Duration {
	ceiling := pollIntervalCeiling(unchanged, s.initialInterval, s.maxInterval)
	return ceiling - rand.N(ceiling/5+1)
}

// pollIntervalCeiling returns initial grown by half for each poll after the
// first, capped at maxInterval.
func pollIntervalCeiling(unchanged int, initial, maxInterval time.Duration) time.Duration {
	wait := initial
	for i := 1; i < unchanged && wait < maxInterval; i++ {
		growth := max(wait/2, 1)
		if wait > maxInterval-growth {
			// Also avoids overflowing the Duration.
			return maxInterval
		}
		wait += growth
	}
	return min(wait, maxInterval)
}

// throttleDelay returns the least wait the service asked for when it
// throttled the request that failed with err, or zero.
func throttleDelay(err error) time.Duration {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.retryAfter
	}
	return 0
}

// waitError is WaitForVerdict's failure: a permanent error, or the end of
// the context. It wraps the last poll's failure, if any, and the context's
// error and cause, so errors.Is and errors.As reach all of them.
type waitError struct {
	ticket GetStatusRequest
	polls  int
	last   *GetStatusResponse
	err    error // the last poll's failure, nil when that poll succeeded
	ctxErr error // ctx.Err() when the context ended, else nil
	cause  error // context.Cause(ctx), which may be more specific than ctxErr
}

func (e *waitError) Error() string {
	var b strings.Builder
	b.WriteString("cloudauth: waiting for the verdict of ticket ")
	b.WriteString(strconv.Quote(e.ticket.TicketID))
	b.WriteString(" of Biz ")
	b.WriteString(strconv.Quote(e.ticket.Biz))
	if e.ctxErr == nil {
		b.WriteString(" failed at poll ")
		b.WriteString(strconv.Itoa(e.polls))
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.err.Error(), "cloudauth: "))
		return b.String()
	}

	b.WriteString(" stopped after ")
	b.WriteString(strconv.Itoa(e.polls))
	if e.polls == 1 {
		b.WriteString(" poll (")
	} else {
		b.WriteString(" polls (")
	}
	b.WriteString(e.cause.Error())
	b.WriteString(")")
	if e.last != nil {
		b.WriteString("; last status ")
		b.WriteString(e.last.StatusCode.String())
	}
	if e.err != nil {
		b.WriteString("; last failure: ")
		b.WriteString(strings.TrimPrefix(e.err.Error(), "cloudauth: "))
	}
	return b.String()
}

func (e *waitError) Unwrap() []error {
	errs := make([]error, 0, 3)
	if e.err != nil {
		errs = append(errs, e.err)
	}
	if e.ctxErr != nil {
		errs = append(errs, e.ctxErr)
	}
	if e.cause != nil && e.cause != e.ctxErr {
		errs = append(errs, e.cause)
	}
	return errs
}
