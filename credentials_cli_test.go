package cloudauth

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testCLIConfig is a CLI config.json with one profile of each mode.
const testCLIConfig = `{
	"current": "ak",
	"profiles": [
		{"name": "ak", "mode": "AK", "access_key_id": "cli-ak-id", "access_key_secret": "` + testSourceSecret + `", "region_id": "cn-hangzhou"},
		{"name": "sts", "mode": "StsToken", "access_key_id": "cli-sts-id", "access_key_secret": "` + testSourceSecret + `", "sts_token": "` + testSourceToken + `"},
		{"name": "role", "mode": "RamRoleArn", "access_key_id": "src-id", "access_key_secret": "` + testSourceSecret + `",
		 "ram_role_arn": "acs:ram::1234567890:role/cli-role", "ram_session_name": "cli-session", "expired_seconds": 900,
		 "external_id": "` + testExternalID + `"},
		{"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "ecs-role"},
		{"name": "empty", "mode": "AK", "access_key_id": "", "access_key_secret": ""},
		{"name": "odd", "mode": "CloudSSO"}
	]
}`

// writeCLIConfig writes testCLIConfig to home/.aliyun/config.json.
func writeCLIConfig(t *testing.T, home string) string {
	t.Helper()
	return writeTestFile(t, home, filepath.Join(".aliyun", "config.json"), testCLIConfig)
}

// newTestCLIProvider returns a CLI profile provider aimed at the fakes.
func newTestCLIProvider(t *testing.T, opts ProfileOptions) *CLIProfileCredentialsProvider {
	t.Helper()
	p, err := NewCLIProfileCredentialsProvider(opts)
	require.NoError(t, err)
	return p
}

func TestCLIProfileUsesCurrentProfile(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeCLIConfig(t, home)

	creds, err := newTestCLIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "cli-ak-id", creds.AccessKeyID)
	require.Equal(t, testSourceSecret, creds.AccessKeySecret)
	require.Empty(t, creds.SecurityToken)
}

func TestCLIProfileStsTokenMode(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeCLIConfig(t, home)
	t.Setenv(envProfile, "sts")

	creds, err := newTestCLIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "cli-sts-id", creds.AccessKeyID)
	require.Equal(t, testSourceToken, creds.SecurityToken)
}

func TestCLIProfileRamRoleArnMode(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeCLIConfig(t, home)
	sts := newFakeSTS(t)

	creds, err := newTestCLIProvider(t, ProfileOptions{ProfileName: "role", STSEndpoint: sts.URL}).Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "STS.role-id", creds.AccessKeyID)
	form := sts.lastRequest()
	require.Equal(t, "acs:ram::1234567890:role/cli-role", form.Get("RoleArn"))
	require.Equal(t, "cli-session", form.Get("RoleSessionName"))
	require.Equal(t, "900", form.Get("DurationSeconds"))
	require.Equal(t, testExternalID, form.Get("ExternalId"))
	require.Equal(t, "src-id", form.Get("AccessKeyId"))
}

func TestCLIProfileEcsRamRoleMode(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeCLIConfig(t, home)
	t.Setenv(envECSMetadataDisabled, "")
	metadata := newFakeMetadata(t)

	creds, err := newTestCLIProvider(t, ProfileOptions{ProfileName: "ecs", MetadataEndpoint: metadata.URL}).Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "STS.ecs-id", creds.AccessKeyID)
	require.Equal(t, time.Date(2099, 5, 6, 7, 8, 9, 0, time.UTC), creds.Expires)
	require.Equal(t, []string{
		"PUT /latest/api/token",
		"GET /latest/meta-data/ram/security-credentials/ecs-role",
	}, metadata.requests())
}

func TestCLIProfileFileFromEnv(t *testing.T) {
	isolateCredentialsEnv(t)
	path := writeTestFile(t, t.TempDir(), "cli.json", testCLIConfig)
	t.Setenv(envConfigFile, path)

	creds, err := newTestCLIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "cli-ak-id", creds.AccessKeyID)
}

func TestCLIProfileErrors(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		wantErr string
	}{
		{"unknown profile", "nope", `no profile "nope" (profiles: ak, ecs, empty, odd, role, sts)`},
		{"empty keys", "empty", "access_key_id and access_key_secret are empty"},
		{"unsupported mode", "odd", `unsupported mode "CloudSSO"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolateCredentialsEnv(t)
			writeCLIConfig(t, home)

			_, err := newTestCLIProvider(t, ProfileOptions{ProfileName: tt.profile}).Retrieve(context.Background())

			require.ErrorContains(t, err, tt.wantErr)
			require.False(t, isNotConfigured(err))
			requireNoSecret(t, err.Error())
		})
	}
}

func TestCLIProfileMissingDefaultFileIsNotConfigured(t *testing.T) {
	isolateCredentialsEnv(t)

	_, err := newTestCLIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.True(t, isNotConfigured(err))
	require.ErrorContains(t, err, filepath.Join(".aliyun", "config.json")+" does not exist")
}

func TestCLIProfileMissingChosenFileFails(t *testing.T) {
	isolateCredentialsEnv(t)
	t.Setenv(envConfigFile, filepath.Join(t.TempDir(), "absent.json"))

	_, err := newTestCLIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.Error(t, err)
	require.False(t, isNotConfigured(err))
	require.ErrorContains(t, err, "absent.json does not exist")
}

func TestCLIProfileInvalidJSON(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeTestFile(t, home, filepath.Join(".aliyun", "config.json"), `{"profiles": [{"access_key_secret": "`+testSourceSecret+`"`)

	_, err := newTestCLIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.ErrorContains(t, err, "parse CLI configuration")
	requireNoSecret(t, err.Error())
}

func TestCLIProfileDisabledByEnv(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeCLIConfig(t, home)
	t.Setenv(envCLIProfileDisabled, "true")

	_, err := newTestCLIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.True(t, isNotConfigured(err))
}

func TestCLIProfileECSDisabledFails(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeCLIConfig(t, home)

	_, err := newTestCLIProvider(t, ProfileOptions{ProfileName: "ecs"}).Retrieve(context.Background())

	require.ErrorContains(t, err, "ALIBABA_CLOUD_ECS_METADATA_DISABLED is true")
	require.False(t, isNotConfigured(err), "a profile that names an ECS role is configured")
}

func TestCLIProfileSTSErrorNamesProfile(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeCLIConfig(t, home)
	sts := newFakeSTS(t)
	sts.fail(http.StatusForbidden, `{"Code":"NoPermission","Message":"not allowed"}`)

	_, err := newTestCLIProvider(t, ProfileOptions{ProfileName: "role", STSEndpoint: sts.URL}).Retrieve(context.Background())

	require.ErrorContains(t, err, `CLI profile "role"`)
	require.ErrorContains(t, err, "NoPermission")
	requireNoSecret(t, err.Error())
}

func TestProfileOptionsValidation(t *testing.T) {
	_, err := NewCLIProfileCredentialsProvider(ProfileOptions{STSEndpoint: "https://sts.aliyuncs.com?x=1"})
	require.ErrorContains(t, err, "STSEndpoint")

	_, err = NewProfileCredentialsProvider(ProfileOptions{MetadataEndpoint: "localhost:80"})
	require.ErrorContains(t, err, "MetadataEndpoint")

	_, err = NewProfileCredentialsProvider(ProfileOptions{MetadataTimeout: -1})
	require.ErrorContains(t, err, "negative")
}

func TestProfileSTSEndpointFromRegion(t *testing.T) {
	isolateCredentialsEnv(t)
	opts := ProfileOptions{}
	require.Equal(t, "https://sts.aliyuncs.com", opts.stsEndpoint("", false))
	require.Equal(t, "https://sts-vpc.cn-beijing.aliyuncs.com", opts.stsEndpoint("cn-beijing", true))

	t.Setenv(envSTSRegion, "cn-shenzhen")
	t.Setenv(envVPCEndpointEnabled, "true")
	require.Equal(t, "https://sts-vpc.cn-shenzhen.aliyuncs.com", opts.stsEndpoint("", false))

	opts.STSEndpoint = "http://127.0.0.1:9"
	require.Equal(t, "http://127.0.0.1:9", opts.stsEndpoint("cn-beijing", true))
}
