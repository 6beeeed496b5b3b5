package cloudauth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// countingServer is an httptest server on 127.0.0.1 that counts the TCP
// connections clients open to it.
type countingServer struct {
	*httptest.Server
	connections atomic.Int32
}

func newCountingServer(t *testing.T, handler http.HandlerFunc) *countingServer {
	t.Helper()
	srv := &countingServer{}
	srv.Server = httptest.NewUnstartedServer(handler)
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			srv.connections.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestConnectionsReusedAcrossErrors(t *testing.T) {
	var calls atomic.Int32
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) % 4 {
		case 0:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"Code":"InvalidParam.InvalidBiz","Message":"bad biz"}`))
		case 1:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><body>" + string(make([]byte, 8<<10)) + "</body></html>"))
		default:
			_, _ = w.Write([]byte(`{"Data":{"StatusCode":1}}`))
		}
	})
	client, err := NewClient(WithEndpoint(srv.URL), WithAccessKey(testKeyID, testSecret), WithMaxAttempts(1))
	require.NoError(t, err)
	defer client.httpClient.CloseIdleConnections()

	var failures int
	for i := 0; i < 200; i++ {
		if _, err := client.GetStatus(context.Background(), testRequest); err != nil {
			failures++
		}
	}
	assert.Equal(t, 100, failures, "half of the calls get an error response")
	assert.Equal(t, int32(1), srv.connections.Load(), "one connection serves every sequential call")
}

func TestConnectionReusedAfterOversizedBody(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, 4096))
	})
	client, err := NewClient(WithEndpoint(srv.URL), WithAccessKey(testKeyID, testSecret),
		WithMaxAttempts(1), WithMaxResponseBytes(1024))
	require.NoError(t, err)
	defer client.httpClient.CloseIdleConnections()
	for i := 0; i < 10; i++ {
		_, err := client.GetStatus(context.Background(), testRequest)
		require.ErrorIs(t, err, errBodyTooLarge)
	}
	assert.Equal(t, int32(1), srv.connections.Load(), "the drained body leaves the connection reusable")
}

func TestConcurrentCallsShareOneClient(t *testing.T) {
	var failedOnce sync.Map
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		query := r.URL.Query()
		signature := query.Get("Signature")
		query.Del("Signature")
		if SignV1(r.Method, query, testSecret) != signature {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"Code":"SignatureDoesNotMatch"}`))
			return
		}
		// The first attempt of every tenth ticket fails, so retries run
		// concurrently with other calls.
		if ticket := query.Get("TicketId"); strings.HasSuffix(ticket, "0") {
			if _, retried := failedOnce.LoadOrStore(ticket, true); !retried {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte(`{"RequestId":"` + query.Get("TicketId") + `","Data":{"StatusCode":1}}`))
	})
	client, err := NewClient(WithEndpoint(srv.URL), WithAccessKey(testKeyID, testSecret),
		WithBackoff(time.Millisecond, 2*time.Millisecond), WithMaxAttempts(5))
	require.NoError(t, err)
	defer client.httpClient.CloseIdleConnections()

	const goroutines, callsEach = 64, 100
	var wg sync.WaitGroup
	var wrong atomic.Int32
	var firstFailure atomic.Value
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < callsEach; i++ {
				ticket := "t-" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				resp, err := client.GetStatus(context.Background(), &GetStatusRequest{Biz: "RPBasic", TicketID: ticket})
				if err != nil || resp.StatusCode != StatusPassed || resp.RequestID != ticket {
					wrong.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("ticket %s: response %+v, error %v", ticket, resp, err))
				}
			}
		}(g)
	}
	wg.Wait()
	assert.Zero(t, wrong.Load(), "every call returns its own ticket's response; first failure: %v", firstFailure.Load())
	assert.LessOrEqual(t, srv.connections.Load(), int32(2*goroutines), "connections are pooled")
}

func TestNoGoroutineLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := calls.Add(1); {
		case n <= 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Query().Get("TicketId") == "slow":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		default:
			_, _ = w.Write([]byte(`{"Data":{"StatusCode":0}}`))
		}
	}))
	defer srv.Close()
	defer close(release)

	client, err := NewClient(WithEndpoint(srv.URL), WithAccessKey(testKeyID, testSecret),
		WithBackoff(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	defer client.httpClient.CloseIdleConnections()

	_, err = client.GetStatus(context.Background(), testRequest)
	require.NoError(t, err, "succeeds after two retries")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = client.GetStatus(ctx, &GetStatusRequest{Biz: "RPBasic", TicketID: "slow"})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	attemptClient, err := NewClient(WithEndpoint(srv.URL), WithAccessKey(testKeyID, testSecret),
		WithAttemptTimeout(10*time.Millisecond), WithBackoff(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	defer attemptClient.httpClient.CloseIdleConnections()
	_, err = attemptClient.GetStatus(context.Background(), &GetStatusRequest{Biz: "RPBasic", TicketID: "slow"})
	require.ErrorIs(t, err, ErrAttemptTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's context is still live")
}
