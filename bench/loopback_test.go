package bench

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// getStatusBody is the GetStatus reference example with a RequestId added.
//
//go:embed testdata/getstatus.json
var getStatusBody []byte

// Credentials and request values shared by every benchmark. The server does
// not check signatures, so the secret is only an input to the signers.
const (
	accessKeyID     = "LTAI-bench-key-id"
	accessKeySecret = "bench-secret-0123456789"
	bizValue        = "RPBasic"
	ticketIDValue   = "ticket-2b1c9f0e-7a63-4d0e-9d1a-5f0c0e3b8a42"
	regionID        = "cn-hangzhou"
	apiVersion      = "2018-09-16"
)

// serverKind selects the loopback server. The minimal one does almost no
// work per request, so the time and allocations a benchmark reports are the
// client's. The nethttp one is an httptest server, whose work is counted too.
var serverKind = flag.String("server", "minimal",
	"the loopback server the benchmarks call: minimal or nethttp")

// server is the one loopback server that every benchmark and test sends to.
var server *loopbackServer

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	server, err = newLoopbackServer(*serverKind)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	code := m.Run()
	server.Close()
	os.Exit(code)
}

// loopbackServer responds to every request with getStatusBody and counts the
// requests, so a benchmark can check that each call reached it.
type loopbackServer struct {
	// URL is "http://127.0.0.1:port" and host its "127.0.0.1:port".
	URL, host string
	requests  atomic.Int64

	listener net.Listener
	// httpServer is set for the nethttp kind only.
	httpServer *httptest.Server

	mu sync.Mutex
	// lastTarget is the request target of the latest request, such as
	// "/?Action=GetStatus&...", kept as bytes so that recording it does not
	// allocate.
	lastTarget []byte
	conns      map[net.Conn]struct{}
	closed     bool
	wg         sync.WaitGroup
}

var (
	contentTypeValue   = []string{"application/json;charset=utf-8"}
	contentLengthValue = []string{strconv.Itoa(len(getStatusBody))}
)

func newLoopbackServer(kind string) (*loopbackServer, error) {
	s := &loopbackServer{conns: make(map[net.Conn]struct{})}
	switch kind {
	case "minimal":
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listening on 127.0.0.1: %w", err)
		}
		s.listener = listener
		s.wg.Add(1)
		go s.acceptMinimal(newMinimalResponses(time.Now()))
	case "nethttp":
		s.httpServer = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
		s.listener = s.httpServer.Listener
	default:
		return nil, fmt.Errorf("invalid -server=%q; use minimal or nethttp", kind)
	}
	addr, ok := s.listener.Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() {
		s.Close()
		return nil, fmt.Errorf("the test server listens on %v, not on a loopback address", s.listener.Addr())
	}
	s.host = addr.String()
	s.URL = "http://" + s.host
	return s, nil
}

// Close stops the server and closes every connection it accepted.
func (s *loopbackServer) Close() {
	if s.httpServer != nil {
		s.httpServer.Close()
		return
	}
	s.mu.Lock()
	s.closed = true
	for conn := range s.conns {
		conn.Close()
	}
	s.mu.Unlock()
	s.listener.Close()
	s.wg.Wait()
}

func (s *loopbackServer) record(target []byte) {
	s.requests.Add(1)
	s.mu.Lock()
	s.lastTarget = append(s.lastTarget[:0], target...)
	s.mu.Unlock()
}

func (s *loopbackServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	s.lastTarget = append(s.lastTarget[:0], r.RequestURI...)
	s.mu.Unlock()

	header := w.Header()
	header["Content-Type"] = contentTypeValue
	header["Content-Length"] = contentLengthValue
	_, _ = w.Write(getStatusBody)
}

// last returns the path and raw query of the latest request.
func (s *loopbackServer) last() (path, rawQuery string) {
	s.mu.Lock()
	target := string(s.lastTarget)
	s.mu.Unlock()
	path, rawQuery, _ = strings.Cut(target, "?")
	return path, rawQuery
}

// expectRequests fails tb unless the server got exactly want requests since
// it counted start, which proves the calls went to the loopback server.
func (s *loopbackServer) expectRequests(tb testing.TB, start int64, want int) {
	tb.Helper()
	if got := s.requests.Load() - start; got != int64(want) {
		tb.Fatalf("the loopback server got %d requests, expected %d", got, want)
	}
}

// newTransport returns a transport with the settings of cloudauth's own
// default transport (keep-alive, idle connection limits, HTTP/2 attempts)
// that dials only the loopback server and sends no request anywhere else.
// Every benchmarked client gets its own, so none reuses another's
// connections.
func newTransport(tb testing.TB) http.RoundTripper {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	allowed := server.host
	base := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			if address != allowed {
				return nil, fmt.Errorf("bench: dialing %s is not allowed; only %s is", address, allowed)
			}
			return dialer.DialContext(ctx, network, address)
		},
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 64,
		ForceAttemptHTTP2:   true,
	}
	tb.Cleanup(base.CloseIdleConnections)
	return &loopbackOnlyTransport{host: allowed, base: base}
}

// loopbackOnlyTransport sends a request only when its URL names the loopback
// server. It also hides the *http.Transport from the official SDK, whose
// v1.63.107 would otherwise set a proxy from HTTP_PROXY on it.
type loopbackOnlyTransport struct {
	host string
	base *http.Transport
}

func (t *loopbackOnlyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		return nil, fmt.Errorf("bench: sending to %q is not allowed; only %s is", req.URL.Host, t.host)
	}
	return t.base.RoundTrip(req)
}

// cpuMeter reports the CPU time of a benchmark's loop per operation as the
// metric cpu-ns/op: user and system time on every thread of the process,
// the loopback server's and the runtime's included.
type cpuMeter struct {
	start time.Duration
}

func startCPUMeter(tb testing.TB) cpuMeter { return cpuMeter{start: processCPUTime(tb)} }

func (m cpuMeter) report(b *testing.B) {
	if used := processCPUTime(b) - m.start; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
