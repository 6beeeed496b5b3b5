package cloudauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Every provider satisfies CredentialsProvider.
var (
	_ CredentialsProvider = (*EnvCredentialsProvider)(nil)
	_ CredentialsProvider = (*OIDCCredentialsProvider)(nil)
	_ CredentialsProvider = (*CLIProfileCredentialsProvider)(nil)
	_ CredentialsProvider = (*ProfileCredentialsProvider)(nil)
	_ CredentialsProvider = (*ECSRAMRoleCredentialsProvider)(nil)
	_ CredentialsProvider = (*RAMRoleARNCredentialsProvider)(nil)
	_ CredentialsProvider = (*URICredentialsProvider)(nil)
	_ CredentialsProvider = (*DefaultCredentialsProvider)(nil)
)

// DefaultChainOptions configures NewDefaultCredentialsProvider. The zero
// value uses the real endpoints, so only tests and unusual networks set it.
type DefaultChainOptions struct {
	// STSEndpoint is the STS endpoint URL for the OIDC source and RAM-role
	// profiles. When empty, ALIBABA_CLOUD_STS_REGION (or a profile's
	// sts_region) selects a regional endpoint, and without a region it is
	// https://sts.aliyuncs.com.
	STSEndpoint string
	// MetadataEndpoint is the ECS instance metadata URL. The default is
	// http://100.100.100.200.
	MetadataEndpoint string
	// MetadataTimeout bounds each metadata request. The default is 1 second.
	MetadataTimeout time.Duration
	// HTTPClient sends every STS, metadata and credentials URI request. The
	// defaults are those of the individual providers.
	HTTPClient *http.Client
}

// The names of the default chain's sources, as NoCredentialsError lists them.
const (
	sourceEnvironment = "environment variables"
	sourceOIDC        = "OIDC role"
	sourceCLIProfile  = "CLI profile"
	sourceINIProfile  = "credentials file"
	sourceECSRole     = "ECS instance RAM role"
	sourceURI         = "credentials URI"
)

// DefaultCredentialsProvider tries the standard Alibaba Cloud credential
// sources in the order of the official credentials library
// (aliyun/credentials-go):
//
//  1. environment variables ALIBABA_CLOUD_ACCESS_KEY_ID,
//     ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN;
//  2. an OIDC role from ALIBABA_CLOUD_ROLE_ARN,
//     ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE;
//  3. the CLI's profile file, ~/.aliyun/config.json;
//  4. the INI credentials file, ~/.alibabacloud/credentials;
//  5. the ECS instance RAM role, unless
//     ALIBABA_CLOUD_ECS_METADATA_DISABLED=true;
//  6. the URL in ALIBABA_CLOUD_CREDENTIALS_URI.
//
// It reads the environment and files only on Retrieve. The first source that
// returns credentials is remembered, and later calls use only that source,
// so a client does not switch identity when that source later fails. When
// no source returns credentials, Retrieve returns a *NoCredentialsError.
type DefaultCredentialsProvider struct {
	opts    DefaultChainOptions
	sources []chainSource
	// selected is 1 + the index of the source that succeeded, or 0 before
	// any source has.
	selected atomic.Int32
}

// chainSource is one step of the default chain.
type chainSource struct {
	name     string
	provider CredentialsProvider
}

// NewDefaultCredentialsProvider returns the default credential chain. Each
// function in optFns may change the options. It checks the options and does
// no I/O.
func NewDefaultCredentialsProvider(optFns ...func(*DefaultChainOptions)) (*DefaultCredentialsProvider, error) {
	var opts DefaultChainOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	profileOpts, err := ProfileOptions{
		STSEndpoint:      opts.STSEndpoint,
		MetadataEndpoint: opts.MetadataEndpoint,
		MetadataTimeout:  opts.MetadataTimeout,
		HTTPClient:       opts.HTTPClient,
	}.check()
	if err != nil {
		return nil, fmt.Errorf("default credentials chain: %w", err)
	}
	opts.STSEndpoint = profileOpts.STSEndpoint
	opts.MetadataEndpoint = profileOpts.MetadataEndpoint

	p := &DefaultCredentialsProvider{opts: opts}
	p.sources = []chainSource{
		{sourceEnvironment, NewEnvCredentialsProvider()},
		{sourceOIDC, CredentialsProviderFunc(p.retrieveOIDC)},
		{sourceCLIProfile, &CLIProfileCredentialsProvider{opts: profileOpts}},
		{sourceINIProfile, &ProfileCredentialsProvider{opts: profileOpts}},
		{sourceECSRole, CredentialsProviderFunc(p.retrieveECSRole)},
		{sourceURI, CredentialsProviderFunc(p.retrieveURI)},
	}
	return p, nil
}

// Retrieve returns credentials from the remembered source, or tries each
// source in order until one returns credentials.
func (p *DefaultCredentialsProvider) Retrieve(ctx context.Context) (Credentials, error) {
	if selected := p.selected.Load(); selected > 0 {
		source := p.sources[selected-1]
		creds, err := source.provider.Retrieve(ctx)
		if err == nil {
			err = creds.validate()
		}
		if err != nil {
			return Credentials{}, fmt.Errorf("%s: %w", source.name, err)
		}
		return creds, nil
	}

	results := make([]CredentialsSourceResult, 0, len(p.sources))
	for i, source := range p.sources {
		creds, err := source.provider.Retrieve(ctx)
		if err == nil {
			err = creds.validate()
		}
		if err == nil {
			p.selected.CompareAndSwap(0, int32(i+1))
			return creds, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Credentials{}, fmt.Errorf("default credentials chain stopped at %s: %w", source.name, ctxErr)
		}
		results = append(results, CredentialsSourceResult{
			Source:  source.name,
			Skipped: isNotConfigured(err),
			Err:     err,
		})
	}
	return Credentials{}, &NoCredentialsError{Sources: results}
}

// stsEndpoint returns the STS endpoint for the OIDC source.
func (p *DefaultCredentialsProvider) stsEndpoint() string {
	if p.opts.STSEndpoint != "" {
		return p.opts.STSEndpoint
	}
	return stsEndpointForRegion(os.Getenv(envSTSRegion), envIsTrue(envVPCEndpointEnabled))
}

// retrieveOIDC is the OIDC source. It is skipped while no token file is set,
// as in the official library, because ALIBABA_CLOUD_ROLE_ARN alone may be
// meant for another tool.
func (p *DefaultCredentialsProvider) retrieveOIDC(ctx context.Context) (Credentials, error) {
	tokenFile := os.Getenv(envOIDCTokenFile)
	if tokenFile == "" {
		return Credentials{}, notConfigured("%s is not set", envOIDCTokenFile)
	}
	var missing []string
	for _, name := range []string{envRoleARN, envOIDCProviderARN} {
		if os.Getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Credentials{}, fmt.Errorf("%s is set but %s is not", envOIDCTokenFile, strings.Join(missing, " and "))
	}
	provider, err := NewOIDCCredentialsProvider(OIDCOptions{
		RoleARN:         os.Getenv(envRoleARN),
		OIDCProviderARN: os.Getenv(envOIDCProviderARN),
		OIDCTokenFile:   tokenFile,
		RoleSessionName: os.Getenv(envRoleSessionName),
		STSEndpoint:     p.stsEndpoint(),
		HTTPClient:      p.opts.HTTPClient,
	})
	if err != nil {
		return Credentials{}, err
	}
	return provider.Retrieve(ctx)
}

// retrieveECSRole is the ECS instance RAM role source. The role name comes
// from ALIBABA_CLOUD_ECS_METADATA, or the metadata service when it is unset.
func (p *DefaultCredentialsProvider) retrieveECSRole(ctx context.Context) (Credentials, error) {
	if envIsTrue(envECSMetadataDisabled) {
		return Credentials{}, notConfigured("%s is true", envECSMetadataDisabled)
	}
	provider, err := NewECSRAMRoleCredentialsProvider(ECSRAMRoleOptions{
		RoleName:         os.Getenv(envECSMetadataRoleName),
		MetadataEndpoint: p.opts.MetadataEndpoint,
		Timeout:          p.opts.MetadataTimeout,
		HTTPClient:       p.opts.HTTPClient,
	})
	if err != nil {
		return Credentials{}, err
	}
	return provider.Retrieve(ctx)
}

// retrieveURI is the credentials URI source.
func (p *DefaultCredentialsProvider) retrieveURI(ctx context.Context) (Credentials, error) {
	uri := os.Getenv(envCredentialsURI)
	if uri == "" {
		return Credentials{}, notConfigured("%s is not set", envCredentialsURI)
	}
	provider, err := NewURICredentialsProvider(URIOptions{URI: uri, HTTPClient: p.opts.HTTPClient})
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", envCredentialsURI, err)
	}
	return provider.Retrieve(ctx)
}

// String lists the sources in order and the remembered one, if any.
func (p *DefaultCredentialsProvider) String() string {
	names := make([]string, len(p.sources))
	for i, source := range p.sources {
		names[i] = source.name
	}
	selected := "(none yet)"
	if i := p.selected.Load(); i > 0 {
		selected = p.sources[i-1].name
	}
	return "DefaultCredentialsProvider{Sources: [" + strings.Join(names, ", ") + "], Selected: " + selected + "}"
}

// GoString is String with the package name, for the %#v verb.
func (p *DefaultCredentialsProvider) GoString() string { return "&cloudauth." + p.String() }

// Format writes the same text for every verb. The chain holds no secret: its
// sources read them on each Retrieve.
func (p *DefaultCredentialsProvider) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue implements slog.LogValuer.
func (p *DefaultCredentialsProvider) LogValue() slog.Value {
	selected := ""
	if i := p.selected.Load(); i > 0 {
		selected = p.sources[i-1].name
	}
	return slog.GroupValue(slog.String("provider", "default_chain"), slog.String("selected", selected))
}

// CredentialsSourceResult is the outcome of one source of the default chain
// that returned no credentials.
type CredentialsSourceResult struct {
	// Source names the source, such as "environment variables".
	Source string
	// Skipped is true when the source has no settings at all, and false when
	// it has settings but failed.
	Skipped bool
	// Err is the reason the source was skipped or the error it returned. It
	// contains no secret.
	Err error
}

// NoCredentialsError is returned by DefaultCredentialsProvider when no
// source returns credentials. Its Error method writes one line. The %+v verb
// writes one line per source.
type NoCredentialsError struct {
	// Sources lists every source in the order tried.
	Sources []CredentialsSourceResult
}

// noCredentialsAdvice lists the usual ways to supply credentials.
const noCredentialsAdvice = "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, " +
	"run `aliyun configure`, or pass a provider to WithCredentials"

// Error lists each source and the reason on one line.
func (e *NoCredentialsError) Error() string {
	var b strings.Builder
	b.WriteString("no Alibaba Cloud credentials found (")
	for i, result := range e.Sources {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(result.describe())
	}
	b.WriteString("): ")
	b.WriteString(noCredentialsAdvice)
	return b.String()
}

// multilineString lists each source and the reason on a line of its own.
func (e *NoCredentialsError) multilineString() string {
	var b strings.Builder
	b.WriteString("no Alibaba Cloud credentials found. Sources tried, in order:\n")
	for i, result := range e.Sources {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, result.describe())
	}
	b.WriteString("To fix this, ")
	b.WriteString(noCredentialsAdvice)
	b.WriteString(".")
	return b.String()
}

// describe returns "source: skipped, reason" or "source: failed, reason".
func (r CredentialsSourceResult) describe() string {
	outcome := "failed"
	if r.Skipped {
		outcome = "skipped"
	}
	reason := "no reason recorded"
	if r.Err != nil {
		reason = r.Err.Error()
	}
	return r.Source + ": " + outcome + ", " + reason
}

// Format writes Error() for %v and %s, and one line per source for %+v.
func (e *NoCredentialsError) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('+') {
		_, _ = f.Write([]byte(e.multilineString()))
		return
	}
	formatRedacted(f, verb, e.Error(), e.Error())
}

// Unwrap returns the errors of the sources that failed, so errors.Is and
// errors.As reach them.
func (e *NoCredentialsError) Unwrap() []error {
	var errs []error
	for _, result := range e.Sources {
		if !result.Skipped && result.Err != nil {
			errs = append(errs, result.Err)
		}
	}
	return errs
}
