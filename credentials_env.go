package cloudauth

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// The environment variables that the credential providers read. The names
// and meanings are those of Alibaba Cloud's official credentials library for
// Go (github.com/aliyun/credentials-go).
const (
	envAccessKeyID         = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	envAccessKeySecret     = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	envSecurityToken       = "ALIBABA_CLOUD_SECURITY_TOKEN"
	envRoleARN             = "ALIBABA_CLOUD_ROLE_ARN"
	envOIDCProviderARN     = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
	envOIDCTokenFile       = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
	envRoleSessionName     = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
	envProfile             = "ALIBABA_CLOUD_PROFILE"
	envConfigFile          = "ALIBABA_CLOUD_CONFIG_FILE"
	envCredentialsFile     = "ALIBABA_CLOUD_CREDENTIALS_FILE"
	envCLIProfileDisabled  = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"
	envECSMetadataRoleName = "ALIBABA_CLOUD_ECS_METADATA"
	envECSMetadataDisabled = "ALIBABA_CLOUD_ECS_METADATA_DISABLED"
	envCredentialsURI      = "ALIBABA_CLOUD_CREDENTIALS_URI"
	envSTSRegion           = "ALIBABA_CLOUD_STS_REGION"
	envVPCEndpointEnabled  = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"
)

// envIsTrue reports whether the environment variable name is "true" in any
// letter case, the way the official libraries read their switches.
func envIsTrue(name string) bool {
	return strings.EqualFold(strings.TrimSpace(os.Getenv(name)), "true")
}

// EnvCredentialsProvider reads an AccessKey pair, and an STS security token
// when one is set, from ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN. It reads
// the variables again on each Retrieve and stores nothing.
type EnvCredentialsProvider struct{}

// NewEnvCredentialsProvider returns a provider of the credentials in the
// environment variables.
func NewEnvCredentialsProvider() *EnvCredentialsProvider {
	return &EnvCredentialsProvider{}
}

// Retrieve returns the credentials in the environment. It fails when only one
// of the AccessKey ID and secret is set, or when neither is.
func (p *EnvCredentialsProvider) Retrieve(context.Context) (Credentials, error) {
	// Editors and shells leave stray spaces around values, which would sign
	// with an AccessKey the service does not know.
	id := strings.TrimSpace(os.Getenv(envAccessKeyID))
	secret := strings.TrimSpace(os.Getenv(envAccessKeySecret))
	switch {
	case id == "" && secret == "":
		return Credentials{}, notConfigured("%s and %s are not set", envAccessKeyID, envAccessKeySecret)
	case id == "":
		return Credentials{}, fmt.Errorf("%s is set but %s is empty", envAccessKeySecret, envAccessKeyID)
	case secret == "":
		return Credentials{}, fmt.Errorf("%s is set but %s is empty", envAccessKeyID, envAccessKeySecret)
	}
	return Credentials{
		AccessKeyID:     id,
		AccessKeySecret: secret,
		SecurityToken:   strings.TrimSpace(os.Getenv(envSecurityToken)),
	}, nil
}

// String names the provider. It holds no secret.
func (p *EnvCredentialsProvider) String() string { return "EnvCredentialsProvider{}" }

// GoString is String with the package name, for the %#v verb.
func (p *EnvCredentialsProvider) GoString() string { return "&cloudauth." + p.String() }

// Format writes the same text for every verb.
func (p *EnvCredentialsProvider) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue implements slog.LogValuer.
func (p *EnvCredentialsProvider) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", "environment"))
}
