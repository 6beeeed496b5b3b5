package cloudauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// OIDCOptions configures an OIDCCredentialsProvider.
type OIDCOptions struct {
	// RoleARN is the RAM role to assume. Required.
	RoleARN string
	// OIDCProviderARN is the ARN of the OIDC identity provider in RAM, such as
	// "acs:ram::123456789012****:oidc-provider/ack-rrsa-provider". Required.
	OIDCProviderARN string
	// OIDCTokenFile is the path of the file that holds the OIDC token, such
	// as a projected service account token in Kubernetes. Required. The
	// provider reads it on every Retrieve because the token rotates.
	OIDCTokenFile string
	// RoleSessionName names the session in ActionTrail. The default is
	// "cloudauth-go-" followed by the Unix time in milliseconds.
	RoleSessionName string
	// DurationSeconds is the lifetime of the credentials, at least 900. The
	// default is 3600.
	DurationSeconds int
	// Policy optionally narrows the role's permissions, as a JSON policy.
	Policy string
	// STSEndpoint is the STS endpoint URL. The default is
	// https://sts.aliyuncs.com.
	STSEndpoint string
	// HTTPClient sends the requests. The default client has a 10-second
	// timeout.
	HTTPClient *http.Client
}

// OIDCCredentialsProvider assumes a RAM role with the STS AssumeRoleWithOIDC
// API, presenting an OIDC token read from a file, as RRSA on Container
// Service for Kubernetes does. The request is not signed: the OIDC token
// authenticates it. Each Retrieve reads the token file and calls STS.
type OIDCCredentialsProvider struct {
	opts OIDCOptions
}

// NewOIDCCredentialsProvider returns a provider that assumes opts.RoleARN
// with the token in opts.OIDCTokenFile. It checks the options and does no
// I/O, so the token file may appear later.
func NewOIDCCredentialsProvider(opts OIDCOptions) (*OIDCCredentialsProvider, error) {
	var missing []string
	if strings.TrimSpace(opts.RoleARN) == "" {
		missing = append(missing, "RoleARN")
	}
	if strings.TrimSpace(opts.OIDCProviderARN) == "" {
		missing = append(missing, "OIDCProviderARN")
	}
	if strings.TrimSpace(opts.OIDCTokenFile) == "" {
		missing = append(missing, "OIDCTokenFile")
	}
	if len(missing) > 0 {
		verb := "is"
		if len(missing) > 1 {
			verb = "are"
		}
		return nil, fmt.Errorf("OIDC credentials: %s %s empty", strings.Join(missing, " and "), verb)
	}
	var err error
	if opts.DurationSeconds, err = checkRoleDuration(opts.DurationSeconds); err != nil {
		return nil, fmt.Errorf("OIDC credentials: %w", err)
	}
	if opts.STSEndpoint, err = normalizeEndpoint("STSEndpoint", opts.STSEndpoint, defaultSTSEndpoint); err != nil {
		return nil, fmt.Errorf("OIDC credentials: %w", err)
	}
	if opts.RoleSessionName == "" {
		opts.RoleSessionName = defaultRoleSessionName()
	}
	opts.HTTPClient = httpClientOrDefault(opts.HTTPClient, defaultCredentialsHTTPClient)
	return &OIDCCredentialsProvider{opts: opts}, nil
}

// Retrieve reads the token file and exchanges the token for credentials.
func (p *OIDCCredentialsProvider) Retrieve(ctx context.Context) (Credentials, error) {
	data, err := readCappedFile(p.opts.OIDCTokenFile)
	if err != nil {
		return Credentials{}, fmt.Errorf("STS AssumeRoleWithOIDC: read OIDC token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return Credentials{}, fmt.Errorf("STS AssumeRoleWithOIDC: OIDC token file %s is empty", p.opts.OIDCTokenFile)
	}
	nonce, err := newSignatureNonce()
	if err != nil {
		return Credentials{}, fmt.Errorf("STS AssumeRoleWithOIDC: %w", err)
	}
	form := url.Values{
		"Action":          {"AssumeRoleWithOIDC"},
		"Version":         {stsAPIVersion},
		"Format":          {"JSON"},
		"RoleArn":         {p.opts.RoleARN},
		"OIDCProviderArn": {p.opts.OIDCProviderARN},
		"OIDCToken":       {token},
		"RoleSessionName": {p.opts.RoleSessionName},
		"DurationSeconds": {strconv.Itoa(p.opts.DurationSeconds)},
		"Timestamp":       {time.Now().UTC().Format(timestampLayout)},
		"SignatureNonce":  {nonce},
	}
	if p.opts.Policy != "" {
		form.Set("Policy", p.opts.Policy)
	}
	return callSTS(ctx, p.opts.HTTPClient, p.opts.STSEndpoint, form, token)
}

// String returns the role, the identity provider and the token file path.
func (p *OIDCCredentialsProvider) String() string {
	return fmt.Sprintf("OIDCCredentialsProvider{RoleARN: %s, OIDCProviderARN: %s, OIDCTokenFile: %s, RoleSessionName: %s, DurationSeconds: %d, STSEndpoint: %s}",
		p.opts.RoleARN, p.opts.OIDCProviderARN, p.opts.OIDCTokenFile,
		p.opts.RoleSessionName, p.opts.DurationSeconds, p.opts.STSEndpoint)
}

// GoString is String with the package name, for the %#v verb.
func (p *OIDCCredentialsProvider) GoString() string { return "&cloudauth." + p.String() }

// Format writes the same text for every verb. The provider holds no token:
// it reads the file on each Retrieve.
func (p *OIDCCredentialsProvider) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue implements slog.LogValuer.
func (p *OIDCCredentialsProvider) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("provider", "oidc_role_arn"),
		slog.String("role_arn", p.opts.RoleARN),
		slog.String("oidc_provider_arn", p.opts.OIDCProviderARN),
		slog.String("oidc_token_file", p.opts.OIDCTokenFile),
		slog.String("sts_endpoint", p.opts.STSEndpoint),
	)
}
