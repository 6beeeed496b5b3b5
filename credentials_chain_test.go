package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// chainFixture configures every source of the default chain, each with a
// distinct AccessKey ID, against fake servers on 127.0.0.1.
type chainFixture struct {
	home     string
	sts      *fakeSTS
	metadata *fakeMetadata
	provider *DefaultCredentialsProvider
}

// newChainFixture configures all six sources and returns the chain.
func newChainFixture(t *testing.T) *chainFixture {
	t.Helper()
	f := &chainFixture{home: isolateCredentialsEnv(t)}
	f.sts = newFakeSTS(t)
	f.sts.configure(func(sts *fakeSTS) { sts.accessKeyID = "oidc-id" })
	f.metadata = newFakeMetadata(t)
	uri := newFakeURI(t, http.StatusOK, uriCredentialsBody("uri-id"))

	t.Setenv(envAccessKeyID, "env-id")
	t.Setenv(envAccessKeySecret, testSourceSecret)
	t.Setenv(envOIDCTokenFile, writeTestFile(t, t.TempDir(), "token", testOIDCToken))
	t.Setenv(envRoleARN, "acs:ram::1234567890:role/oidc")
	t.Setenv(envOIDCProviderARN, "acs:ram::1234567890:oidc-provider/test")
	writeTestFile(t, f.home, filepath.Join(".aliyun", "config.json"),
		`{"current":"main","profiles":[{"name":"main","mode":"AK","access_key_id":"cli-id","access_key_secret":"s"}]}`)
	writeTestFile(t, f.home, filepath.Join(".alibabacloud", "credentials"),
		"[default]\ntype = access_key\naccess_key_id = ini-id\naccess_key_secret = s\n")
	t.Setenv(envECSMetadataDisabled, "")
	t.Setenv(envCredentialsURI, uri.URL+"/creds")

	provider, err := NewDefaultCredentialsProvider(func(o *DefaultChainOptions) {
		o.STSEndpoint = f.sts.URL
		o.MetadataEndpoint = f.metadata.URL
	})
	require.NoError(t, err)
	f.provider = provider
	return f
}

func TestDefaultChainPrecedence(t *testing.T) {
	// Each step removes the source that won the step before.
	steps := []struct {
		wantID string
		remove func(t *testing.T, f *chainFixture)
	}{
		{"env-id", func(t *testing.T, f *chainFixture) {}},
		{"oidc-id", func(t *testing.T, f *chainFixture) {
			t.Setenv(envAccessKeyID, "")
			t.Setenv(envAccessKeySecret, "")
		}},
		{"cli-id", func(t *testing.T, f *chainFixture) { t.Setenv(envOIDCTokenFile, "") }},
		{"ini-id", func(t *testing.T, f *chainFixture) { t.Setenv(envCLIProfileDisabled, "true") }},
		{"STS.ecs-id", func(t *testing.T, f *chainFixture) {
			t.Setenv(envCredentialsFile, filepath.Join(f.home, "absent"))
		}},
		{"uri-id", func(t *testing.T, f *chainFixture) { t.Setenv(envECSMetadataDisabled, "true") }},
	}
	for i := range steps {
		t.Run(steps[i].wantID, func(t *testing.T) {
			f := newChainFixture(t)
			for _, step := range steps[:i+1] {
				step.remove(t, f)
			}

			creds, err := f.provider.Retrieve(context.Background())

			require.NoError(t, err)
			require.Equal(t, steps[i].wantID, creds.AccessKeyID)
		})
	}
}

func TestDefaultChainRemembersSource(t *testing.T) {
	f := newChainFixture(t)
	t.Setenv(envAccessKeyID, "")
	t.Setenv(envAccessKeySecret, "")
	t.Setenv(envOIDCTokenFile, "")

	first, err := f.provider.Retrieve(context.Background())
	require.NoError(t, err)
	t.Setenv(envAccessKeyID, "env-id")
	t.Setenv(envAccessKeySecret, testSourceSecret)
	second, err := f.provider.Retrieve(context.Background())
	require.NoError(t, err)

	require.Equal(t, "cli-id", first.AccessKeyID)
	require.Equal(t, "cli-id", second.AccessKeyID)
	require.Contains(t, f.provider.String(), "Selected: CLI profile")
}

func TestDefaultChainRememberedSourceFailure(t *testing.T) {
	f := newChainFixture(t)

	_, err := f.provider.Retrieve(context.Background())
	require.NoError(t, err)
	t.Setenv(envAccessKeySecret, "")
	_, err = f.provider.Retrieve(context.Background())

	require.ErrorContains(t, err, "environment variables: ALIBABA_CLOUD_ACCESS_KEY_ID is set")
	var noCreds *NoCredentialsError
	require.False(t, errors.As(err, &noCreds), "a remembered source does not fall back to the chain")
}

func TestDefaultChainReadsNothingAtConstruction(t *testing.T) {
	isolateCredentialsEnv(t)
	t.Setenv(envECSMetadataDisabled, "")
	metadata := newFakeMetadata(t)
	var uriHits atomic.Int32
	uri := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { uriHits.Add(1) }))
	t.Cleanup(uri.Close)
	t.Setenv(envCredentialsURI, uri.URL)

	_, err := NewDefaultCredentialsProvider(func(o *DefaultChainOptions) { o.MetadataEndpoint = metadata.URL })

	require.NoError(t, err)
	require.Empty(t, metadata.requests())
	require.Zero(t, uriHits.Load())
}

func TestDefaultChainListsEverySource(t *testing.T) {
	home := isolateCredentialsEnv(t)
	// Configure three sources badly, and leave the other three unset.
	t.Setenv(envAccessKeyID, "env-id")
	writeTestFile(t, home, filepath.Join(".alibabacloud", "credentials"),
		"[default]\ntype = access_key\naccess_key_id = ini-id\n")
	t.Setenv(envECSMetadataDisabled, "")
	metadata := newFakeMetadata(t)
	metadata.configure(func(f *fakeMetadata) { f.tokenCode = http.StatusInternalServerError })
	provider, err := NewDefaultCredentialsProvider(func(o *DefaultChainOptions) { o.MetadataEndpoint = metadata.URL })
	require.NoError(t, err)

	_, err = provider.Retrieve(context.Background())

	var noCreds *NoCredentialsError
	require.ErrorAs(t, err, &noCreds)
	require.Len(t, noCreds.Sources, 6)
	wants := []struct {
		source  string
		skipped bool
		reason  string
	}{
		{"environment variables", false, "ALIBABA_CLOUD_ACCESS_KEY_SECRET is empty"},
		{"OIDC role", true, "ALIBABA_CLOUD_OIDC_TOKEN_FILE is not set"},
		{"CLI profile", true, "config.json does not exist"},
		{"credentials file", false, "access_key_secret is empty"},
		{"ECS instance RAM role", false, "HTTP 500"},
		{"credentials URI", true, "ALIBABA_CLOUD_CREDENTIALS_URI is not set"},
	}
	for i, want := range wants {
		got := noCreds.Sources[i]
		require.Equal(t, want.source, got.Source)
		require.Equal(t, want.skipped, got.Skipped, "source %s", got.Source)
		require.ErrorContains(t, got.Err, want.reason)
	}

	oneLine := err.Error()
	require.NotContains(t, oneLine, "\n")
	require.Contains(t, oneLine, "CLI profile: skipped, ")
	require.Contains(t, oneLine, "ECS instance RAM role: failed, ")
	require.Contains(t, oneLine, "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET")

	multiLine := fmt.Sprintf("%+v", err)
	lines := strings.Split(multiLine, "\n")
	require.Len(t, lines, 8)
	require.True(t, strings.HasPrefix(lines[1], "  1. environment variables: failed, "))
	require.True(t, strings.HasPrefix(lines[6], "  6. credentials URI: skipped, "))
	require.Contains(t, lines[7], "aliyun configure")

	requireNoSecret(t, oneLine+multiLine)
}

func TestNoCredentialsErrorUnwrapsFailures(t *testing.T) {
	err := &NoCredentialsError{Sources: []CredentialsSourceResult{
		{Source: "a", Skipped: true, Err: errors.New("unset")},
		{Source: "b", Err: context.DeadlineExceeded},
	}}

	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, err.Unwrap(), 1)
}

func TestDefaultChainStopsWhenContextEnds(t *testing.T) {
	isolateCredentialsEnv(t)
	provider, err := NewDefaultCredentialsProvider()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err = provider.Retrieve(ctx)

	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "stopped at environment variables")
	var noCreds *NoCredentialsError
	require.False(t, errors.As(err, &noCreds))
}

func TestDefaultChainOptionsValidation(t *testing.T) {
	_, err := NewDefaultCredentialsProvider(func(o *DefaultChainOptions) { o.STSEndpoint = "sts.aliyuncs.com" })
	require.ErrorContains(t, err, "STSEndpoint")

	_, err = NewDefaultCredentialsProvider(func(o *DefaultChainOptions) { o.MetadataTimeout = -1 })
	require.ErrorContains(t, err, "negative")
}

func TestDefaultChainOIDCIncompleteFails(t *testing.T) {
	isolateCredentialsEnv(t)
	t.Setenv(envOIDCTokenFile, writeTestFile(t, t.TempDir(), "token", testOIDCToken))
	t.Setenv(envRoleARN, "acs:ram::1234567890:role/oidc")
	provider, err := NewDefaultCredentialsProvider()
	require.NoError(t, err)

	_, err = provider.Retrieve(context.Background())

	var noCreds *NoCredentialsError
	require.ErrorAs(t, err, &noCreds)
	oidc := noCreds.Sources[1]
	require.Equal(t, "OIDC role", oidc.Source)
	require.False(t, oidc.Skipped)
	require.ErrorContains(t, oidc.Err, "ALIBABA_CLOUD_OIDC_TOKEN_FILE is set but ALIBABA_CLOUD_OIDC_PROVIDER_ARN is not")
	requireNoSecret(t, err.Error())
}
