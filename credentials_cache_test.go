package cloudauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock for the cache.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// scriptedProvider counts calls and returns the result of next.
type scriptedProvider struct {
	calls atomic.Int32
	next  func(call int32) (Credentials, error)
}

func (p *scriptedProvider) Retrieve(context.Context) (Credentials, error) {
	return p.next(p.calls.Add(1))
}

// expiringCreds returns STS-like credentials that expire at expires.
func expiringCreds(id string, expires time.Time) Credentials {
	return Credentials{AccessKeyID: id, AccessKeySecret: testRoleSecret, SecurityToken: testRoleToken, Expires: expires}
}

func TestCacheSingleFlight(t *testing.T) {
	release := make(chan struct{})
	provider := &scriptedProvider{next: func(int32) (Credentials, error) {
		<-release
		return expiringCreds("id-1", time.Now().Add(time.Hour)), nil
	}}
	cache := newCredentialsCache(provider, nil, nil)

	const callers = 100
	var wg sync.WaitGroup
	results := make(chan Credentials, callers)
	errs := make(chan error, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			creds, err := cache.Retrieve(context.Background())
			if err != nil {
				errs <- err
				return
			}
			results <- creds
		}()
	}
	time.Sleep(20 * time.Millisecond) // let the callers pile up on the refresh
	close(release)
	wg.Wait()
	close(results)
	close(errs)

	require.Equal(t, int32(1), provider.calls.Load())
	require.Empty(t, errs)
	count := 0
	for creds := range results {
		require.Equal(t, "id-1", creds.AccessKeyID)
		count++
	}
	require.Equal(t, callers, count)
}

func TestCacheKeepsCredentialsWithoutExpiry(t *testing.T) {
	clock := newFakeClock()
	provider := &scriptedProvider{next: func(int32) (Credentials, error) {
		return Credentials{AccessKeyID: "id", AccessKeySecret: testSourceSecret}, nil
	}}
	cache := newCredentialsCache(provider, nil, clock.Now)

	for i := 0; i < 3; i++ {
		creds, err := cache.Retrieve(context.Background())
		require.NoError(t, err)
		require.Equal(t, "id", creds.AccessKeyID)
		clock.Advance(10 * 365 * 24 * time.Hour)
	}

	require.Equal(t, int32(1), provider.calls.Load())
}

func TestCacheRefreshesInsideMargin(t *testing.T) {
	clock := newFakeClock()
	expires := clock.Now().Add(time.Hour)
	provider := &scriptedProvider{next: func(call int32) (Credentials, error) {
		if call == 1 {
			return expiringCreds("first", expires), nil
		}
		return expiringCreds("second", expires.Add(time.Hour)), nil
	}}
	cache := newCredentialsCache(provider, nil, clock.Now)

	_, err := cache.Retrieve(context.Background())
	require.NoError(t, err)
	clock.Advance(time.Hour - credentialsRefreshMargin - time.Second)
	beforeMargin, err := cache.Retrieve(context.Background())
	require.NoError(t, err)
	clock.Advance(2 * time.Second)
	insideMargin, err := cache.Retrieve(context.Background())
	require.NoError(t, err)

	require.Equal(t, "first", beforeMargin.AccessKeyID)
	require.Equal(t, "second", insideMargin.AccessKeyID)
	require.Equal(t, int32(2), provider.calls.Load())
}

func TestCacheServesValidCredentialsWhenRefreshFails(t *testing.T) {
	clock := newFakeClock()
	expires := clock.Now().Add(time.Hour)
	refreshErr := errors.New("STS AssumeRole: https://sts.aliyuncs.com returned HTTP 503")
	provider := &scriptedProvider{next: func(call int32) (Credentials, error) {
		if call == 1 {
			return expiringCreds("first", expires), nil
		}
		return Credentials{}, refreshErr
	}}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cache := newCredentialsCache(provider, logger, clock.Now)

	_, err := cache.Retrieve(context.Background())
	require.NoError(t, err)
	clock.Advance(time.Hour - time.Minute) // inside the margin, not yet expired
	creds, err := cache.Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "first", creds.AccessKeyID)
	require.Equal(t, int32(2), provider.calls.Load())
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "credentials refresh failed")
	require.Contains(t, logs.String(), "HTTP 503")
	require.Contains(t, logs.String(), "consecutive_failures=1")
	requireNoSecret(t, logs.String())
}

func TestCacheWaitsBeforeRetryingFailedRefresh(t *testing.T) {
	clock := newFakeClock()
	expires := clock.Now().Add(time.Hour)
	provider := &scriptedProvider{next: func(call int32) (Credentials, error) {
		if call == 1 {
			return expiringCreds("first", expires), nil
		}
		return Credentials{}, errors.New("unavailable")
	}}
	var logs bytes.Buffer
	cache := newCredentialsCache(provider, slog.New(slog.NewTextHandler(&logs, nil)), clock.Now)
	_, err := cache.Retrieve(context.Background())
	require.NoError(t, err)
	clock.Advance(time.Hour - 2*time.Minute)

	_, err = cache.Retrieve(context.Background())
	require.NoError(t, err)
	clock.Advance(credentialsRetryInterval - time.Second)
	_, err = cache.Retrieve(context.Background())
	require.NoError(t, err)
	callsWithinInterval := provider.calls.Load()
	clock.Advance(2 * time.Second)
	_, err = cache.Retrieve(context.Background())
	require.NoError(t, err)

	require.Equal(t, int32(2), callsWithinInterval)
	require.Equal(t, int32(3), provider.calls.Load())
	require.Contains(t, logs.String(), "consecutive_failures=2")
}

func TestCacheExpiredAndRefreshFails(t *testing.T) {
	clock := newFakeClock()
	refreshErr := errors.New("unavailable")
	provider := &scriptedProvider{next: func(call int32) (Credentials, error) {
		if call == 1 {
			return expiringCreds("first", clock.Now().Add(time.Hour)), nil
		}
		return Credentials{}, refreshErr
	}}
	cache := newCredentialsCache(provider, nil, clock.Now)
	_, err := cache.Retrieve(context.Background())
	require.NoError(t, err)
	clock.Advance(time.Hour)

	_, err = cache.Retrieve(context.Background())

	require.ErrorIs(t, err, refreshErr)
}

func TestCacheFirstFailureReturnsError(t *testing.T) {
	refreshErr := errors.New("unavailable")
	provider := &scriptedProvider{next: func(call int32) (Credentials, error) {
		if call == 1 {
			return Credentials{}, refreshErr
		}
		return Credentials{AccessKeyID: "id", AccessKeySecret: "s"}, nil
	}}
	cache := newCredentialsCache(provider, nil, nil)

	_, err := cache.Retrieve(context.Background())
	require.ErrorIs(t, err, refreshErr)
	creds, err := cache.Retrieve(context.Background())
	require.NoError(t, err)

	require.Equal(t, "id", creds.AccessKeyID)
}

func TestCacheRejectsInvalidCredentials(t *testing.T) {
	clock := newFakeClock()
	tests := []struct {
		name    string
		creds   Credentials
		wantErr string
	}{
		{"empty ID", Credentials{AccessKeySecret: testRoleSecret}, "empty AccessKeyID"},
		{"already expired", expiringCreds("id", clock.Now()), "expired at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			provider := &scriptedProvider{next: func(int32) (Credentials, error) { return tt.creds, nil }}
			cache := newCredentialsCache(provider, nil, clock.Now)

			_, err := cache.Retrieve(context.Background())

			require.ErrorContains(t, err, tt.wantErr)
			requireNoSecret(t, err.Error())
		})
	}
}

func TestCacheWaiterHonorsOwnContext(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	provider := &scriptedProvider{next: func(int32) (Credentials, error) {
		close(started)
		<-release
		return Credentials{AccessKeyID: "id", AccessKeySecret: "s"}, nil
	}}
	cache := newCredentialsCache(provider, nil, nil)
	leaderDone := make(chan error, 1)
	go func() {
		_, err := cache.Retrieve(context.Background())
		leaderDone <- err
	}()
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := cache.Retrieve(ctx)
	close(release)

	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, <-leaderDone)
	require.Equal(t, int32(1), provider.calls.Load())
}

func TestCacheWaiterRetriesAfterLeaderCanceled(t *testing.T) {
	started := make(chan struct{})
	provider := &scriptedProvider{next: nil}
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	provider.next = func(call int32) (Credentials, error) {
		if call == 1 {
			close(started)
			<-leaderCtx.Done()
			return Credentials{}, leaderCtx.Err()
		}
		return Credentials{AccessKeyID: "id", AccessKeySecret: "s"}, nil
	}
	cache := newCredentialsCache(provider, nil, nil)
	leaderDone := make(chan error, 1)
	go func() {
		_, err := cache.Retrieve(leaderCtx)
		leaderDone <- err
	}()
	<-started

	waiterDone := make(chan error, 1)
	go func() {
		_, err := cache.Retrieve(context.Background())
		waiterDone <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the waiter block on the refresh
	cancelLeader()

	require.ErrorIs(t, <-leaderDone, context.Canceled)
	require.NoError(t, <-waiterDone)
	require.Equal(t, int32(2), provider.calls.Load())
}

func TestCacheRecoversFromProviderPanic(t *testing.T) {
	provider := &scriptedProvider{next: func(call int32) (Credentials, error) {
		if call == 1 {
			panic("provider bug")
		}
		return Credentials{AccessKeyID: "id", AccessKeySecret: "s"}, nil
	}}
	cache := newCredentialsCache(provider, nil, nil)

	require.Panics(t, func() { _, _ = cache.Retrieve(context.Background()) })
	creds, err := cache.Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "id", creds.AccessKeyID)
}

func TestCacheHitDoesNotAllocate(t *testing.T) {
	provider := &scriptedProvider{next: func(int32) (Credentials, error) {
		return expiringCreds("id", time.Now().Add(time.Hour)), nil
	}}
	cache := newCredentialsCache(provider, nil, nil)
	ctx := context.Background()
	_, err := cache.Retrieve(ctx)
	require.NoError(t, err)

	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = cache.Retrieve(ctx)
	})

	require.Zero(t, allocs)
}

func BenchmarkCredentialsCacheHit(b *testing.B) {
	provider := &scriptedProvider{next: func(int32) (Credentials, error) {
		return expiringCreds("id", time.Now().Add(time.Hour)), nil
	}}
	cache := newCredentialsCache(provider, nil, nil)
	ctx := context.Background()
	if _, err := cache.Retrieve(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = cache.Retrieve(ctx)
		}
	})
}

func TestCacheServesValidCredentialsDuringRefresh(t *testing.T) {
	clock := newFakeClock()
	expires := clock.Now().Add(time.Hour)
	release := make(chan struct{})
	started := make(chan struct{})
	provider := &scriptedProvider{next: func(call int32) (Credentials, error) {
		if call == 1 {
			return expiringCreds("first", expires), nil
		}
		close(started)
		<-release
		return expiringCreds("second", expires.Add(time.Hour)), nil
	}}
	cache := newCredentialsCache(provider, nil, clock.Now)
	_, err := cache.Retrieve(context.Background())
	require.NoError(t, err)
	clock.Advance(time.Hour - time.Minute)
	leaderDone := make(chan Credentials, 1)
	go func() {
		creds, _ := cache.Retrieve(context.Background())
		leaderDone <- creds
	}()
	<-started

	during, err := cache.Retrieve(context.Background())
	close(release)

	require.NoError(t, err)
	require.Equal(t, "first", during.AccessKeyID)
	require.Equal(t, "second", (<-leaderDone).AccessKeyID)
	require.Equal(t, int32(2), provider.calls.Load())
}
