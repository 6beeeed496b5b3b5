//go:build soak

package cloudauth_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cloudauth-go/cloudauth"
	"github.com/cloudauth-go/cloudauth/cloudauthtest"
)

// soakTickets is the number of tickets of BenchmarkWatcherSoak. Each is in
// review for two polls and passes at the third.
const soakTickets = 10_000

// BenchmarkWatcherSoak watches soakTickets tickets on a cloudauthtest
// server over loopback, with no client-side rate limit, and reports the wall
// time, the requests per second and the peak memory and goroutine count of
// the whole process, the fake server's included. Run it with:
//
//	go test -tags soak -run '^$' -bench WatcherSoak -benchtime 1x .
func BenchmarkWatcherSoak(b *testing.B) {
	for _, concurrency := range []int{16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			for range b.N {
				runSoak(b, concurrency)
			}
		})
	}
}

func runSoak(b *testing.B, concurrency int) {
	b.StopTimer()
	srv := cloudauthtest.NewServer()
	defer srv.Close()
	srv.AddAccessKey(fakeKeyID, fakeSecret)
	srv.AddBiz(fakeBiz)
	for i := range soakTickets {
		inReviewThen(srv, soakTicketID(i), 2, cloudauth.StatusPassed)
	}

	transport := &http.Transport{MaxIdleConns: 2 * concurrency, MaxIdleConnsPerHost: 2 * concurrency}
	defer transport.CloseIdleConnections()
	client, err := cloudauth.NewClient(
		cloudauth.WithEndpoint(srv.URL),
		cloudauth.WithAccessKey(fakeKeyID, fakeSecret),
		cloudauth.WithHTTPClient(&http.Client{Transport: transport}),
	)
	if err != nil {
		b.Fatal(err)
	}
	watcher, err := client.NewWatcher(
		cloudauth.WithPollInterval(time.Millisecond, 5*time.Millisecond),
		cloudauth.WithConcurrency(concurrency),
		cloudauth.WithRateLimit(math.Inf(1), 1),
		cloudauth.WithStopWhenIdle(),
	)
	if err != nil {
		b.Fatal(err)
	}
	for i := range soakTickets {
		watcher.Add(cloudauth.GetStatusRequest{Biz: fakeBiz, TicketID: soakTicketID(i)})
	}

	runtime.GC()
	sampler := startMemorySampler(5 * time.Millisecond)
	b.StartTimer()
	start := time.Now()

	runErr := make(chan error, 1)
	go func() { runErr <- watcher.Run(context.Background()) }()
	finals, failures := 0, 0
	for update := range watcher.Updates() {
		if update.Err != nil {
			failures++
		}
		if update.Final {
			finals++
		}
	}
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}

	wall := time.Since(start)
	b.StopTimer()
	peak := sampler.stop()
	if finals != soakTickets || failures != 0 {
		b.Fatalf("%d of %d tickets final, %d failures", finals, soakTickets, failures)
	}
	requests := srv.Requests()
	if requests != 3*soakTickets {
		b.Fatalf("the server received %d requests, expected %d", requests, 3*soakTickets)
	}
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(float64(requests)/wall.Seconds(), "req/s")
	b.ReportMetric(float64(peak.heapInuse)/(1<<20), "peak-heap-inuse-MiB")
	b.ReportMetric(float64(peak.sys)/(1<<20), "peak-sys-MiB")
	b.ReportMetric(float64(peak.goroutines), "peak-goroutines")
}

func soakTicketID(i int) string { return fmt.Sprintf("soak-%05d", i) }

// memoryPeak is the highest value of each sampled figure.
type memoryPeak struct {
	heapInuse, sys uint64
	goroutines     int
}

// memorySampler reads runtime.MemStats and the goroutine count at a fixed
// interval and keeps the peaks.
type memorySampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak memoryPeak
}

func startMemorySampler(interval time.Duration) *memorySampler {
	s := &memorySampler{done: make(chan struct{})}
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-ticker.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *memorySampler) sample() {
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	goroutines := runtime.NumGoroutine()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peak.heapInuse = max(s.peak.heapInuse, stats.HeapInuse)
	s.peak.sys = max(s.peak.sys, stats.Sys)
	s.peak.goroutines = max(s.peak.goroutines, goroutines)
}

// stop takes a last sample, ends the sampling goroutine and returns the
// peaks.
func (s *memorySampler) stop() memoryPeak {
	close(s.done)
	s.wg.Wait()
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}
