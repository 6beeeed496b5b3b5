package bench

import (
	"context"
	"net/http"
	"testing"

	"github.com/cloudauth-go/cloudauth"
)

// BenchmarkGetStatus measures one GetStatus call, from building the request
// to the decoded response, by each way of making it. Each sub-benchmark checks
// afterwards that the loopback server got exactly b.N requests.
func BenchmarkGetStatus(b *testing.B) {
	b.Run("cloudauth", benchmarkCloudauth)
	b.Run("cloudauth_parallel", benchmarkCloudauthParallel)
	b.Run("sdk_common_request", benchmarkSDK)
	b.Run("nethttp_floor", benchmarkFloor)
	b.Run("nethttp_floor_parallel", benchmarkFloorParallel)
}

func benchmarkCloudauth(b *testing.B) {
	client := newCloudauthClient(b)
	ctx := context.Background()
	request := &cloudauth.GetStatusRequest{Biz: bizValue, TicketID: ticketIDValue}
	start := server.requests.Load()

	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPUMeter(b)
	for i := 0; i < b.N; i++ {
		response, err := client.GetStatus(ctx, request)
		if err != nil {
			b.Fatal(err)
		}
		if response.StatusCode != cloudauth.StatusPassed {
			b.Fatalf("StatusCode is %v, expected Passed", response.StatusCode)
		}
	}
	b.StopTimer()
	meter.report(b)
	server.expectRequests(b, start, b.N)
}

func benchmarkCloudauthParallel(b *testing.B) {
	client := newCloudauthClient(b)
	ctx := context.Background()
	request := &cloudauth.GetStatusRequest{Biz: bizValue, TicketID: ticketIDValue}
	start := server.requests.Load()

	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPUMeter(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			response, err := client.GetStatus(ctx, request)
			if err != nil {
				b.Error(err)
				return
			}
			if response.StatusCode != cloudauth.StatusPassed {
				b.Errorf("StatusCode is %v, expected Passed", response.StatusCode)
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

func benchmarkSDK(b *testing.B) {
	client := newSDKClient(b)
	start := server.requests.Load()

	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPUMeter(b)
	for i := 0; i < b.N; i++ {
		result, err := sdkGetStatus(client)
		if err != nil {
			b.Fatal(err)
		}
		if result.Data.StatusCode != 1 {
			b.Fatalf("StatusCode is %d, expected 1", result.Data.StatusCode)
		}
	}
	b.StopTimer()
	meter.report(b)
	server.expectRequests(b, start, b.N)
}

func benchmarkFloor(b *testing.B) {
	client := &http.Client{Transport: newTransport(b)}
	signedURL := presignedURL()
	start := server.requests.Load()

	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPUMeter(b)
	for i := 0; i < b.N; i++ {
		result, err := floorGetStatus(client, signedURL)
		if err != nil {
			b.Fatal(err)
		}
		if result.Data.StatusCode != 1 {
			b.Fatalf("StatusCode is %d, expected 1", result.Data.StatusCode)
		}
	}
	b.StopTimer()
	meter.report(b)
	server.expectRequests(b, start, b.N)
}

func benchmarkFloorParallel(b *testing.B) {
	client := &http.Client{Transport: newTransport(b)}
	signedURL := presignedURL()
	start := server.requests.Load()

	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPUMeter(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			result, err := floorGetStatus(client, signedURL)
			if err != nil {
				b.Error(err)
				return
			}
			if result.Data.StatusCode != 1 {
				b.Errorf("StatusCode is %d, expected 1", result.Data.StatusCode)
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
