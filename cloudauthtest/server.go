package cloudauthtest

import (
	"errors"
	"io"
	"math/rand"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxBodyBytes caps the request body the server reads.
const maxBodyBytes = 1 << 20

// Server is a fake Cloudauth endpoint serving GetStatus over HTTP on the
// loopback interface. It is safe for concurrent use.
type Server struct {
	// URL is the base URL of the server, such as http://127.0.0.1:PORT,
	// with no trailing slash.
	URL string

	httpServer *httptest.Server
	closed     chan struct{} // closed by Close to end pending delays
	closeOnce  sync.Once

	mu           sync.Mutex
	keys         map[string]accessKey
	bizs         map[string]bool
	tickets      map[ticketKey]*ticket
	clockSkew    time.Duration
	nonces       nonceCache
	failureQueue []Failure
	faultRate    float64
	faultRandom  *rand.Rand
	faultChoices []Failure
	limiter      *tokenBucket // nil when there is no rate limit
	stats        Stats
	lastRequest  *RequestRecord
}

// Stats counts the requests a Server received and how it responded to them.
// Once every request has completed, Requests equals Succeeded +
// Injected + Canceled + the sum of Rejected.
type Stats struct {
	Requests  int // requests received
	Succeeded int // GetStatus responses with Success true
	Injected  int // requests that got the response of a Failure with a non-zero Status
	Delayed   int // requests held by a Failure's Delay, counted also in the outcome they got
	Canceled  int // requests whose context ended, or whose server closed, during a Delay
	// Rejected counts error responses the server made itself, by error code,
	// such as "SignatureDoesNotMatch" or "Throttling.User".
	Rejected map[string]int
}

// RequestRecord is a copy of a request the server received.
type RequestRecord struct {
	Method string
	Path   string
	Host   string
	Query  url.Values
	Form   url.Values // parameters of a form-encoded POST body, nil for other requests
	Header http.Header
	Body   []byte
}

// incomingRequest is a request being handled, with what the server read
// from it before checking it.
type incomingRequest struct {
	http      *http.Request
	requestID string
	format    string
	body      []byte
	bodyErr   error
	query     url.Values // the URL query alone, which V3 signs
	form      url.Values // the form-encoded body of a POST, or nil
	params    url.Values // query and form together, which V1 signs
	paramsErr error
}

// NewServer starts a Server on 127.0.0.1 with no access keys, no business
// scenarios and no tickets. Call Close when done.
func NewServer() *Server {
	s := &Server{
		closed:  make(chan struct{}),
		keys:    make(map[string]accessKey),
		bizs:    make(map[string]bool),
		tickets: make(map[ticketKey]*ticket),
		stats:   Stats{Rejected: make(map[string]int)},
	}
	s.httpServer = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.httpServer.URL
	return s
}

// Close ends pending delays, then shuts the server down and waits for the
// requests in progress to finish.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.httpServer.Close()
}

// Client returns an HTTP client that sends requests to the server.
func (s *Server) Client() *http.Client {
	return s.httpServer.Client()
}

// AddAccessKey registers an AccessKey pair that requests may sign with.
// Registering an id again replaces its secret.
func (s *Server) AddAccessKey(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.keys[id] = accessKey{secret: secret}
}

// AddSTSCredentials registers STS credentials. Requests signed with id must
// carry securityToken in the SecurityToken parameter for V1 or the
// x-acs-security-token header for V3.
func (s *Server) AddSTSCredentials(id, secret, securityToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.keys[id] = accessKey{secret: secret, securityToken: securityToken, sts: true}
}

// AddBiz adds business scenarios that requests may name in Biz. Requests
// naming any other get InvalidParam.InvalidBiz.
func (s *Server) AddBiz(biz ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	for _, b := range biz {
		s.bizs[b] = true
	}
}

// SetClockSkew sets the server's clock to the real time plus d. The clock
// decides which timestamps have expired, when a Step's Until is reached,
// and the Date header.
func (s *Server) SetClockSkew(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.clockSkew = d
}

// Now returns the time on the server's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.nowLocked()
}

// nowLocked returns the time on the server's clock. The caller holds s.mu.
func (s *Server) nowLocked() time.Time {
	return time.Now().Add(s.clockSkew)
}

// Requests returns how many requests the server received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.stats.Requests
}

// Stats returns a copy of the server's request counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()

	stats := s.stats
	stats.Rejected = make(map[string]int, len(s.stats.Rejected))
	for code, count := range s.stats.Rejected {
		stats.Rejected[code] = count
	}
	return stats
}

// LastRequest returns a copy of the last request the server received, or
// nil before the first one.
func (s *Server) LastRequest() *RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.lastRequest == nil {
		return nil
	}
	return s.lastRequest.clone()
}

func (r *RequestRecord) clone() *RequestRecord {
	c := *r
	c.Query = cloneValues(r.Query)
	c.Form = cloneValues(r.Form)
	c.Header = r.Header.Clone()
	c.Body = append([]byte(nil), r.Body...)
	return &c
}

func cloneValues(values url.Values) url.Values {
	if values == nil {
		return nil
	}
	c := make(url.Values, len(values))
	for name, list := range values {
		c[name] = append([]string(nil), list...)
	}
	return c
}

// serveHTTP responds to one request with an injected failure if one is
// due, and otherwise with an error or the ticket's state.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	req := readRequest(w, r)
	s.record(req)

	if failure, ok := s.nextFailure(); ok {
		if failure.Delay > 0 {
			s.count(func(stats *Stats) { stats.Delayed++ })
			if !s.wait(r.Context(), failure.Delay) {
				s.count(func(stats *Stats) { stats.Canceled++ })
				// Abort the connection, so a client still waiting after
				// Close gets an error rather than an empty 200 response.
				panic(http.ErrAbortHandler)
			}
		}
		if failure.Status != 0 {
			s.count(func(stats *Stats) { stats.Injected++ })
			s.writeFailure(w, req, failure)
			return
		}
	}

	state, err := s.getStatus(req)
	s.setCommonHeaders(w, req.requestID)
	if err != nil {
		s.count(func(stats *Stats) { stats.Rejected[err.code]++ })
		writeError(w, req.format, req.requestID, err)
		return
	}
	writeSuccess(w, req.format, req.requestID, state)
}

// getStatus checks the request and returns the state of its ticket, or the
// error for the first check that fails.
func (s *Server) getStatus(req *incomingRequest) (TicketState, *apiError) {
	r := req.http
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(req.bodyErr, &tooLarge):
		return TicketState{}, newAPIError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			"The request body is larger than the limit of 1 MiB.")
	case req.bodyErr != nil:
		return TicketState{}, invalidParam("Reading the request body failed: " + req.bodyErr.Error())
	case r.Method != http.MethodGet && r.Method != http.MethodPost:
		return TicketState{}, newAPIError(http.StatusMethodNotAllowed, "UnsupportedHTTPMethod",
			"The method "+r.Method+" is not supported. Use GET or POST.")
	case r.URL.Path != "/":
		return TicketState{}, newAPIError(http.StatusNotFound, "InvalidAction.NotFound",
			"The path "+r.URL.Path+" is not found. RPC requests go to /.")
	case req.paramsErr != nil:
		return TicketState{}, invalidParam("The query or form body is not valid URL encoding: " +
			req.paramsErr.Error())
	}
	if format := req.params.Get("Format"); format != "" && !strings.EqualFold(format, formatJSON) &&
		!strings.EqualFold(format, formatXML) {
		return TicketState{}, invalidParam("The Format " + format + " is not supported. Use JSON or XML.")
	}

	if err := s.authenticate(req); err != nil {
		return TicketState{}, err
	}
	if err := s.checkRateLimit(); err != nil {
		return TicketState{}, err
	}

	for _, name := range []string{"RegionId", "Biz", "TicketId"} {
		if strings.TrimSpace(req.params.Get(name)) == "" {
			return TicketState{}, missingParam(name)
		}
	}
	biz, ticketID := req.params.Get("Biz"), req.params.Get("TicketId")

	s.mu.Lock()
	defer s.mu.Unlock()

	if !s.bizs[biz] {
		return TicketState{}, newAPIError(http.StatusBadRequest, "InvalidParam.InvalidBiz", "The biz is not valid.")
	}
	s.stats.Succeeded++
	return s.poll(biz, ticketID, s.nowLocked()), nil
}

// readRequest reads the body, up to maxBodyBytes, and the parameters of r.
// Errors are kept in the result, because an injected failure takes
// precedence over them.
func readRequest(w http.ResponseWriter, r *http.Request) *incomingRequest {
	req := &incomingRequest{http: r, requestID: newRequestID()}
	req.body, req.bodyErr = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))

	req.query, req.paramsErr = url.ParseQuery(r.URL.RawQuery)
	req.params = cloneValues(req.query)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method == http.MethodPost && mediaType == "application/x-www-form-urlencoded" && req.bodyErr == nil {
		var err error
		req.form, err = url.ParseQuery(string(req.body))
		if req.paramsErr == nil {
			req.paramsErr = err
		}
		for name, values := range req.form {
			req.params[name] = append(req.params[name], values...)
		}
	}

	req.format = formatJSON
	if strings.EqualFold(req.params.Get("Format"), formatXML) {
		req.format = formatXML
	}
	return req
}

// record counts the request and keeps a copy of it for LastRequest.
func (s *Server) record(req *incomingRequest) {
	r := req.http
	record := &RequestRecord{
		Method: r.Method,
		Path:   r.URL.Path,
		Host:   r.Host,
		Query:  cloneValues(req.query),
		Form:   cloneValues(req.form),
		Header: r.Header.Clone(),
		Body:   append([]byte(nil), req.body...),
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	s.stats.Requests++
	s.lastRequest = record
}

// count applies update to the stats under the lock.
func (s *Server) count(update func(stats *Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()

	update(&s.stats)
}

// setCommonHeaders sets the headers every response carries: the request id
// and the Date on the server's clock.
func (s *Server) setCommonHeaders(w http.ResponseWriter, requestID string) {
	w.Header().Set("x-acs-request-id", requestID)
	w.Header().Set("Date", s.Now().UTC().Format(http.TimeFormat))
}

// writeFailure writes the response that f describes.
func (s *Server) writeFailure(w http.ResponseWriter, req *incomingRequest, f Failure) {
	s.setCommonHeaders(w, req.requestID)
	header := w.Header()
	if f.throttleTimeLeft > 0 {
		header.Set(rateLimitHeader, rateLimitValue(1, f.throttleTimeLeft, s.Now()))
	}
	for name, values := range f.Header {
		header[name] = append([]string(nil), values...)
	}
	if f.ContentType != "" {
		header.Set("Content-Type", f.ContentType)
	}

	switch {
	case f.Body != "":
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
	case f.Code != "":
		writeError(w, req.format, req.requestID, &apiError{status: f.Status, code: f.Code, message: f.Message})
	default:
		w.WriteHeader(f.Status)
	}
}
