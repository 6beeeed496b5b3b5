package cloudauth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors for the codes the GetStatus reference documents. An
// *APIError matches one with errors.Is when its Code is that code; the
// sentinels are plain values, so use errors.As to read an *APIError's fields.
var (
	// ErrInternal matches the code Error.InternalError: an unknown failure in
	// the service (HTTP 500). The client retries it as a 5xx response.
	ErrInternal = errors.New("cloudauth: Error.InternalError")

	// ErrParamMissing matches the code InvalidParam.ParamMissing. GetStatus
	// also returns it, without sending anything, for a nil request or an
	// empty or blank Biz or TicketID.
	ErrParamMissing = errors.New("cloudauth: InvalidParam.ParamMissing")

	// ErrNoPermission matches the code Error.NoPermissionAccess: the account
	// has not enabled the ID Verification service.
	ErrNoPermission = errors.New("cloudauth: Error.NoPermissionAccess")

	// ErrInvalidBiz matches the code InvalidParam.InvalidBiz: Biz names no
	// business scenario of the account's console.
	ErrInvalidBiz = errors.New("cloudauth: InvalidParam.InvalidBiz")
)

// ErrAttemptTimeout matches the failure of an attempt that ran out of the
// time WithAttemptTimeout (or the http.Client's Timeout) gives it while the
// caller's context was still live. It does not match
// context.DeadlineExceeded, which means the caller's own deadline passed.
var ErrAttemptTimeout = errors.New("cloudauth: the attempt timed out")

// errNilContext rejects a nil context, as net/http does.
var errNilContext = errors.New("the context is nil; pass context.Background() or a request's context")

// attemptTimeoutError is a transport failure caused by the attempt's own
// time limit.
type attemptTimeoutError struct{ text string }

func (e *attemptTimeoutError) Error() string { return "the attempt timed out: " + e.text }

// Is matches ErrAttemptTimeout.
func (e *attemptTimeoutError) Is(target error) bool { return target == ErrAttemptTimeout }

// Timeout reports true, as net.Error timeouts do.
func (e *attemptTimeoutError) Timeout() bool { return true }

// sentinelByCode maps service error codes to the sentinel errors above.
var sentinelByCode = map[string]error{
	"Error.InternalError":       ErrInternal,
	"InvalidParam.ParamMissing": ErrParamMissing,
	"Error.NoPermissionAccess":  ErrNoPermission,
	"InvalidParam.InvalidBiz":   ErrInvalidBiz,
}

// APIError is the error for every non-2xx response, and for a 2xx response whose
// Success field is false. Fields the body did not carry are empty; Message
// holds a short plain-text excerpt when the body was HTML or other text, as
// gateways send.
type APIError struct {
	// HTTPStatusCode is the status of the HTTP response, such as 400.
	HTTPStatusCode int
	// Code is the service's error code, such as "InvalidParam.InvalidBiz".
	Code string
	// Message is the service's explanation, or an excerpt of a non-JSON,
	// non-XML body.
	Message string
	// RequestID identifies the request to Alibaba Cloud support. It comes
	// from the body, else from the x-acs-request-id header.
	RequestID string
	// HostID is the host that sent the response, when the body names it.
	HostID string
	// Recommend is a troubleshooting link, when the body has one.
	Recommend string

	// retryAfter is the least wait before another attempt, from the
	// throttling headers; zero when they are absent.
	retryAfter time.Duration
	// serverTime is the response's Date header; zero when it is absent or
	// invalid.
	serverTime time.Time
}

// Error returns the code, the HTTP status, the message and the request id.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("cloudauth: ")
	if e.Code != "" {
		b.WriteString(e.Code)
		b.WriteString(" (HTTP ")
	} else {
		b.WriteString("request failed (HTTP ")
	}
	b.WriteString(strconv.Itoa(e.HTTPStatusCode))
	if text := http.StatusText(e.HTTPStatusCode); text != "" && e.Code == "" {
		b.WriteString(" ")
		b.WriteString(text)
	}
	b.WriteString(")")
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is the sentinel error for e.Code, so that
// errors.Is(err, ErrInvalidBiz) holds for that code.
func (e *APIError) Is(target error) bool {
	sentinel, ok := sentinelByCode[e.Code]
	return ok && sentinel == target
}

// Throttled reports whether the service rejected the request for exceeding
// a rate limit: a Throttling code, or HTTP 429 from a gateway.
func (e *APIError) Throttled() bool {
	return e.Code == "Throttling" || strings.HasPrefix(e.Code, "Throttling.") ||
		e.HTTPStatusCode == http.StatusTooManyRequests
}

// Temporary reports whether the same request may succeed later: a 5xx
// response, throttling (HTTP 429 included) or ServiceUnavailable. Parameter, permission and
// signature errors are not temporary.
func (e *APIError) Temporary() bool {
	return e.HTTPStatusCode >= 500 || e.Throttled() || e.Code == "ServiceUnavailable"
}

// clockSkewed reports whether the service rejected the request's timestamp.
func (e *APIError) clockSkewed() bool {
	return e.Code == "InvalidTimeStamp.Expired" || e.Code == "IllegalTimestamp" ||
		e.Code == "InvalidTimeStamp.Format"
}

// ResponseError is the error for a 2xx response the client cannot use: an
// empty or malformed body, or one without Data. It is not an *APIError,
// because the service did not report a failure, and it is not retried.
type ResponseError struct {
	// HTTPStatusCode is the status of the HTTP response, such as 200.
	HTTPStatusCode int
	// RequestID comes from the body when it could be read, else from the
	// x-acs-request-id header.
	RequestID string
	// Excerpt is the start of the body, cut to a few hundred bytes.
	Excerpt string
	// Err is the decoding failure.
	Err error
}

// Error describes the decoding failure with the status and request id.
func (e *ResponseError) Error() string {
	var b strings.Builder
	b.WriteString("cloudauth: invalid response (HTTP ")
	b.WriteString(strconv.Itoa(e.HTTPStatusCode))
	b.WriteString(")")
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	if e.Excerpt != "" {
		b.WriteString("; body begins ")
		b.WriteString(strconv.Quote(e.Excerpt))
	}
	return b.String()
}

// Unwrap returns the decoding failure.
func (e *ResponseError) Unwrap() error { return e.Err }

// errNoData is the ResponseError cause for a 2xx body without Data.
var errNoData = errors.New("the body has no Data element")

// errEmptyBody is the ResponseError cause for an empty 2xx body.
var errEmptyBody = errors.New("the body is empty")

// retryable reports whether a failed attempt may be tried again: transport
// failures and temporary service responses. Context cancellation, requests the
// client rejected and unusable 2xx responses are final.
func retryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Temporary()
	}
	var transportErr *transportError
	return errors.As(err, &transportErr) && !transportErr.contextDone
}

// transportError is a failure to send the request or read the response. Its
// message never contains the request's query, which carries the signature
// and any security token.
type transportError struct {
	op          string // such as "GET"
	url         string // scheme, host and path only
	err         error
	contextDone bool
}

func (e *transportError) Error() string {
	return "cloudauth: " + e.op + " " + e.url + ": " + e.err.Error()
}

func (e *transportError) Unwrap() error { return e.err }
