package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Credentials is an Alibaba Cloud AccessKey pair, with a security token when
// it comes from STS. Its String, GoString, Format and LogValue methods show
// the AccessKey ID and the expiry but never the secret or the token, so
// Credentials can be printed or logged safely.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	// SecurityToken is set for temporary STS credentials and empty otherwise.
	SecurityToken string
	// Expires is when temporary credentials stop working. The zero time
	// means they never expire.
	Expires time.Time
}

// validate reports whether c can sign a request.
func (c Credentials) validate() error {
	if strings.TrimSpace(c.AccessKeyID) == "" {
		return errors.New("credentials have an empty AccessKeyID")
	}
	if c.AccessKeySecret == "" {
		return fmt.Errorf("credentials for AccessKey ID %s have an empty AccessKeySecret",
			c.AccessKeyID)
	}
	// Both travel in HTTP headers under signature V3, where a control
	// character would make net/http reject the request before sending it.
	if hasControl(c.AccessKeyID) {
		return fmt.Errorf("the AccessKey ID %q contains a control character; check where it was read from",
			c.AccessKeyID)
	}
	if hasControl(c.SecurityToken) {
		return fmt.Errorf("the security token for AccessKey ID %s contains a control character; check where it was read from",
			c.AccessKeyID)
	}
	return nil
}

// hasControl reports whether s contains an ASCII control character.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7F {
			return true
		}
	}
	return false
}

// expired reports whether c has an expiry time and now is within margin of it.
func (c Credentials) expired(now time.Time, margin time.Duration) bool {
	return !c.Expires.IsZero() && !now.Add(margin).Before(c.Expires)
}

// String returns the AccessKey ID and expiry with the secret and token redacted.
func (c Credentials) String() string {
	var b strings.Builder
	b.WriteString("Credentials{AccessKeyID: ")
	b.WriteString(c.AccessKeyID)
	b.WriteString(", AccessKeySecret: ")
	b.WriteString(redactedMark(c.AccessKeySecret))
	b.WriteString(", SecurityToken: ")
	b.WriteString(redactedMark(c.SecurityToken))
	if !c.Expires.IsZero() {
		b.WriteString(", Expires: ")
		b.WriteString(c.Expires.UTC().Format(time.RFC3339))
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String with the package name, for the %#v verb.
func (c Credentials) GoString() string { return "cloudauth." + c.String() }

// Format writes the redacted form for every verb, so %v, %+v, %#v, %s and %q
// never print the secret or the token.
func (c Credentials) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.GoString())
}

// LogValue implements slog.LogValuer with the secret and token redacted.
func (c Credentials) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("access_key_id", c.AccessKeyID),
		slog.String("access_key_secret", redactedMark(c.AccessKeySecret)),
		slog.String("security_token", redactedMark(c.SecurityToken)),
	}
	if !c.Expires.IsZero() {
		attrs = append(attrs, slog.Time("expires", c.Expires))
	}
	return slog.GroupValue(attrs...)
}

// redactedMark replaces a secret value in printed output. It distinguishes an
// empty value from a set one and shows nothing of the value itself.
func redactedMark(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[REDACTED]"
}

// CredentialsProvider supplies the credentials that sign each request. The
// client calls Retrieve with the request's context before each call, and
// caches credentials that have an Expires time until shortly before they
// expire. Implementations must be safe for concurrent use.
type CredentialsProvider interface {
	Retrieve(ctx context.Context) (Credentials, error)
}

// CredentialsProviderFunc adapts a function to a CredentialsProvider, so any
// credential source (a vault, a sidecar) can sign requests.
type CredentialsProviderFunc func(ctx context.Context) (Credentials, error)

// Retrieve calls f(ctx).
func (f CredentialsProviderFunc) Retrieve(ctx context.Context) (Credentials, error) {
	return f(ctx)
}

// String names the type without printing the function's captured state.
func (f CredentialsProviderFunc) String() string { return "cloudauth.CredentialsProviderFunc" }

// StaticCredentialsProvider returns the same credentials on every call. Its
// printed forms redact the secret and the token.
type StaticCredentialsProvider struct {
	creds Credentials
}

// NewStaticCredentialsProvider returns a provider of a fixed AccessKey pair and
// an optional STS security token (empty for a long-term AccessKey).
func NewStaticCredentialsProvider(accessKeyID, accessKeySecret, securityToken string) *StaticCredentialsProvider {
	return &StaticCredentialsProvider{creds: Credentials{
		AccessKeyID:     accessKeyID,
		AccessKeySecret: accessKeySecret,
		SecurityToken:   securityToken,
	}}
}

// Retrieve returns the fixed credentials.
func (p *StaticCredentialsProvider) Retrieve(context.Context) (Credentials, error) {
	if err := p.creds.validate(); err != nil {
		return Credentials{}, fmt.Errorf("static credentials: %w", err)
	}
	return p.creds, nil
}

// String returns the provider's name and its redacted credentials.
func (p *StaticCredentialsProvider) String() string {
	return "StaticCredentialsProvider{" + p.creds.String() + "}"
}

// GoString is String with the package name, for the %#v verb.
func (p *StaticCredentialsProvider) GoString() string { return "&cloudauth." + p.String() }

// Format writes the redacted form for every verb.
func (p *StaticCredentialsProvider) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue implements slog.LogValuer with the secret and token redacted.
func (p *StaticCredentialsProvider) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", "static"),
		slog.Any("credentials", p.creds.LogValue()))
}

// formatRedacted writes text for any verb, goText for %#v and a quoted text
// for %q. Types that hold a secret use it to implement fmt.Formatter, because
// fmt prints unexported fields without calling their String methods.
func formatRedacted(f fmt.State, verb rune, text, goText string) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", text)
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(goText))
	default:
		_, _ = f.Write([]byte(text))
	}
}
