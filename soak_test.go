//go:build soak

package cloudauth_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudauth-go/cloudauth"
	"github.com/cloudauth-go/cloudauth/cloudauthtest"
)

// TestSoakFaultyEndpoint sends 10,000 calls through one client to a fake
// endpoint that fails 5% of requests with 503 or throttling, and checks
// that every result is right, every failure is typed and attempts stay
// bounded. It runs only with -tags soak:
//
//	go test -tags soak -run TestSoakFaultyEndpoint -v .
func TestSoakFaultyEndpoint(t *testing.T) {
	const (
		calls       = 10000
		workers     = 32
		maxAttempts = 3
		tickets     = 100
	)
	srv := cloudauthtest.NewServer()
	defer srv.Close()
	srv.AddAccessKey(fakeKeyID, fakeSecret)
	srv.AddBiz("RPBasic")
	for i := 0; i < tickets; i++ {
		srv.SetTicket("RPBasic", "ticket-"+strconv.Itoa(i), cloudauthtest.TicketState{
			Status:          cloudauth.StatusCode(i%4 - 1),
			SimilarityScore: float64(i),
		})
	}
	srv.SetFaultRate(0.05, 1, cloudauthtest.ServiceUnavailableFailure(),
		cloudauthtest.ThrottlingFailure(2*time.Millisecond))

	client, err := cloudauth.NewClient(cloudauth.WithEndpoint(srv.URL),
		cloudauth.WithAccessKey(fakeKeyID, fakeSecret), cloudauth.WithMaxAttempts(maxAttempts),
		cloudauth.WithBackoff(time.Millisecond, 20*time.Millisecond))
	require.NoError(t, err)

	var wrong, failed, untyped atomic.Int32
	var next atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1)) - 1
				if n >= calls {
					return
				}
				i := n % tickets
				resp, err := client.GetStatus(context.Background(), &cloudauth.GetStatusRequest{
					Biz: "RPBasic", TicketID: "ticket-" + strconv.Itoa(i),
				})
				if err != nil {
					failed.Add(1)
					var apiErr *cloudauth.APIError
					if !errors.As(err, &apiErr) || !apiErr.Temporary() {
						untyped.Add(1)
					}
					continue
				}
				if resp.StatusCode != cloudauth.StatusCode(i%4-1) || resp.SimilarityScore != float64(i) {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	stats := srv.Stats()
	t.Logf("calls=%d workers=%d elapsed=%v calls/s=%.0f requests=%d injected=%d failed=%d GOMAXPROCS=%d",
		calls, workers, elapsed.Round(time.Millisecond), float64(calls)/elapsed.Seconds(),
		stats.Requests, stats.Injected, failed.Load(), runtime.GOMAXPROCS(0))
	assert.Zero(t, wrong.Load(), "no call returns another ticket's state")
	assert.Zero(t, untyped.Load(), "every failure is a temporary *APIError")
	assert.LessOrEqual(t, stats.Requests, calls*maxAttempts, "attempts are bounded")
	assert.Less(t, int(failed.Load()), calls/100, "retries absorb nearly all injected faults")
}
