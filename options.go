package cloudauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Default settings of a Client built without the matching option.
const (
	// DefaultEndpoint is the Cloudauth RPC endpoint.
	DefaultEndpoint = "https://cloudauth.aliyuncs.com"
	// DefaultRegion is the RegionId sent with each request.
	DefaultRegion = "cn-hangzhou"
	// DefaultMaxAttempts is the number of tries of one call, the first
	// included.
	DefaultMaxAttempts = 3
	// DefaultMaxResponseBytes caps the size of a response body.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultMinBackoff is the wait before the first retry, before jitter.
	DefaultMinBackoff = 200 * time.Millisecond
	// DefaultMaxBackoff caps the wait between two attempts.
	DefaultMaxBackoff = 5 * time.Second
)

// An Option sets a Client setting in NewClient. An option given an invalid
// value makes NewClient return an error that names the option.
type Option func(*config) error

// config is the settings NewClient collects from its options.
type config struct {
	endpoint         string
	region           string
	format           Format
	maxAttempts      int
	httpClient       *http.Client
	provider         CredentialsProvider
	providerOption   string
	logger           *slog.Logger
	userAgent        string
	maxResponseBytes int64
	minBackoff       time.Duration
	maxBackoff       time.Duration
	attemptTimeout   time.Duration
	signatureVersion SignatureVersion
	now              func() time.Time
}

func defaultConfig() config {
	return config{
		endpoint:         DefaultEndpoint + "/",
		region:           DefaultRegion,
		format:           FormatJSON,
		maxAttempts:      DefaultMaxAttempts,
		maxResponseBytes: DefaultMaxResponseBytes,
		minBackoff:       DefaultMinBackoff,
		maxBackoff:       DefaultMaxBackoff,
		signatureVersion: SignatureV1,
		now:              time.Now,
	}
}

// WithAccessKey signs requests with a long-term AccessKey pair. Use
// WithCredentials for STS tokens or any other source.
func WithAccessKey(accessKeyID, accessKeySecret string) Option {
	return func(c *config) error {
		if strings.TrimSpace(accessKeyID) == "" {
			return errors.New("WithAccessKey: the AccessKey ID is empty; pass the ID of a RAM user's AccessKey")
		}
		if accessKeySecret == "" {
			return fmt.Errorf("WithAccessKey: the AccessKey secret for ID %s is empty; pass the secret shown when the AccessKey was created",
				accessKeyID)
		}
		if c.provider != nil {
			return fmt.Errorf("WithAccessKey: credentials are already set by %s; pass only one of them", c.providerOption)
		}
		c.provider = NewStaticCredentialsProvider(accessKeyID, accessKeySecret, "")
		c.providerOption = "WithAccessKey"
		return nil
	}
}

// WithCredentials signs requests with the credentials provider returns. The
// client caches credentials that have an Expires time and calls the provider
// again shortly before they expire. Without this option or WithAccessKey,
// NewClient uses NewDefaultCredentialsProvider.
func WithCredentials(provider CredentialsProvider) Option {
	return func(c *config) error {
		if provider == nil {
			return errors.New("WithCredentials: the provider is nil; pass a CredentialsProvider or omit the option to use the default chain")
		}
		if c.provider != nil {
			return fmt.Errorf("WithCredentials: credentials are already set by %s; pass only one of them", c.providerOption)
		}
		c.provider = provider
		c.providerOption = "WithCredentials"
		return nil
	}
}

// WithEndpoint sets the service's base URL, a scheme and host such as
// "https://cloudauth.aliyuncs.com" or a cloudauthtest server's URL. A path
// other than "/", a query or a fragment is rejected.
func WithEndpoint(endpoint string) Option {
	return func(c *config) error {
		// Values read from configuration files often keep a trailing
		// newline or spaces, which are never part of a URL.
		normalized, err := parseEndpoint(strings.TrimSpace(endpoint))
		if err != nil {
			return fmt.Errorf("WithEndpoint(%q): %w", redactEndpoint(endpoint), err)
		}
		c.endpoint = normalized
		return nil
	}
}

func parseEndpoint(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", errors.New("the endpoint is not a valid URL; pass a scheme and host such as \"https://cloudauth.aliyuncs.com\"")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("the endpoint needs the scheme https:// (or http:// for a local test server)")
	case u.Hostname() == "":
		return "", errors.New("the endpoint has no host; pass a URL such as \"https://cloudauth.aliyuncs.com\"")
	case u.User != nil:
		return "", errors.New("the endpoint must not contain a user name or password")
	case u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("the endpoint has the path %q; RPC requests go to \"/\", so remove the path", u.Path)
	case u.RawQuery != "" || u.ForceQuery:
		return "", errors.New("the endpoint has a query; remove it, because the client builds the query")
	case u.Fragment != "":
		return "", errors.New("the endpoint has a fragment; remove it")
	case strings.Contains(u.Host, "%"):
		// net/http drops an IPv6 zone from the Host header, so a V3
		// signature over the host could never match.
		return "", errors.New("the endpoint has an IPv6 zone; use an address without %zone")
	case !isASCII(u.Host):
		// net/http sends such a host in punycode, which the signature
		// must cover, so the endpoint has to be written that way.
		return "", fmt.Errorf("the endpoint host %q is not ASCII; write it in punycode (xn--...)", u.Host)
	}
	return u.Scheme + "://" + u.Host + "/", nil
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// redactEndpoint hides any user name and password in an endpoint before it
// is quoted in an error. It works on the text, because an endpoint that
// does not parse can still carry a password.
func redactEndpoint(endpoint string) string {
	rest := endpoint
	prefix := ""
	if i := strings.Index(rest, "://"); i >= 0 {
		prefix, rest = rest[:i+3], rest[i+3:]
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return endpoint
	}
	return prefix + "[REDACTED]" + rest[at:]
}

// WithRegion sets the RegionId parameter, such as "cn-shanghai".
func WithRegion(regionID string) Option {
	return func(c *config) error {
		if regionID == "" {
			return errors.New("WithRegion: the region id is empty; pass one such as \"cn-hangzhou\"")
		}
		for _, r := range regionID {
			if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
				return fmt.Errorf("WithRegion(%q): a region id has only lower-case letters, digits and '-', such as \"cn-hangzhou\"",
					regionID)
			}
		}
		c.region = regionID
		return nil
	}
}

// WithHTTPClient sends requests through client instead of the client's own
// dedicated transport. The client uses a copy of it that never follows
// redirects, so a signed request is never sent to another URL; client's
// Timeout, if any, bounds each attempt.
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) error {
		if client == nil {
			return errors.New("WithHTTPClient: the client is nil; pass an *http.Client or omit the option")
		}
		c.httpClient = client
		return nil
	}
}

// WithFormat sets the response format the client asks for: FormatJSON, the
// default, or FormatXML.
func WithFormat(format Format) Option {
	return func(c *config) error {
		if !format.valid() {
			return fmt.Errorf("WithFormat(%q): the format must be FormatJSON or FormatXML", string(format))
		}
		c.format = format
		return nil
	}
}

// WithMaxAttempts sets how many times one call is tried, the first attempt
// included. 1 disables retries. The default is DefaultMaxAttempts.
func WithMaxAttempts(attempts int) Option {
	return func(c *config) error {
		if attempts < 1 || attempts > 100 {
			return fmt.Errorf("WithMaxAttempts(%d): the number of attempts must be from 1 (no retries) to 100", attempts)
		}
		c.maxAttempts = attempts
		return nil
	}
}

// WithLogger logs retries and final failures to logger. Without it the
// client logs nothing. Log records never contain a secret, signature or
// security token.
func WithLogger(logger *slog.Logger) Option {
	return func(c *config) error {
		if logger == nil {
			return errors.New("WithLogger: the logger is nil; pass a *slog.Logger or omit the option")
		}
		c.logger = logger
		return nil
	}
}

// WithUserAgent appends product, such as "onboarding/2.1", to the
// User-Agent header, after the module's own name and version.
func WithUserAgent(product string) Option {
	return func(c *config) error {
		product = strings.TrimSpace(product)
		if product == "" {
			return errors.New("WithUserAgent: the product is empty; pass a name such as \"onboarding/2.1\"")
		}
		for _, r := range product {
			if r < 0x20 || r == 0x7F || r > 0x7E {
				return fmt.Errorf("WithUserAgent(%q): a User-Agent has only printable ASCII characters", product)
			}
		}
		if c.userAgent != "" {
			c.userAgent += " "
		}
		c.userAgent += product
		return nil
	}
}

// maxResponseBytesLimit is the largest value WithMaxResponseBytes accepts.
// A GetStatus response is a few hundred bytes.
const maxResponseBytesLimit = 1 << 30

// WithMaxResponseBytes caps the size of a response body. A larger response
// is an error. The default is DefaultMaxResponseBytes (1 MiB).
func WithMaxResponseBytes(limit int64) Option {
	return func(c *config) error {
		if limit < 1024 || limit > maxResponseBytesLimit {
			return fmt.Errorf("WithMaxResponseBytes(%d): the limit must be from 1024 bytes to 1 GiB", limit)
		}
		c.maxResponseBytes = limit
		return nil
	}
}

// WithBackoff sets the wait before the first retry and the longest wait
// between two attempts. Each retry doubles the wait, up to maxWait, and
// jitter picks a random wait between half of it and all of it. The
// defaults are DefaultMinBackoff and DefaultMaxBackoff.
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(c *config) error {
		if minWait <= 0 || maxWait < minWait {
			return fmt.Errorf("WithBackoff(%v, %v): the waits must be positive and the first no greater than the second",
				minWait, maxWait)
		}
		c.minBackoff, c.maxBackoff = minWait, maxWait
		return nil
	}
}

// WithAttemptTimeout bounds each attempt, from sending the request to
// reading the whole response, so that one slow response is retried instead of
// using up the call's whole deadline. Zero, the default, sets no bound
// beyond the context's.
func WithAttemptTimeout(timeout time.Duration) Option {
	return func(c *config) error {
		if timeout < 0 {
			return fmt.Errorf("WithAttemptTimeout(%v): the timeout must not be negative", timeout)
		}
		c.attemptTimeout = timeout
		return nil
	}
}

// SignatureVersion selects how requests are signed.
type SignatureVersion int

const (
	// SignatureV1 is the RPC signature (HMAC-SHA1 over the sorted query)
	// that the GetStatus reference documents. It is the default.
	SignatureV1 SignatureVersion = 1
	// SignatureV3 is ACS3-HMAC-SHA256, sent in the Authorization header.
	SignatureV3 SignatureVersion = 3
)

// String returns "V1" or "V3".
func (v SignatureVersion) String() string {
	switch v {
	case SignatureV1:
		return "V1"
	case SignatureV3:
		return "V3"
	}
	return fmt.Sprintf("SignatureVersion(%d)", int(v))
}

// WithSignatureVersion selects SignatureV1, the default, or SignatureV3.
func WithSignatureVersion(version SignatureVersion) Option {
	return func(c *config) error {
		if version != SignatureV1 && version != SignatureV3 {
			return fmt.Errorf("WithSignatureVersion(%v): pass SignatureV1 or SignatureV3", version)
		}
		c.signatureVersion = version
		return nil
	}
}
