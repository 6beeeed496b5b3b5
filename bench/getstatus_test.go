package bench

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/cloudauth-go/cloudauth"
)

// BenchmarkGetStatus measures one GetStatus call, from building the request
// to the decoded response, by each way of making it. Each sub-benchmark checks
// afterwards that the loopback server got exactly b.N requests.
func BenchmarkGetStatus(b *testing.B) {
	b.Run("cloudauth", func(b *testing.B) { runSequential(b, cloudauthCall(b)) })
	b.Run("cloudauth_parallel", func(b *testing.B) { runParallel(b, cloudauthCall(b)) })
	b.Run("sdk_common_request", func(b *testing.B) {
		client := newSDKClient(b)
		runSequential(b, func() (int, error) {
			result, err := sdkGetStatus(client)
			return result.Data.StatusCode, err
		})
	})
	b.Run("nethttp_floor", func(b *testing.B) { runSequential(b, floorCall(b)) })
	b.Run("nethttp_floor_parallel", func(b *testing.B) { runParallel(b, floorCall(b)) })
}

// statusCall is one GetStatus call by one way of making it, returning the
// ticket's status code.
type statusCall func() (statusCode int, err error)

// cloudauthCall returns a call through a new cloudauth Client.
func cloudauthCall(tb testing.TB) statusCall {
	client := newCloudauthClient(tb)
	ctx := context.Background()
	request := &cloudauth.GetStatusRequest{Biz: bizValue, TicketID: ticketIDValue}
	return func() (int, error) {
		response, err := client.GetStatus(ctx, request)
		if err != nil {
			return 0, err
		}
		return int(response.StatusCode), nil
	}
}

// floorCall returns a call of the net/http floor with a URL signed once.
func floorCall(tb testing.TB) statusCall {
	client := &http.Client{Transport: newTransport(tb)}
	signedURL := presignedURL()
	return func() (int, error) {
		result, err := floorGetStatus(client, signedURL)
		return result.Data.StatusCode, err
	}
}

// runSequential runs call b.N times in a row and fails b unless each
// returns Passed and the loopback server got every request.
func runSequential(b *testing.B, call statusCall) {
	start := server.requests.Load()
	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPUMeter(b)
	for i := 0; i < b.N; i++ {
		if err := checkPassed(call()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	meter.report(b)
	server.expectRequests(b, start, b.N)
}

// runParallel runs call b.N times from b.RunParallel's goroutines, with the
// same checks as runSequential.
func runParallel(b *testing.B, call statusCall) {
	start := server.requests.Load()
	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPUMeter(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := checkPassed(call()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	meter.report(b)
	if !b.Failed() {
		server.expectRequests(b, start, b.N)
	}
}

// checkPassed returns err, or an error when statusCode is not Passed (1).
func checkPassed(statusCode int, err error) error {
	if err != nil {
		return err
	}
	if statusCode != int(cloudauth.StatusPassed) {
		return fmt.Errorf("StatusCode is %d, expected %d (Passed)", statusCode, cloudauth.StatusPassed)
	}
	return nil
}
