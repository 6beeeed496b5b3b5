package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// credentialsRefreshMargin is how long before expiry the cache refreshes
	// credentials, so no request is signed with credentials that expire in
	// flight or during retries.
	credentialsRefreshMargin = 5 * time.Minute
	// credentialsRetryInterval is the minimum time between refresh attempts
	// after a failed one, while the cached credentials are still valid. It
	// keeps a failing source from being called, and a warning from being
	// logged, on every request.
	credentialsRetryInterval = 10 * time.Second
)

var _ CredentialsProvider = (*credentialsCache)(nil)

// credentialsCache wraps a CredentialsProvider and keeps its last
// credentials until credentialsRefreshMargin before they expire. Credentials
// with a zero Expires are kept for good after the first success. At most one
// call to the provider runs at a time, and nothing runs in the background:
// the caller that finds the credentials stale makes the call. Callers that
// arrive meanwhile get the cached credentials while those are still valid,
// and otherwise wait for the call or for their own context to end.
type credentialsCache struct {
	provider CredentialsProvider
	logger   *slog.Logger // nil means silent
	now      func() time.Time

	// current holds the last credentials retrieved, or nil before the first
	// success. Readers load it without a lock.
	current atomic.Pointer[Credentials]
	// retryAfter is the Unix time in nanoseconds before which no refresh is
	// attempted while current is still valid, or 0.
	retryAfter atomic.Int64

	mu sync.Mutex
	// inflight is the refresh in progress, or nil. Guarded by mu.
	inflight *credentialsRefresh
	// failures counts consecutive failed refreshes. Guarded by mu.
	failures int
}

// credentialsRefresh is one call to the provider that other callers can
// wait for. Its fields are written before done is closed.
type credentialsRefresh struct {
	done  chan struct{}
	creds Credentials
	err   error
	// callerCanceled is true when the context of the caller that ran the
	// refresh ended, so a waiter with a live context tries again itself.
	callerCanceled bool
}

// newCredentialsCache returns a cache in front of provider. A nil logger
// disables the warning logged when a refresh fails, and a nil now selects
// time.Now.
func newCredentialsCache(provider CredentialsProvider, logger *slog.Logger, now func() time.Time) *credentialsCache {
	if now == nil {
		now = time.Now
	}
	return &credentialsCache{provider: provider, logger: logger, now: now}
}

// Retrieve returns the cached credentials while they are fresh, and
// otherwise refreshes them. The fresh path takes no lock and allocates
// nothing.
func (c *credentialsCache) Retrieve(ctx context.Context) (Credentials, error) {
	now := c.now()
	if cached := c.current.Load(); cached != nil {
		if !cached.expired(now, credentialsRefreshMargin) {
			return *cached, nil
		}
		if !cached.expired(now, 0) && now.UnixNano() < c.retryAfter.Load() {
			return *cached, nil
		}
	}
	return c.refresh(ctx)
}

// refresh calls the provider, or waits for the call already in progress.
func (c *credentialsCache) refresh(ctx context.Context) (Credentials, error) {
	for {
		c.mu.Lock()
		now := c.now()
		cached := c.current.Load()
		stillValid := cached != nil && !cached.expired(now, 0)
		if cached != nil && !cached.expired(now, credentialsRefreshMargin) {
			c.mu.Unlock()
			return *cached, nil
		}
		if stillValid && now.UnixNano() < c.retryAfter.Load() {
			c.mu.Unlock()
			return *cached, nil
		}

		call := c.inflight
		if call == nil {
			call = &credentialsRefresh{done: make(chan struct{})}
			c.inflight = call
			c.mu.Unlock()
			return c.runRefresh(ctx, call)
		}
		c.mu.Unlock()

		if stillValid {
			return *cached, nil
		}
		select {
		case <-call.done:
			if call.err != nil && call.callerCanceled && ctx.Err() == nil {
				continue
			}
			return call.creds, call.err
		case <-ctx.Done():
			return Credentials{}, fmt.Errorf("wait for credentials refresh: %w", ctx.Err())
		}
	}
}

// errProviderPanicked is the error waiters receive when the provider panics
// during a refresh. The panic continues in the caller that ran the refresh.
var errProviderPanicked = errors.New("credentials provider panicked")

// runRefresh calls the provider for call and publishes the result. It always
// clears inflight and closes done, even when the provider panics, so later
// callers do not wait forever.
func (c *credentialsCache) runRefresh(ctx context.Context, call *credentialsRefresh) (creds Credentials, err error) {
	finished := false
	defer func() {
		if !finished {
			call.err = errProviderPanicked
		}
		c.mu.Lock()
		c.inflight = nil
		c.mu.Unlock()
		close(call.done)
	}()

	creds, err = c.provider.Retrieve(ctx)
	now := c.now()
	if err == nil {
		err = creds.validate()
	}
	if err == nil && creds.expired(now, 0) {
		err = fmt.Errorf("credentials provider returned credentials that expired at %s",
			creds.Expires.UTC().Format(time.RFC3339))
	}
	if err != nil {
		creds, err = c.handleFailure(ctx, err, now)
		call.creds, call.err = creds, err
		call.callerCanceled = ctx.Err() != nil
		finished = true
		return creds, err
	}

	stored := creds
	c.current.Store(&stored)
	if creds.expired(now, credentialsRefreshMargin) {
		// The source gave credentials already inside the refresh margin,
		// such as a sidecar that hands out the same keys until they
		// expire. Asking again on every call would hammer it, so wait a
		// little before the next refresh.
		c.retryAfter.Store(now.Add(min(credentialsRetryInterval, creds.Expires.Sub(now)/2)).UnixNano())
	} else {
		c.retryAfter.Store(0)
	}
	c.mu.Lock()
	c.failures = 0
	c.mu.Unlock()
	call.creds = creds
	finished = true
	return creds, nil
}

// handleFailure returns the cached credentials while they are still valid,
// and logs the failure, or returns err when nothing valid is cached.
func (c *credentialsCache) handleFailure(ctx context.Context, err error, now time.Time) (Credentials, error) {
	cached := c.current.Load()
	if cached == nil || cached.expired(now, 0) {
		return Credentials{}, err
	}
	if ctx.Err() != nil {
		// A canceled caller is no sign that the source failed, so the next
		// caller tries again at once.
		return *cached, nil
	}
	c.retryAfter.Store(now.Add(credentialsRetryInterval).UnixNano())
	c.mu.Lock()
	c.failures++
	failures := c.failures
	c.mu.Unlock()
	if c.logger != nil {
		c.logger.LogAttrs(ctx, slog.LevelWarn,
			"credentials refresh failed; using cached credentials until they expire",
			slog.String("error", err.Error()),
			slog.Time("expires", cached.Expires),
			slog.Int("consecutive_failures", failures),
			slog.Duration("retry_after", credentialsRetryInterval),
		)
	}
	return *cached, nil
}

// String names the cache and the type of its provider. It never prints the
// cached credentials.
func (c *credentialsCache) String() string {
	return fmt.Sprintf("credentialsCache{Provider: %T}", c.provider)
}

// GoString is String with the package name, for the %#v verb.
func (c *credentialsCache) GoString() string { return "&cloudauth." + c.String() }

// Format writes the redacted form for every verb.
func (c *credentialsCache) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.GoString())
}

// LogValue implements slog.LogValuer without the cached credentials.
func (c *credentialsCache) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", fmt.Sprintf("%T", c.provider)))
}
