package cloudauth

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProvidersPrintNoSecret formats every provider, and the cache holding
// credentials, with each fmt verb and with slog, and checks that no secret
// or token appears.
func TestProvidersPrintNoSecret(t *testing.T) {
	home := isolateCredentialsEnv(t)
	static := NewStaticCredentialsProvider("src-id", testSourceSecret, testSourceToken)
	sts := newFakeSTS(t)

	ramRole, err := NewRAMRoleARNCredentialsProvider(static, RAMRoleARNOptions{
		RoleARN:     "acs:ram::1234567890:role/r",
		ExternalID:  testExternalID,
		STSEndpoint: sts.URL,
	})
	require.NoError(t, err)
	oidc, err := NewOIDCCredentialsProvider(OIDCOptions{
		RoleARN:         "r",
		OIDCProviderARN: "p",
		OIDCTokenFile:   writeTestFile(t, home, "token", testOIDCToken),
		STSEndpoint:     sts.URL,
	})
	require.NoError(t, err)
	ecs, err := NewECSRAMRoleCredentialsProvider(ECSRAMRoleOptions{MetadataEndpoint: "http://127.0.0.1:9"})
	require.NoError(t, err)
	uri, err := NewURICredentialsProvider(URIOptions{URI: "http://user:" + testURIQuery + "@127.0.0.1:9/creds?sig=" + testURIQuery})
	require.NoError(t, err)
	cli, err := NewCLIProfileCredentialsProvider(ProfileOptions{File: filepath.Join(home, "config.json")})
	require.NoError(t, err)
	ini, err := NewProfileCredentialsProvider(ProfileOptions{File: filepath.Join(home, "credentials")})
	require.NoError(t, err)
	chain, err := NewDefaultCredentialsProvider()
	require.NoError(t, err)

	// The caches hold credentials that carry every secret.
	cachedRole := newCredentialsCache(ramRole, nil, nil)
	_, err = cachedRole.Retrieve(context.Background())
	require.NoError(t, err)
	cachedStatic := newCredentialsCache(static, nil, nil)
	_, err = cachedStatic.Retrieve(context.Background())
	require.NoError(t, err)

	providers := map[string]any{
		"static":        static,
		"env":           NewEnvCredentialsProvider(),
		"ram role":      ramRole,
		"oidc":          oidc,
		"ecs":           ecs,
		"uri":           uri,
		"cli profile":   cli,
		"ini profile":   ini,
		"default chain": chain,
		"cached role":   cachedRole,
		"cached static": cachedStatic,
	}
	for name, p := range providers {
		t.Run(name, func(t *testing.T) {
			printed := fmt.Sprintf("%v %+v %#v %s %q", p, p, p, p, p)
			requireNoSecret(t, printed)
			require.NotContains(t, printed, "0x", "printed a pointer instead of the provider")

			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("provider", "p", p)
			requireNoSecret(t, logs.String())
		})
	}
}

func TestProvidersPrintUsefulText(t *testing.T) {
	isolateCredentialsEnv(t)
	uri, err := NewURICredentialsProvider(URIOptions{URI: "https://creds.internal/v1?sig=" + testURIQuery})
	require.NoError(t, err)
	ramRole, err := NewRAMRoleARNCredentialsProvider(NewStaticCredentialsProvider("id", testSourceSecret, ""),
		RAMRoleARNOptions{RoleARN: "acs:ram::1:role/r", ExternalID: testExternalID, RoleSessionName: "s"})
	require.NoError(t, err)

	require.Equal(t, "URICredentialsProvider{URI: https://creds.internal/v1?[REDACTED]}", fmt.Sprint(uri))
	require.Equal(t, "&cloudauth.URICredentialsProvider{URI: https://creds.internal/v1?[REDACTED]}", fmt.Sprintf("%#v", uri))
	require.Equal(t,
		"RAMRoleARNCredentialsProvider{RoleARN: acs:ram::1:role/r, RoleSessionName: s, DurationSeconds: 3600, "+
			"ExternalID: [REDACTED], STSEndpoint: https://sts.aliyuncs.com, Source: *cloudauth.StaticCredentialsProvider}",
		fmt.Sprint(ramRole))
}

func TestRequestErrorsHideSecrets(t *testing.T) {
	isolateCredentialsEnv(t)
	t.Setenv(envECSMetadataDisabled, "")
	metadata := newFakeMetadata(t)
	metadata.configure(func(f *fakeMetadata) { f.code = "Expired" })
	ecs, err := NewECSRAMRoleCredentialsProvider(ECSRAMRoleOptions{MetadataEndpoint: metadata.URL, Timeout: time.Second})
	require.NoError(t, err)

	_, err = ecs.Retrieve(context.Background())

	require.Error(t, err)
	requireNoSecret(t, err.Error())
	requireNoSecret(t, fmt.Sprintf("%+v", err))
}

func TestSanitizeServiceMessage(t *testing.T) {
	encodedTwice := PercentEncode(PercentEncode(testSourceToken + "/+="))
	message := "bad token " + testSourceToken + "/+= and " + encodedTwice

	cleaned := sanitizeServiceMessage(message, testSourceToken+"/+=")

	require.Equal(t, "bad token [REDACTED] and [REDACTED]", cleaned)
	require.Equal(t, "Specified signature is not matched. [string to sign removed]",
		sanitizeServiceMessage("Specified signature is not matched. Server String to sign is: POST&x", ""))
	require.Len(t, sanitizeServiceMessage(string(bytes.Repeat([]byte("a"), 1000))), maxServiceMessageLength+3)
}

func TestCredentialsRequestErrorText(t *testing.T) {
	err := &credentialsRequestError{
		Source:     "STS AssumeRole",
		URL:        "https://sts.aliyuncs.com/",
		StatusCode: http.StatusForbidden,
		Code:       "NoPermission",
		RequestID:  "req-1",
		Message:    "You are not authorized",
	}

	require.Equal(t, "STS AssumeRole: https://sts.aliyuncs.com/ returned HTTP 403 Forbidden, code NoPermission, "+
		"request ID req-1: You are not authorized", err.Error())
}
