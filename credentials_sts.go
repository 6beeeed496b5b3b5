package cloudauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// defaultSTSEndpoint is the public STS endpoint, which serves every region.
	defaultSTSEndpoint = "https://sts.aliyuncs.com"
	// stsAPIVersion is the STS API version of AssumeRole and AssumeRoleWithOIDC.
	stsAPIVersion = "2015-04-01"
	// defaultRoleDurationSeconds is the lifetime of assumed-role credentials
	// when the caller sets none.
	defaultRoleDurationSeconds = 3600
	// minRoleDurationSeconds is the shortest lifetime STS accepts. The longest
	// is the role's MaxSessionDuration, which STS checks.
	minRoleDurationSeconds = 900
)

// stsEndpointForRegion returns the regional STS endpoint, or its VPC variant,
// with the host names the official credentials library uses. An empty region
// selects the public endpoint.
func stsEndpointForRegion(region string, vpc bool) string {
	if region == "" {
		return defaultSTSEndpoint
	}
	prefix := "sts"
	if vpc {
		prefix = "sts-vpc"
	}
	return "https://" + prefix + "." + region + ".aliyuncs.com"
}

// defaultRoleSessionName returns the session name used when the caller sets
// none. STS records it in ActionTrail, so it names this library.
func defaultRoleSessionName() string {
	return "cloudauth-go-" + strconv.FormatInt(time.Now().UnixMilli(), 10)
}

// checkRoleDuration applies the default lifetime and rejects one STS would.
func checkRoleDuration(seconds int) (int, error) {
	if seconds == 0 {
		return defaultRoleDurationSeconds, nil
	}
	if seconds < minRoleDurationSeconds {
		return 0, fmt.Errorf("DurationSeconds %d is below the STS minimum of %d", seconds, minRoleDurationSeconds)
	}
	return seconds, nil
}

// stsCredentialsResponse is the JSON body of a successful AssumeRole or
// AssumeRoleWithOIDC response.
type stsCredentialsResponse struct {
	RequestID   string `json:"RequestId"`
	Credentials *struct {
		AccessKeyID     string `json:"AccessKeyId"`
		AccessKeySecret string `json:"AccessKeySecret"`
		SecurityToken   string `json:"SecurityToken"`
		Expiration      string `json:"Expiration"`
	} `json:"Credentials"`
}

// callSTS posts form to an STS endpoint and decodes the credentials in the
// response. secrets are removed from any error message the service returns.
func callSTS(ctx context.Context, client *http.Client, endpoint string, form url.Values, secrets ...string) (Credentials, error) {
	source := "STS " + form.Get("Action")
	req, err := newFormRequest(ctx, endpoint, form)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", source, err)
	}
	resp, err := sendCredentialsRequest(client, req, source)
	if err != nil {
		return Credentials{}, err
	}
	target := redactURL(req.URL)
	if resp.statusCode < 200 || resp.statusCode > 299 {
		return Credentials{}, newCredentialsRequestError(source, target, resp, secrets...)
	}

	var parsed stsCredentialsResponse
	if err := json.Unmarshal(resp.body, &parsed); err != nil {
		return Credentials{}, fmt.Errorf("%s: %s returned invalid JSON: %w", source, target, err)
	}
	c := parsed.Credentials
	if c == nil || c.AccessKeyID == "" || c.AccessKeySecret == "" || c.SecurityToken == "" {
		return Credentials{}, fmt.Errorf("%s: response from %s (request ID %s) lacks AccessKeyId, AccessKeySecret or SecurityToken",
			source, target, parsed.RequestID)
	}
	expires, err := parseExpiration(source, c.Expiration)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		AccessKeyID:     c.AccessKeyID,
		AccessKeySecret: c.AccessKeySecret,
		SecurityToken:   c.SecurityToken,
		Expires:         expires,
	}, nil
}

// RAMRoleARNOptions configures a RAMRoleARNCredentialsProvider.
type RAMRoleARNOptions struct {
	// RoleARN is the role to assume, such as
	// "acs:ram::123456789012****:role/adminrole". Required.
	RoleARN string
	// RoleSessionName names the session in ActionTrail. The default is
	// "cloudauth-go-" followed by the Unix time in milliseconds.
	RoleSessionName string
	// DurationSeconds is the lifetime of the credentials, at least 900. The
	// default is 3600.
	DurationSeconds int
	// Policy optionally narrows the role's permissions, as a JSON policy.
	Policy string
	// ExternalID is the external ID the role's trust policy requires, if any.
	ExternalID string
	// STSEndpoint is the STS endpoint URL. The default is
	// https://sts.aliyuncs.com.
	STSEndpoint string
	// HTTPClient sends the requests. The default client has a 10-second
	// timeout.
	HTTPClient *http.Client
}

// RAMRoleARNCredentialsProvider assumes a RAM role with the STS AssumeRole
// API and returns the role's temporary credentials. Another provider
// supplies the credentials that sign the request. Each Retrieve calls STS,
// so wrap the provider in a client, which caches the credentials until
// shortly before they expire.
type RAMRoleARNCredentialsProvider struct {
	source CredentialsProvider
	opts   RAMRoleARNOptions
}

// NewRAMRoleARNCredentialsProvider returns a provider that assumes
// opts.RoleARN with credentials from source. It checks the options and does
// no I/O.
func NewRAMRoleARNCredentialsProvider(source CredentialsProvider, opts RAMRoleARNOptions) (*RAMRoleARNCredentialsProvider, error) {
	if source == nil {
		return nil, errors.New("RAM role ARN credentials: source provider is nil")
	}
	if strings.TrimSpace(opts.RoleARN) == "" {
		return nil, errors.New("RAM role ARN credentials: RoleARN is empty")
	}
	var err error
	if opts.DurationSeconds, err = checkRoleDuration(opts.DurationSeconds); err != nil {
		return nil, fmt.Errorf("RAM role ARN credentials: %w", err)
	}
	if opts.STSEndpoint, err = normalizeEndpoint("STSEndpoint", opts.STSEndpoint, defaultSTSEndpoint); err != nil {
		return nil, fmt.Errorf("RAM role ARN credentials: %w", err)
	}
	if opts.RoleSessionName == "" {
		opts.RoleSessionName = defaultRoleSessionName()
	}
	opts.HTTPClient = httpClientOrDefault(opts.HTTPClient, defaultCredentialsHTTPClient)
	return &RAMRoleARNCredentialsProvider{source: source, opts: opts}, nil
}

// Retrieve gets credentials from the source provider and calls AssumeRole
// with them, as an RPC V1 signed POST request.
func (p *RAMRoleARNCredentialsProvider) Retrieve(ctx context.Context) (Credentials, error) {
	sourceCreds, err := p.source.Retrieve(ctx)
	if err != nil {
		return Credentials{}, fmt.Errorf("STS AssumeRole: source credentials: %w", err)
	}
	if err := sourceCreds.validate(); err != nil {
		return Credentials{}, fmt.Errorf("STS AssumeRole: source %w", err)
	}
	form, err := p.signedForm(sourceCreds, time.Now())
	if err != nil {
		return Credentials{}, err
	}
	return callSTS(ctx, p.opts.HTTPClient, p.opts.STSEndpoint, form,
		sourceCreds.SecurityToken, sourceCreds.AccessKeySecret, form.Get("Signature"), p.opts.ExternalID)
}

// signedForm returns the AssumeRole parameters, common ones included, with
// their RPC V1 Signature over the POST method.
func (p *RAMRoleARNCredentialsProvider) signedForm(source Credentials, now time.Time) (url.Values, error) {
	nonce, err := newSignatureNonce()
	if err != nil {
		return nil, fmt.Errorf("STS AssumeRole: %w", err)
	}
	form := url.Values{
		"Action":           {"AssumeRole"},
		"Version":          {stsAPIVersion},
		"Format":           {"JSON"},
		"RoleArn":          {p.opts.RoleARN},
		"RoleSessionName":  {p.opts.RoleSessionName},
		"DurationSeconds":  {strconv.Itoa(p.opts.DurationSeconds)},
		"AccessKeyId":      {source.AccessKeyID},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {nonce},
		"Timestamp":        {now.UTC().Format(timestampLayout)},
	}
	if p.opts.Policy != "" {
		form.Set("Policy", p.opts.Policy)
	}
	if p.opts.ExternalID != "" {
		form.Set("ExternalId", p.opts.ExternalID)
	}
	if source.SecurityToken != "" {
		form.Set("SecurityToken", source.SecurityToken)
	}
	form.Set("Signature", SignV1(http.MethodPost, form, source.AccessKeySecret))
	return form, nil
}

// String returns the role, session and endpoint. It shows only the type of
// the source provider, which may hold secrets of its own, and hides the
// external ID.
func (p *RAMRoleARNCredentialsProvider) String() string {
	return fmt.Sprintf("RAMRoleARNCredentialsProvider{RoleARN: %s, RoleSessionName: %s, DurationSeconds: %d, ExternalID: %s, STSEndpoint: %s, Source: %T}",
		p.opts.RoleARN, p.opts.RoleSessionName, p.opts.DurationSeconds,
		redactedMark(p.opts.ExternalID), p.opts.STSEndpoint, p.source)
}

// GoString is String with the package name, for the %#v verb.
func (p *RAMRoleARNCredentialsProvider) GoString() string { return "&cloudauth." + p.String() }

// Format writes the redacted form for every verb.
func (p *RAMRoleARNCredentialsProvider) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue implements slog.LogValuer without the source or the external ID.
func (p *RAMRoleARNCredentialsProvider) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("provider", "ram_role_arn"),
		slog.String("role_arn", p.opts.RoleARN),
		slog.String("role_session_name", p.opts.RoleSessionName),
		slog.String("sts_endpoint", p.opts.STSEndpoint),
		slog.String("source", fmt.Sprintf("%T", p.source)),
	)
}

// String describes the options with the external ID redacted.
func (o RAMRoleARNOptions) String() string {
	return fmt.Sprintf("RAMRoleARNOptions{RoleARN: %s, RoleSessionName: %s, DurationSeconds: %d, ExternalID: %s, STSEndpoint: %s}",
		o.RoleARN, o.RoleSessionName, o.DurationSeconds, redactedMark(o.ExternalID), o.STSEndpoint)
}

// GoString is String with the package name, for the %#v verb.
func (o RAMRoleARNOptions) GoString() string { return "cloudauth." + o.String() }

// Format writes the redacted form for every verb, because fmt would
// otherwise print ExternalID.
func (o RAMRoleARNOptions) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, o.String(), o.GoString())
}
