package cloudauth

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// Version is this module's version, sent in the User-Agent header.
const Version = "0.1.0"

// APIVersion is the Cloudauth API version the client calls, the last one
// the official SDKs shipped for GetStatus.
const APIVersion = "2018-09-16"

// Client calls the Cloudauth API. Its configuration is fixed by NewClient,
// and the little state it keeps (cached credentials and the offset of the
// local clock from the service's) is synchronized, so one Client is safe for
// concurrent use by many goroutines. It starts no goroutines and needs no
// Close.
type Client struct {
	endpoint       string
	region         string
	format         Format
	formatValue    []string
	acceptValue    []string
	userAgentValue []string
	maxAttempts    int
	httpClient     *http.Client
	// transport is httpClient's transport when the client adds nothing to
	// it (no cookie jar, no timeout, redirects refused), so requests can
	// skip http.Client's per-request bookkeeping. It is nil otherwise.
	transport        http.RoundTripper
	credentials      CredentialsProvider
	logger           *slog.Logger
	maxResponseBytes int64
	minBackoff       time.Duration
	maxBackoff       time.Duration
	attemptTimeout   time.Duration
	signatureVersion SignatureVersion
	now              func() time.Time

	// clockOffset is the service's clock minus the local clock, in
	// nanoseconds, learned from a rejected timestamp. Signing adds it to
	// the local time.
	clockOffset atomic.Int64
}

// NewClient returns a Client configured by opts. It does no I/O: credentials
// are resolved on each call with that call's context. It returns an error
// naming the first option with an invalid value.
func NewClient(opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("cloudauth: NewClient: option %d is nil", i)
		}
		if err := opt(&cfg); err != nil {
			return nil, fmt.Errorf("cloudauth: NewClient: %w", err)
		}
	}

	httpClient := newDefaultHTTPClient()
	if cfg.httpClient != nil {
		clientCopy := *cfg.httpClient
		clientCopy.CheckRedirect = refuseRedirect
		httpClient = &clientCopy
	}
	provider := cfg.provider
	if provider == nil {
		chain, err := NewDefaultCredentialsProvider()
		if err != nil {
			return nil, fmt.Errorf("cloudauth: NewClient: building the default credential chain: %w", err)
		}
		provider = chain
	}

	userAgent := "cloudauth-go/" + Version + " (" + runtime.Version() + "; " +
		runtime.GOOS + "/" + runtime.GOARCH + ")"
	if cfg.userAgent != "" {
		userAgent += " " + cfg.userAgent
	}

	return &Client{
		endpoint:         cfg.endpoint,
		region:           cfg.region,
		format:           cfg.format,
		formatValue:      []string{string(cfg.format)},
		acceptValue:      []string{cfg.format.acceptHeader()},
		userAgentValue:   []string{userAgent},
		maxAttempts:      cfg.maxAttempts,
		httpClient:       httpClient,
		transport:        directTransport(httpClient),
		credentials:      newCredentialsCache(provider, cfg.logger, cfg.now),
		logger:           cfg.logger,
		maxResponseBytes: cfg.maxResponseBytes,
		minBackoff:       cfg.minBackoff,
		maxBackoff:       cfg.maxBackoff,
		attemptTimeout:   cfg.attemptTimeout,
		signatureVersion: cfg.signatureVersion,
		now:              cfg.now,
	}, nil
}

// Settings of the transport NewClient builds when WithHTTPClient is not
// given. Each bounds one phase of a connection, so a dead peer fails an
// attempt quickly and the attempt is retried.
const (
	defaultDialTimeout           = 5 * time.Second
	defaultKeepAlive             = 30 * time.Second
	defaultTLSHandshakeTimeout   = 5 * time.Second
	defaultResponseHeaderTimeout = 15 * time.Second
	defaultIdleConnTimeout       = 90 * time.Second
	// defaultMaxIdleConnsPerHost keeps enough idle connections for a poller
	// running 64 calls at once to reuse them all.
	defaultMaxIdleConnsPerHost = 64
)

// newDefaultHTTPClient returns an *http.Client with a dedicated transport,
// so the client never changes or depends on http.DefaultTransport.
func newDefaultHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: defaultDialTimeout, KeepAlive: defaultKeepAlive}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   defaultTLSHandshakeTimeout,
		ResponseHeaderTimeout: defaultResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       defaultIdleConnTimeout,
		MaxIdleConns:          2 * defaultMaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   defaultMaxIdleConnsPerHost,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: transport, CheckRedirect: refuseRedirect}
}

// directTransport returns the transport of client when sending through it
// directly does what client.Do would: the client has no cookie jar and no
// timeout, and NewClient has made it refuse redirects. It returns nil
// otherwise.
func directTransport(client *http.Client) http.RoundTripper {
	if client.Jar != nil || client.Timeout != 0 {
		return nil
	}
	if client.Transport == nil {
		return http.DefaultTransport
	}
	return client.Transport
}

// send sends req through the transport directly when directTransport
// allowed it, and through the http.Client otherwise.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	if c.transport == nil {
		return c.httpClient.Do(req)
	}
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		return nil, err
	}
	if resp == nil {
		return nil, errors.New("the HTTP transport returned neither a response nor an error")
	}
	return resp, nil
}

// refuseRedirect makes an *http.Client return a 3xx response as it is, so a
// signed request is never sent to another URL.
func refuseRedirect(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}

// String describes the client's settings. It never shows credentials.
func (c *Client) String() string {
	return "cloudauth.Client{endpoint: " + c.endpoint + ", region: " + c.region +
		", format: " + string(c.format) + ", signature: " + c.signatureVersion.String() +
		", maxAttempts: " + strconv.Itoa(c.maxAttempts) + "}"
}

// GoString is String with a leading '&', for the %#v verb.
func (c *Client) GoString() string { return "&" + c.String() }

// Format writes String for every verb, because fmt would otherwise print
// the unexported fields, credentials among them.
func (c *Client) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.GoString())
}

// LogValue implements slog.LogValuer without credentials.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.endpoint),
		slog.String("region", c.region),
		slog.String("format", string(c.format)),
		slog.String("signature", c.signatureVersion.String()),
		slog.Int("max_attempts", c.maxAttempts),
	)
}

// signingTime returns the time to sign with: the local clock corrected by
// the offset learned from the service, in UTC.
func (c *Client) signingTime() time.Time {
	return c.now().Add(time.Duration(c.clockOffset.Load())).UTC()
}

// adjustClock stores the offset between the service's Date header and the
// local clock after the service rejected a timestamp signed with
// signedOffset. It reports whether a retry can succeed, that is whether the
// offset differs from the one the rejected request used. Comparing with
// that offset, not the current one, lets every concurrent call that was
// signed before the correction retry, not only the first to store it.
func (c *Client) adjustClock(apiErr *APIError, signedOffset int64) bool {
	if apiErr.serverTime.IsZero() {
		return false
	}
	offset := apiErr.serverTime.Sub(c.now())
	if diff := offset - time.Duration(signedOffset); diff > -time.Second && diff < time.Second {
		return false
	}
	c.clockOffset.Store(int64(offset))
	return true
}

// nonceLength is the length of a signature nonce: 128 bits in hex.
const nonceLength = 32

// appendNonce appends 128 random bits from crypto/rand in hex to dst.
func appendNonce(dst []byte) ([]byte, error) {
	var raw [nonceLength / 2]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return dst, fmt.Errorf("cloudauth: reading random bytes for the signature nonce: %w", err)
	}
	return hex.AppendEncode(dst, raw[:]), nil
}

// credentialsError wraps a failure to obtain credentials.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string {
	return "cloudauth: retrieving credentials: " + e.err.Error()
}

func (e *credentialsError) Unwrap() error { return e.err }

// retrieveCredentials returns valid credentials for one attempt.
func (c *Client) retrieveCredentials(ctx context.Context) (Credentials, error) {
	creds, err := c.credentials.Retrieve(ctx)
	if err != nil {
		return Credentials{}, &credentialsError{err}
	}
	if err := creds.validate(); err != nil {
		return Credentials{}, &credentialsError{err}
	}
	return creds, nil
}

var errBodyTooLarge = errors.New("the response body is larger than the limit set by WithMaxResponseBytes")
