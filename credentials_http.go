package cloudauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// This file holds what the network credential providers share: endpoint
// checks, the size-capped request helper, and errors that never print a
// secret, a token or a URL's query.

// maxCredentialsResponseBytes caps every body read from STS, the instance
// metadata service, a credentials URI, and every credentials file. Real
// responses are a few KiB, so a larger one is an error, not a partial read.
const maxCredentialsResponseBytes = 1 << 20

// defaultCredentialsHTTPTimeout bounds each STS and credentials URI request
// made with the default HTTP client, so a caller whose context has no
// deadline cannot wait forever.
const defaultCredentialsHTTPTimeout = 10 * time.Second

// defaultCredentialsHTTPClient sends STS and credentials URI requests when
// the caller sets no HTTP client. Like the Client's own, its transport is
// dedicated, so it neither depends on nor changes http.DefaultTransport, and
// it honors the proxy environment variables.
var defaultCredentialsHTTPClient = func() *http.Client {
	client := newDefaultHTTPClient()
	client.Timeout = defaultCredentialsHTTPTimeout
	return client
}()

// sourceNotConfiguredError means a credential source has no settings at all,
// such as an unset environment variable or a missing file. The default chain
// reports such a source as skipped rather than failed and moves on.
type sourceNotConfiguredError struct {
	reason string
}

func (e *sourceNotConfiguredError) Error() string { return e.reason }

// notConfigured returns a sourceNotConfiguredError with a formatted reason.
func notConfigured(format string, args ...any) error {
	return &sourceNotConfiguredError{reason: fmt.Sprintf(format, args...)}
}

// isNotConfigured reports whether err itself, not an error it wraps, is a
// sourceNotConfiguredError. A provider that wraps a nested provider's
// error this way, such as a profile whose ECS role is turned off, has
// settings, so the chain reports it as failed.
func isNotConfigured(err error) bool {
	_, ok := err.(*sourceNotConfiguredError)
	return ok
}

// normalizeEndpoint checks an endpoint option and returns it as
// "scheme://host[:port]". An empty value selects defaultValue. The option
// name appears in the error so the caller knows which setting to fix.
func normalizeEndpoint(option, value, defaultValue string) (string, error) {
	if value == "" {
		return defaultValue, nil
	}
	u, err := url.Parse(value)
	if err != nil {
		return "", fmt.Errorf("%s %q is not a valid URL: %w", option, value, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%s %q must start with http:// or https://", option, value)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%s %q has no host", option, value)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("%s %q must be a scheme and host only, without user info, path, query or fragment",
			option, redactURL(u))
	}
	return u.Scheme + "://" + u.Host, nil
}

// redactURL returns u without user info and with any query replaced by a
// marker, because a signed or pre-authorized URL carries its secret there.
func redactURL(u *url.URL) string {
	redacted := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	text := redacted.String()
	if u.RawQuery != "" || u.ForceQuery {
		text += "?[REDACTED]"
	}
	return text
}

// credentialsHTTPResponse is a response whose body has been read in full.
type credentialsHTTPResponse struct {
	statusCode int
	status     string
	body       []byte
}

// sendCredentialsRequest sends req and reads the body through the size cap.
// A transport error is rewritten to name the source and the redacted URL,
// because *url.Error prints the whole URL including its query.
func sendCredentialsRequest(client *http.Client, req *http.Request, source string) (*credentialsHTTPResponse, error) {
	target := redactURL(req.URL)
	// A copy that never follows redirects, because a 3xx would resend the
	// signed form, the OIDC token or the metadata session token elsewhere.
	noRedirects := *client
	noRedirects.CheckRedirect = refuseRedirect
	resp, err := noRedirects.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("%s: %s %s failed: %w", source, req.Method, target, err)
	}
	defer resp.Body.Close()

	body, err := readCapped(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: read response of %s %s: %w", source, req.Method, target, err)
	}
	return &credentialsHTTPResponse{statusCode: resp.StatusCode, status: resp.Status, body: body}, nil
}

// readCapped reads r in full, or fails when r holds more than
// maxCredentialsResponseBytes.
func readCapped(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxCredentialsResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxCredentialsResponseBytes {
		return nil, fmt.Errorf("body exceeds the %d-byte limit", maxCredentialsResponseBytes)
	}
	return body, nil
}

// readCappedFile reads a credentials file through the same size cap.
func readCappedFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readCapped(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// credentialsRequestError is an error response from STS, the instance
// metadata service or a credentials URI. It never holds the request's
// secrets, its signature or the URL's query.
type credentialsRequestError struct {
	Source     string // such as "STS AssumeRole"
	URL        string // redacted by redactURL
	StatusCode int    // the HTTP status code
	Code       string // the service's error code, when the body has one
	Message    string // the service's message, cleaned by sanitizeServiceMessage
	RequestID  string
}

func (e *credentialsRequestError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	b.WriteString(": ")
	b.WriteString(e.URL)
	b.WriteString(" returned HTTP ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" ")
		b.WriteString(text)
	}
	if e.Code != "" {
		b.WriteString(", code ")
		b.WriteString(e.Code)
	}
	if e.RequestID != "" {
		b.WriteString(", request ID ")
		b.WriteString(e.RequestID)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// serviceErrorBody is the JSON error envelope that Alibaba Cloud services
// return. Every field is optional.
type serviceErrorBody struct {
	RequestID string `json:"RequestId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
}

// newCredentialsRequestError builds the error for a response whose status or
// code means failure. It takes Code, Message and RequestId from a JSON body
// when there is one, and removes each of secrets from the message.
func newCredentialsRequestError(source, target string, resp *credentialsHTTPResponse, secrets ...string) error {
	reqErr := &credentialsRequestError{Source: source, URL: target, StatusCode: resp.statusCode}
	var parsed serviceErrorBody
	if json.Unmarshal(resp.body, &parsed) == nil {
		reqErr.Code = sanitizeServiceText(parsed.Code, maxCodeBytes, secrets...)
		reqErr.RequestID = sanitizeServiceText(parsed.RequestID, maxRequestIDBytes, secrets...)
		reqErr.Message = sanitizeServiceMessage(parsed.Message, secrets...)
	}
	return reqErr
}

// maxServiceMessageLength caps the service message kept in an error.
const maxServiceMessageLength = 300

// sanitizeServiceMessage cuts the string to sign from a message and removes
// each secret. A SignatureDoesNotMatch message from Alibaba Cloud quotes the
// server's string to sign, which contains every request parameter, the
// security token included.
func sanitizeServiceMessage(message string, secrets ...string) string {
	lower := strings.ToLower(message)
	for _, marker := range []string{"server string to sign", "string to sign"} {
		if i := strings.Index(lower, marker); i >= 0 {
			message = strings.TrimSpace(message[:i]) + " [string to sign removed]"
			break
		}
	}
	return sanitizeServiceText(message, maxServiceMessageLength, secrets...)
}

// sanitizeServiceText removes each secret from a text field of a service
// response, then replaces control characters and caps its length at a
// UTF-8 boundary, so error text stays one bounded line.
func sanitizeServiceText(text string, limit int, secrets ...string) string {
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		for _, form := range encodedForms(secret) {
			text = strings.ReplaceAll(text, form, redactedText)
		}
	}
	return cleanField(text, limit, nil)
}

// newSignatureNonce returns 128 random bits from crypto/rand as hex, the
// same nonce the client's own requests carry.
func newSignatureNonce() (string, error) {
	nonce, err := appendNonce(nil)
	return string(nonce), err
}

// parseExpiration parses an Expiration field such as "2006-01-02T15:04:05Z".
// Offsets other than Z are accepted too.
func parseExpiration(source, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, fmt.Errorf("%s: response has no Expiration", source)
	}
	t, err := time.Parse(time.RFC3339, value)
	// The zero time would mean "never expires" in Credentials.Expires. A Go
	// service writes 0001-01-01T00:00:00Z for an unset time, so any year
	// before 2000 is rejected rather than cached for good.
	if err != nil || t.Year() < 2000 {
		return time.Time{}, fmt.Errorf("%s: invalid Expiration %q, expected a time such as %s",
			source, truncate(value, 64), timestampLayout)
	}
	return t, nil
}

// newFormRequest builds a POST request with a URL-encoded form body.
func newFormRequest(ctx context.Context, endpoint string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// httpClientOrDefault returns client, or fallback when client is nil.
func httpClientOrDefault(client, fallback *http.Client) *http.Client {
	if client != nil {
		return client
	}
	return fallback
}
