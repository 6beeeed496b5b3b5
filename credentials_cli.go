package cloudauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
)

// CLIProfileCredentialsProvider reads a profile of the Alibaba Cloud CLI's
// configuration file, ~/.aliyun/config.json, which `aliyun configure`
// writes. It supports the modes AK, StsToken, RamRoleArn and EcsRamRole, and
// reads the file again on each Retrieve. ALIBABA_CLOUD_CLI_PROFILE_DISABLED
// set to true turns it off.
type CLIProfileCredentialsProvider struct {
	opts ProfileOptions
}

// NewCLIProfileCredentialsProvider returns a provider of a CLI profile. It
// checks the options and does no I/O.
func NewCLIProfileCredentialsProvider(opts ProfileOptions) (*CLIProfileCredentialsProvider, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, fmt.Errorf("CLI profile credentials: %w", err)
	}
	return &CLIProfileCredentialsProvider{opts: opts}, nil
}

// cliConfig is the part of the CLI's config.json that holds credentials.
type cliConfig struct {
	Current  string       `json:"current"`
	Profiles []cliProfile `json:"profiles"`
}

// cliProfile is one entry of "profiles" in the CLI's config.json.
type cliProfile struct {
	Name            string `json:"name"`
	Mode            string `json:"mode"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	STSToken        string `json:"sts_token"`
	RAMRoleARN      string `json:"ram_role_arn"`
	RAMSessionName  string `json:"ram_session_name"`
	ExpiredSeconds  int    `json:"expired_seconds"`
	Policy          string `json:"policy"`
	ExternalID      string `json:"external_id"`
	STSRegion       string `json:"sts_region"`
	EnableVPC       bool   `json:"enable_vpc"`
	RAMRoleName     string `json:"ram_role_name"`
}

// Retrieve reads the selected profile and returns its credentials, calling
// STS or the metadata service when the mode requires.
func (p *CLIProfileCredentialsProvider) Retrieve(ctx context.Context) (Credentials, error) {
	if envIsTrue(envCLIProfileDisabled) {
		return Credentials{}, notConfigured("%s is true", envCLIProfileDisabled)
	}
	path, chosen, err := resolveProfileFile(p.opts.File, envConfigFile, filepath.Join(".aliyun", "config.json"))
	if err != nil {
		return Credentials{}, err
	}
	data, err := readProfileFile(path, chosen)
	if err != nil {
		return Credentials{}, err
	}
	var config cliConfig
	if err := json.Unmarshal(data, &config); err != nil {
		return Credentials{}, fmt.Errorf("parse CLI configuration %s: %w", path, err)
	}

	name := p.opts.profileName()
	if name == "" {
		name = config.Current
	}
	if name == "" {
		return Credentials{}, fmt.Errorf("CLI configuration %s has no \"current\" profile: set %s to choose one", path, envProfile)
	}
	profile, ok := config.find(name)
	if !ok {
		return Credentials{}, fmt.Errorf("CLI configuration %s has no profile %q (profiles: %s)",
			path, name, strings.Join(config.names(), ", "))
	}
	creds, err := p.retrieveProfile(ctx, profile)
	if err != nil {
		return Credentials{}, fmt.Errorf("CLI profile %q in %s (mode %s): %w", name, path, profile.Mode, err)
	}
	return creds, nil
}

// find returns the profile with the given name.
func (c *cliConfig) find(name string) (cliProfile, bool) {
	for _, profile := range c.Profiles {
		if profile.Name == name {
			return profile, true
		}
	}
	return cliProfile{}, false
}

// names returns the profile names, sorted.
func (c *cliConfig) names() []string {
	names := make([]string, 0, len(c.Profiles))
	for _, profile := range c.Profiles {
		names = append(names, profile.Name)
	}
	sort.Strings(names)
	return names
}

// retrieveProfile returns the credentials of one CLI profile by its mode.
func (p *CLIProfileCredentialsProvider) retrieveProfile(ctx context.Context, profile cliProfile) (Credentials, error) {
	switch profile.Mode {
	case "AK":
		return accessKeyFromProfile(profile.AccessKeyID, profile.AccessKeySecret, "", "access_key_id", "access_key_secret")
	case "StsToken":
		if profile.STSToken == "" {
			return Credentials{}, errors.New("sts_token is empty")
		}
		return accessKeyFromProfile(profile.AccessKeyID, profile.AccessKeySecret, profile.STSToken, "access_key_id", "access_key_secret")
	case "RamRoleArn":
		source, err := accessKeyFromProfile(profile.AccessKeyID, profile.AccessKeySecret, "", "access_key_id", "access_key_secret")
		if err != nil {
			return Credentials{}, err
		}
		provider, err := NewRAMRoleARNCredentialsProvider(
			NewStaticCredentialsProvider(source.AccessKeyID, source.AccessKeySecret, ""),
			RAMRoleARNOptions{
				RoleARN:         profile.RAMRoleARN,
				RoleSessionName: profile.RAMSessionName,
				DurationSeconds: profile.ExpiredSeconds,
				Policy:          profile.Policy,
				ExternalID:      profile.ExternalID,
				STSEndpoint:     p.opts.stsEndpoint(profile.STSRegion, profile.EnableVPC),
				HTTPClient:      p.opts.HTTPClient,
			})
		if err != nil {
			return Credentials{}, err
		}
		return provider.Retrieve(ctx)
	case "EcsRamRole":
		provider, err := p.opts.ecsProvider(profile.RAMRoleName)
		if err != nil {
			return Credentials{}, err
		}
		return provider.Retrieve(ctx)
	}
	return Credentials{}, fmt.Errorf("unsupported mode %q: supported modes are AK, StsToken, RamRoleArn and EcsRamRole", profile.Mode)
}

// String returns the file and profile settings.
func (p *CLIProfileCredentialsProvider) String() string {
	return "CLIProfileCredentialsProvider{" + p.opts.describe() + "}"
}

// GoString is String with the package name, for the %#v verb.
func (p *CLIProfileCredentialsProvider) GoString() string { return "&cloudauth." + p.String() }

// Format writes the same text for every verb. The provider holds no secret:
// it reads the file on each Retrieve.
func (p *CLIProfileCredentialsProvider) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue implements slog.LogValuer.
func (p *CLIProfileCredentialsProvider) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", "cli_profile"),
		slog.String("file", p.opts.File), slog.String("profile", p.opts.ProfileName))
}
