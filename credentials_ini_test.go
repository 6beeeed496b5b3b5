package cloudauth

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testINIFile is an INI credentials file with a section of each type.
const testINIFile = `
[default]
type = access_key
access_key_id = ini-ak-id
access_key_secret = ` + testSourceSecret + `#;kept

[role]
type = ram_role_arn                  # a comment after a space is stripped
access_key_id = src-id
access_key_secret = ` + testSourceSecret + `
role_arn = acs:ram::1234567890:role/ini-role
role_session_name = ini-session
policy = {"Version":"1","Statement":[{"Action":"cloudauth:*","Effect":"Allow","Resource":"*"}]}

[ecs]
type = ecs_ram_role
role_name = ecs-role

[discover]
type = ecs_ram_role

[half]
type = access_key
access_key_id = half-id

[bearer]
type = bearer
bearer_token = abc

[untyped]
access_key_id = x
`

// writeINIFile writes testINIFile to home/.alibabacloud/credentials.
func writeINIFile(t *testing.T, home string) string {
	t.Helper()
	return writeTestFile(t, home, filepath.Join(".alibabacloud", "credentials"), testINIFile)
}

// newTestINIProvider returns an INI profile provider.
func newTestINIProvider(t *testing.T, opts ProfileOptions) *ProfileCredentialsProvider {
	t.Helper()
	p, err := NewProfileCredentialsProvider(opts)
	require.NoError(t, err)
	return p
}

func TestINIProfileDefaultSection(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeINIFile(t, home)

	creds, err := newTestINIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "ini-ak-id", creds.AccessKeyID)
	require.Equal(t, testSourceSecret+"#;kept", creds.AccessKeySecret)
}

func TestINIProfileRAMRoleARNType(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeINIFile(t, home)
	t.Setenv(envProfile, "role")
	sts := newFakeSTS(t)

	creds, err := newTestINIProvider(t, ProfileOptions{STSEndpoint: sts.URL}).Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "STS.role-id", creds.AccessKeyID)
	form := sts.lastRequest()
	require.Equal(t, "acs:ram::1234567890:role/ini-role", form.Get("RoleArn"))
	require.Equal(t, "ini-session", form.Get("RoleSessionName"))
	require.Equal(t, "3600", form.Get("DurationSeconds"))
	require.Equal(t, `{"Version":"1","Statement":[{"Action":"cloudauth:*","Effect":"Allow","Resource":"*"}]}`, form.Get("Policy"))
}

func TestINIProfileECSRAMRoleType(t *testing.T) {
	tests := []struct {
		section string
		want    []string
	}{
		{"ecs", []string{
			"PUT /latest/api/token",
			"GET /latest/meta-data/ram/security-credentials/ecs-role",
		}},
		{"discover", []string{
			"PUT /latest/api/token",
			"GET /latest/meta-data/ram/security-credentials/",
			"GET /latest/meta-data/ram/security-credentials/ecs-role",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.section, func(t *testing.T) {
			home := isolateCredentialsEnv(t)
			writeINIFile(t, home)
			t.Setenv(envECSMetadataDisabled, "")
			metadata := newFakeMetadata(t)

			creds, err := newTestINIProvider(t, ProfileOptions{ProfileName: tt.section, MetadataEndpoint: metadata.URL}).
				Retrieve(context.Background())

			require.NoError(t, err)
			require.Equal(t, "STS.ecs-id", creds.AccessKeyID)
			require.Equal(t, time.Date(2099, 5, 6, 7, 8, 9, 0, time.UTC), creds.Expires)
			require.Equal(t, tt.want, metadata.requests())
		})
	}
}

func TestINIProfileFileFromEnv(t *testing.T) {
	isolateCredentialsEnv(t)
	t.Setenv(envCredentialsFile, writeTestFile(t, t.TempDir(), "creds.ini", testINIFile))

	creds, err := newTestINIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "ini-ak-id", creds.AccessKeyID)
}

func TestINIProfileErrors(t *testing.T) {
	tests := []struct {
		section string
		wantErr string
	}{
		{"nope", "has no section [nope] (sections: bearer, default, discover, ecs, half, role, untyped)"},
		{"half", "access_key_secret is empty"},
		{"bearer", `unsupported type "bearer"`},
		{"untyped", "type is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.section, func(t *testing.T) {
			home := isolateCredentialsEnv(t)
			writeINIFile(t, home)

			_, err := newTestINIProvider(t, ProfileOptions{ProfileName: tt.section}).Retrieve(context.Background())

			require.ErrorContains(t, err, tt.wantErr)
			require.False(t, isNotConfigured(err))
			requireNoSecret(t, err.Error())
		})
	}
}

func TestINIProfileSyntaxErrorHidesLine(t *testing.T) {
	home := isolateCredentialsEnv(t)
	writeTestFile(t, home, filepath.Join(".alibabacloud", "credentials"),
		"[default]\ntype = access_key\naccess_key_secret "+testSourceSecret+"\n")

	_, err := newTestINIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.ErrorContains(t, err, "invalid INI syntax")
	requireNoSecret(t, err.Error())
}

func TestINIProfileMissingDefaultFileIsNotConfigured(t *testing.T) {
	isolateCredentialsEnv(t)

	_, err := newTestINIProvider(t, ProfileOptions{}).Retrieve(context.Background())

	require.True(t, isNotConfigured(err))
}

func TestINIProfileMissingChosenFileFails(t *testing.T) {
	isolateCredentialsEnv(t)

	_, err := newTestINIProvider(t, ProfileOptions{File: filepath.Join(t.TempDir(), "absent")}).Retrieve(context.Background())

	require.Error(t, err)
	require.False(t, isNotConfigured(err))
}
