package cloudauth

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ProfileOptions configures the two profile-file providers,
// CLIProfileCredentialsProvider and ProfileCredentialsProvider. The endpoint
// and client settings apply to the STS and metadata requests that a
// RAM-role or ECS-role profile makes.
type ProfileOptions struct {
	// File is the path of the profile file. When empty, the CLI provider uses
	// ALIBABA_CLOUD_CONFIG_FILE, then ~/.aliyun/config.json, and the INI
	// provider uses ALIBABA_CLOUD_CREDENTIALS_FILE, then
	// ~/.alibabacloud/credentials.
	File string
	// ProfileName selects the profile. When empty, both providers use
	// ALIBABA_CLOUD_PROFILE. Without it, the CLI provider uses the file's
	// "current" profile and the INI provider the section "default".
	ProfileName string
	// STSEndpoint is the STS endpoint URL for RAM-role profiles. When empty,
	// the profile's sts_region or ALIBABA_CLOUD_STS_REGION selects a
	// regional endpoint, and without a region it is https://sts.aliyuncs.com.
	STSEndpoint string
	// MetadataEndpoint is the instance metadata URL for ECS-role profiles.
	// The default is http://100.100.100.200.
	MetadataEndpoint string
	// MetadataTimeout bounds each metadata request. The default is 1 second.
	MetadataTimeout time.Duration
	// HTTPClient sends the STS and metadata requests. The defaults are those
	// of RAMRoleARNOptions and ECSRAMRoleOptions.
	HTTPClient *http.Client
}

// check validates the endpoint options and returns a copy with them
// normalized. An empty STSEndpoint stays empty, so a profile's region can
// still choose the endpoint.
func (o ProfileOptions) check() (ProfileOptions, error) {
	var err error
	if o.STSEndpoint, err = normalizeEndpoint("STSEndpoint", o.STSEndpoint, ""); err != nil {
		return o, err
	}
	if o.MetadataEndpoint, err = normalizeEndpoint("MetadataEndpoint", o.MetadataEndpoint, ""); err != nil {
		return o, err
	}
	if o.MetadataTimeout < 0 {
		return o, fmt.Errorf("MetadataTimeout %v is negative", o.MetadataTimeout)
	}
	return o, nil
}

// profileName returns the explicit profile name, or ALIBABA_CLOUD_PROFILE.
func (o ProfileOptions) profileName() string {
	if o.ProfileName != "" {
		return o.ProfileName
	}
	return os.Getenv(envProfile)
}

// stsEndpoint returns the STS endpoint for a profile with the given region
// and VPC setting.
func (o ProfileOptions) stsEndpoint(region string, vpc bool) string {
	if o.STSEndpoint != "" {
		return o.STSEndpoint
	}
	if region == "" {
		region = os.Getenv(envSTSRegion)
	}
	return stsEndpointForRegion(region, vpc || envIsTrue(envVPCEndpointEnabled))
}

// ecsProvider returns the ECS RAM role provider for a profile.
func (o ProfileOptions) ecsProvider(roleName string) (*ECSRAMRoleCredentialsProvider, error) {
	return NewECSRAMRoleCredentialsProvider(ECSRAMRoleOptions{
		RoleName:         roleName,
		MetadataEndpoint: o.MetadataEndpoint,
		Timeout:          o.MetadataTimeout,
		HTTPClient:       o.HTTPClient,
	})
}

// resolveProfileFile returns the file path to read and whether the caller
// chose it, through the option or envVar. A missing file the caller chose is
// an error, while a missing default file means the source is not in use.
func resolveProfileFile(option, envVar, defaultRelative string) (path string, chosen bool, err error) {
	if option != "" {
		return option, true, nil
	}
	if fromEnv := os.Getenv(envVar); fromEnv != "" {
		return fromEnv, true, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false, notConfigured("no home directory to find %s in: %v", defaultRelative, err)
	}
	return filepath.Join(home, defaultRelative), false, nil
}

// readProfileFile reads a profile file through the size cap.
func readProfileFile(path string, chosen bool) ([]byte, error) {
	data, err := readCappedFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if chosen {
			return nil, fmt.Errorf("profile file %s does not exist", path)
		}
		return nil, notConfigured("%s does not exist", path)
	}
	if err != nil {
		return nil, err
	}
	return data, nil
}

// accessKeyFromProfile returns the AccessKey pair of a profile, or an error
// that names the empty keys.
func accessKeyFromProfile(id, secret, token, idKey, secretKey string) (Credentials, error) {
	var missing []string
	if strings.TrimSpace(id) == "" {
		missing = append(missing, idKey)
	}
	if secret == "" {
		missing = append(missing, secretKey)
	}
	switch len(missing) {
	case 1:
		return Credentials{}, fmt.Errorf("%s is empty", missing[0])
	case 2:
		return Credentials{}, fmt.Errorf("%s and %s are empty", missing[0], missing[1])
	}
	return Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token}, nil
}

// describe lists the options for String methods. Empty values print as
// "(default)".
func (o ProfileOptions) describe() string {
	orDefault := func(s string) string {
		if s == "" {
			return "(default)"
		}
		return s
	}
	return fmt.Sprintf("File: %s, ProfileName: %s, STSEndpoint: %s, MetadataEndpoint: %s",
		orDefault(o.File), orDefault(o.ProfileName), orDefault(o.STSEndpoint), orDefault(o.MetadataEndpoint))
}
