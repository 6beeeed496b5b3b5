package cloudauthtest

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"net/http"
	"strconv"
	"time"
)

// Failure is a response the server sends in place of the normal one, before
// any check of the request, the signature included.
//
// The server first waits Delay. When the request's context ends or the
// server closes during the wait, it aborts the response. After the wait, a
// zero Status lets the request go on to its normal response. Any other
// Status is sent with
//   - Body verbatim under ContentType, when Body is set. An empty
//     ContentType leaves net/http to detect one from Body.
//   - the service's error document for Code and Message in the request's
//     Format, when Body is empty and Code is set.
//   - an empty body, when both are empty.
//
// Header entries are added to the response last, so they replace the
// x-acs-request-id and Date headers that every response carries.
type Failure struct {
	Status      int
	Code        string
	Message     string
	Body        string
	ContentType string
	Header      http.Header
	Delay       time.Duration

	// throttleTimeLeft, when positive, makes the server add the
	// x-ratelimit-user-api header, which it computes from its clock.
	throttleTimeLeft time.Duration
}

// rateLimitHeader is the header in which the API gateway reports the user
// rate limit on a Throttling.User response.
const rateLimitHeader = "x-ratelimit-user-api"

// ThrottlingFailure returns a 400 Throttling.User failure whose
// x-ratelimit-user-api header reads Limit:1,Remain:0 and states that the limit
// resets after timeLeft. The server computes the header's Reset time from
// its clock when it sends the failure.
func ThrottlingFailure(timeLeft time.Duration) Failure {
	if timeLeft <= 0 {
		timeLeft = time.Millisecond
	}
	return Failure{
		Status:           http.StatusBadRequest,
		Code:             "Throttling.User",
		Message:          "Request was denied due to user flow control.",
		throttleTimeLeft: timeLeft,
	}
}

// ServiceUnavailableFailure returns a 503 ServiceUnavailable failure.
func ServiceUnavailableFailure() Failure {
	return Failure{
		Status:  http.StatusServiceUnavailable,
		Code:    "ServiceUnavailable",
		Message: "The request has failed due to a temporary failure of the server.",
	}
}

// BadGatewayHTML returns a 502 failure with an HTML page, such as a load
// balancer in front of the service sends when it cannot reach it.
func BadGatewayHTML() Failure {
	return Failure{
		Status:      http.StatusBadGateway,
		ContentType: "text/html",
		Body: "<html>\n<head><title>502 Bad Gateway</title></head>\n" +
			"<body>\n<h1>502 Bad Gateway</h1>\n<p>The upstream server did not respond.</p>\n</body>\n</html>\n",
	}
}

// SlowAnswer returns a failure that only delays the request, which then
// gets its normal response. When the request's context ends during the
// wait, the server stops waiting and aborts the response.
func SlowAnswer(delay time.Duration) Failure {
	return Failure{Delay: delay}
}

// FailNext makes the next n requests get f, after any failures queued
// before. Queued failures come before those of SetFaultRate.
func (s *Server) FailNext(n int, f Failure) {
	checkFailureStatus("FailNext", f)
	f = cloneFailure(f)

	s.mu.Lock()
	defer s.mu.Unlock()

	for i := 0; i < n; i++ {
		s.failureQueue = append(s.failureQueue, f)
	}
}

// SetFaultRate makes each request that no queued failure takes fail with
// probability rate, with a failure picked at random from failures, or
// ServiceUnavailableFailure when none is given. The random source is seeded
// with seed, so requests sent one at a time get the same failures on every
// run. A rate of 0 turns random failures off. SetFaultRate panics when rate
// is outside [0, 1].
func (s *Server) SetFaultRate(rate float64, seed int64, failures ...Failure) {
	for _, f := range failures {
		checkFailureStatus("SetFaultRate", f)
	}
	if !(rate >= 0 && rate <= 1) {
		panic(fmt.Sprintf("cloudauthtest: SetFaultRate rate %v is outside [0, 1]", rate))
	}
	if len(failures) == 0 {
		failures = []Failure{ServiceUnavailableFailure()}
	}
	choices := make([]Failure, len(failures))
	for i, f := range failures {
		choices[i] = cloneFailure(f)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	s.faultRate = rate
	s.faultRandom = rand.New(rand.NewSource(seed))
	s.faultChoices = choices
}

// nextFailure returns the failure for the next request, if it gets one.
func (s *Server) nextFailure() (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if len(s.failureQueue) > 0 {
		f := s.failureQueue[0]
		s.failureQueue = s.failureQueue[1:]
		return f, true
	}
	if s.faultRate > 0 && s.faultRandom.Float64() < s.faultRate {
		return s.faultChoices[s.faultRandom.Intn(len(s.faultChoices))], true
	}
	return Failure{}, false
}

// cloneFailure copies f's Header, so that a caller changing its map later
// cannot race with requests that read it.
func cloneFailure(f Failure) Failure {
	f.Header = f.Header.Clone()
	return f
}

// wait sleeps for d and reports whether it slept the whole time, rather than
// stopping early because ctx ended or the server closed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()

	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}

// SetRateLimit limits requests that pass the signature checks to
// requestsPerSecond on average, with bursts of up to burst requests. A
// request above the limit gets a 400 Throttling.User response whose
// x-ratelimit-user-api header states how long until a request is allowed. A
// requestsPerSecond of 0 removes the limit. SetRateLimit panics when
// requestsPerSecond is negative or burst is less than 1 with a limit set.
func (s *Server) SetRateLimit(requestsPerSecond float64, burst int) {
	if !(requestsPerSecond >= 0) || math.IsInf(requestsPerSecond, 1) {
		panic(fmt.Sprintf("cloudauthtest: SetRateLimit rate %v is not a finite number >= 0", requestsPerSecond))
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if requestsPerSecond == 0 {
		s.limiter = nil
		return
	}
	if burst < 1 {
		panic(fmt.Sprintf("cloudauthtest: SetRateLimit burst %d is less than 1", burst))
	}
	s.limiter = &tokenBucket{
		rate:   requestsPerSecond,
		burst:  float64(burst),
		tokens: float64(burst),
		last:   time.Now(),
	}
}

// checkFailureStatus panics unless f's Status is 0 (a delay only) or a
// final HTTP status from 200 to 599, because net/http cannot send others
// as a response.
func checkFailureStatus(caller string, f Failure) {
	if f.Status != 0 && (f.Status < 200 || f.Status > 599) {
		panic(fmt.Sprintf("cloudauthtest: %s: Failure.Status %d is not 0 or an HTTP status from 200 to 599", caller, f.Status))
	}
}

// maxRateLimitWait caps the TimeLeft the rate limiter reports.
const maxRateLimitWait = 24 * time.Hour

// tokenBucket is a token-bucket rate limiter. It runs on the real monotonic
// clock, so SetClockSkew does not refill or drain it.
type tokenBucket struct {
	rate   float64 // tokens added per second
	burst  float64 // bucket size
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

// take removes one token if the bucket has one. Otherwise it returns false
// and how long until a token will be there.
func (b *tokenBucket) take(now time.Time) (bool, time.Duration) {
	elapsed := now.Sub(b.last).Seconds()
	if elapsed > 0 {
		b.tokens = math.Min(b.burst, b.tokens+elapsed*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	// The wait is capped before the conversion, so a tiny rate cannot
	// overflow time.Duration into a negative wait.
	seconds := math.Min((1-b.tokens)/b.rate, maxRateLimitWait.Seconds())
	return false, time.Duration(seconds * float64(time.Second))
}

// checkRateLimit takes a token from the rate limiter, if one is set, and
// returns the Throttling.User error when none is left.
func (s *Server) checkRateLimit() *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.limiter == nil {
		return nil
	}
	ok, timeLeft := s.limiter.take(time.Now())
	if ok {
		return nil
	}
	header := http.Header{}
	header.Set(rateLimitHeader, rateLimitValue(int(s.limiter.burst), timeLeft, s.nowLocked()))
	return &apiError{
		status:  http.StatusBadRequest,
		code:    "Throttling.User",
		message: "Request was denied due to user flow control.",
		header:  header,
	}
}

// rateLimitValue formats the x-ratelimit-user-api header value. TimeLeft
// is in milliseconds, rounded up, and Reset is the Unix time in seconds,
// rounded up, at which a request is allowed again.
func rateLimitValue(limit int, timeLeft time.Duration, now time.Time) string {
	milliseconds := (timeLeft + time.Millisecond - 1) / time.Millisecond
	reset := now.Add(timeLeft)
	resetSeconds := reset.Unix()
	if reset.Nanosecond() > 0 {
		resetSeconds++
	}
	return "Limit:" + strconv.Itoa(limit) +
		",Remain:0" +
		",TimeLeft:" + strconv.FormatInt(int64(milliseconds), 10) +
		",Reset:" + strconv.FormatInt(resetSeconds, 10)
}
