package cloudauth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// defaultMetadataEndpoint is the ECS instance metadata service, which is
	// reachable only from inside an instance.
	defaultMetadataEndpoint = "http://100.100.100.200"
	// defaultMetadataTimeout bounds each metadata request. It is short
	// because the default chain sends metadata requests on machines that are
	// not ECS instances, where nothing responds. The official Go library
	// (aliyun/credentials-go) uses 1-second connect and read timeouts.
	defaultMetadataTimeout = time.Second
	// metadataTokenTTLSeconds is the lifetime requested for an IMDSv2 token:
	// 6 hours, as aliyun/credentials-go requests.
	metadataTokenTTLSeconds = 21600

	metadataTokenPath       = "/latest/api/token"
	metadataCredentialsPath = "/latest/meta-data/ram/security-credentials/"
	metadataTokenTTLHeader  = "X-aliyun-ecs-metadata-token-ttl-seconds"
	metadataTokenHeader     = "X-aliyun-ecs-metadata-token"
	metadataSource          = "ECS instance metadata"
)

// metadataHTTPClient sends metadata requests when the caller sets no HTTP
// client. It ignores the proxy environment variables, because a proxy cannot
// reach an instance's link-local metadata service.
var metadataHTTPClient = func() *http.Client {
	transport := &http.Transport{}
	// A program may have replaced http.DefaultTransport with another type,
	// in which case the zero Transport, which uses no proxy, is the fallback.
	if base, ok := http.DefaultTransport.(*http.Transport); ok {
		transport = base.Clone()
	}
	transport.Proxy = nil
	return &http.Client{Transport: transport}
}()

// ECSRAMRoleOptions configures an ECSRAMRoleCredentialsProvider.
type ECSRAMRoleOptions struct {
	// RoleName is the RAM role attached to the instance. When empty, the
	// provider reads it from the metadata service on each Retrieve.
	RoleName string
	// MetadataEndpoint is the metadata service URL. The default is
	// http://100.100.100.200.
	MetadataEndpoint string
	// Timeout bounds each metadata request. The default is 1 second.
	Timeout time.Duration
	// HTTPClient sends the requests. The default client ignores proxy
	// settings.
	HTTPClient *http.Client
}

// ECSRAMRoleCredentialsProvider returns the temporary credentials of the RAM
// role attached to the ECS instance it runs on, from the instance metadata
// service. It uses IMDSv2, the hardened mode: each Retrieve first requests a
// session token with PUT /latest/api/token and sends it with every read.
// Setting ALIBABA_CLOUD_ECS_METADATA_DISABLED=true turns the provider off.
type ECSRAMRoleCredentialsProvider struct {
	opts ECSRAMRoleOptions
}

// NewECSRAMRoleCredentialsProvider returns a provider of the instance's RAM
// role credentials. It checks the options and does no I/O.
func NewECSRAMRoleCredentialsProvider(opts ECSRAMRoleOptions) (*ECSRAMRoleCredentialsProvider, error) {
	var err error
	opts.MetadataEndpoint, err = normalizeEndpoint("MetadataEndpoint", opts.MetadataEndpoint, defaultMetadataEndpoint)
	if err != nil {
		return nil, fmt.Errorf("ECS RAM role credentials: %w", err)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("ECS RAM role credentials: Timeout %v is negative", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = defaultMetadataTimeout
	}
	opts.RoleName = strings.TrimSpace(opts.RoleName)
	opts.HTTPClient = httpClientOrDefault(opts.HTTPClient, metadataHTTPClient)
	return &ECSRAMRoleCredentialsProvider{opts: opts}, nil
}

// metadataCredentialsResponse is the JSON body of
// /latest/meta-data/ram/security-credentials/<role>.
type metadataCredentialsResponse struct {
	Code            string `json:"Code"`
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	Expiration      string `json:"Expiration"`
}

// Retrieve requests an IMDSv2 token, finds the role name when none is set,
// and reads the role's credentials.
func (p *ECSRAMRoleCredentialsProvider) Retrieve(ctx context.Context) (Credentials, error) {
	if envIsTrue(envECSMetadataDisabled) {
		return Credentials{}, notConfigured("%s is true", envECSMetadataDisabled)
	}
	token, err := p.metadataToken(ctx)
	if err != nil {
		return Credentials{}, err
	}
	role := p.opts.RoleName
	if role == "" {
		if role, err = p.discoverRoleName(ctx, token); err != nil {
			return Credentials{}, err
		}
	}

	body, err := p.get(ctx, metadataCredentialsPath+url.PathEscape(role), token)
	if err != nil {
		return Credentials{}, err
	}
	var parsed metadataCredentialsResponse
	if err := json.Unmarshal(body, &parsed); err != nil {
		return Credentials{}, fmt.Errorf("%s: credentials of role %s are not valid JSON: %w", metadataSource, role, err)
	}
	if parsed.Code != "Success" {
		return Credentials{}, fmt.Errorf("%s: credentials of role %s have Code %q, expected \"Success\"",
			metadataSource, role, parsed.Code)
	}
	if parsed.AccessKeyID == "" || parsed.AccessKeySecret == "" || parsed.SecurityToken == "" {
		return Credentials{}, fmt.Errorf("%s: credentials of role %s lack AccessKeyId, AccessKeySecret or SecurityToken",
			metadataSource, role)
	}
	expires, err := parseExpiration(metadataSource, parsed.Expiration)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		AccessKeyID:     parsed.AccessKeyID,
		AccessKeySecret: parsed.AccessKeySecret,
		SecurityToken:   parsed.SecurityToken,
		Expires:         expires,
	}, nil
}

// metadataToken requests an IMDSv2 session token.
func (p *ECSRAMRoleCredentialsProvider) metadataToken(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.opts.MetadataEndpoint+metadataTokenPath, nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", metadataSource, err)
	}
	req.Header.Set(metadataTokenTTLHeader, strconv.Itoa(metadataTokenTTLSeconds))
	resp, err := sendCredentialsRequest(p.opts.HTTPClient, req, metadataSource)
	if err != nil {
		return "", err
	}
	if resp.statusCode != http.StatusOK {
		return "", newCredentialsRequestError(metadataSource+" token", redactURL(req.URL), resp)
	}
	token := strings.TrimSpace(string(resp.body))
	if token == "" {
		return "", fmt.Errorf("%s: %s returned an empty token", metadataSource, redactURL(req.URL))
	}
	return token, nil
}

// discoverRoleName reads the name of the RAM role attached to the instance.
func (p *ECSRAMRoleCredentialsProvider) discoverRoleName(ctx context.Context, token string) (string, error) {
	body, err := p.get(ctx, metadataCredentialsPath, token)
	if err != nil {
		return "", err
	}
	// The service lists one role per line, and an instance has at most one.
	role, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	role = strings.TrimSpace(role)
	if role == "" {
		return "", fmt.Errorf("%s: no RAM role is attached to the instance", metadataSource)
	}
	return role, nil
}

// get reads a metadata path with the IMDSv2 token and returns the body of a
// 200 response.
func (p *ECSRAMRoleCredentialsProvider) get(ctx context.Context, path, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.opts.MetadataEndpoint+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", metadataSource, err)
	}
	req.Header.Set(metadataTokenHeader, token)
	resp, err := sendCredentialsRequest(p.opts.HTTPClient, req, metadataSource)
	if err != nil {
		return nil, err
	}
	if resp.statusCode != http.StatusOK {
		return nil, newCredentialsRequestError(metadataSource, redactURL(req.URL), resp, token)
	}
	return resp.body, nil
}

// String returns the role name and the metadata endpoint.
func (p *ECSRAMRoleCredentialsProvider) String() string {
	role := p.opts.RoleName
	if role == "" {
		role = "(discovered)"
	}
	return fmt.Sprintf("ECSRAMRoleCredentialsProvider{RoleName: %s, MetadataEndpoint: %s, Timeout: %v}",
		role, p.opts.MetadataEndpoint, p.opts.Timeout)
}

// GoString is String with the package name, for the %#v verb.
func (p *ECSRAMRoleCredentialsProvider) GoString() string { return "&cloudauth." + p.String() }

// Format writes the same text for every verb.
func (p *ECSRAMRoleCredentialsProvider) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue implements slog.LogValuer.
func (p *ECSRAMRoleCredentialsProvider) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("provider", "ecs_ram_role"),
		slog.String("role_name", p.opts.RoleName),
		slog.String("metadata_endpoint", p.opts.MetadataEndpoint),
	)
}
