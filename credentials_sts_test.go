package cloudauth

import (
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newTestRAMRoleProvider returns an AssumeRole provider aimed at sts with
// the source AccessKey "src-id" and the given source token.
func newTestRAMRoleProvider(t *testing.T, sts *fakeSTS, sourceToken string, opts RAMRoleARNOptions) *RAMRoleARNCredentialsProvider {
	t.Helper()
	opts.STSEndpoint = sts.URL
	if opts.RoleARN == "" {
		opts.RoleARN = "acs:ram::1234567890:role/test-role"
	}
	p, err := NewRAMRoleARNCredentialsProvider(NewStaticCredentialsProvider("src-id", testSourceSecret, sourceToken), opts)
	require.NoError(t, err)
	return p
}

func TestRAMRoleARNSendsSignedAssumeRole(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	p := newTestRAMRoleProvider(t, sts, testSourceToken, RAMRoleARNOptions{
		RoleSessionName: "session-1",
		DurationSeconds: 1800,
		Policy:          `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		ExternalID:      testExternalID,
	})

	before := time.Now().UTC().Add(-time.Second)
	creds, err := p.Retrieve(context.Background())
	require.NoError(t, err)

	form := sts.lastRequest()
	require.Equal(t, independentSignatureV1(http.MethodPost, form, testSourceSecret), form.Get("Signature"))
	require.Equal(t, "AssumeRole", form.Get("Action"))
	require.Equal(t, "2015-04-01", form.Get("Version"))
	require.Equal(t, "JSON", form.Get("Format"))
	require.Equal(t, "acs:ram::1234567890:role/test-role", form.Get("RoleArn"))
	require.Equal(t, "session-1", form.Get("RoleSessionName"))
	require.Equal(t, "1800", form.Get("DurationSeconds"))
	require.Contains(t, form.Get("Policy"), `"Effect":"Allow"`)
	require.Equal(t, testExternalID, form.Get("ExternalId"))
	require.Equal(t, "src-id", form.Get("AccessKeyId"))
	require.Equal(t, "HMAC-SHA1", form.Get("SignatureMethod"))
	require.Equal(t, "1.0", form.Get("SignatureVersion"))
	require.Equal(t, testSourceToken, form.Get("SecurityToken"))

	nonce, err := hex.DecodeString(form.Get("SignatureNonce"))
	require.NoError(t, err)
	require.Len(t, nonce, 16)
	timestamp, err := time.Parse("2006-01-02T15:04:05Z", form.Get("Timestamp"))
	require.NoError(t, err)
	require.False(t, timestamp.Before(before.Truncate(time.Second)))
	require.False(t, timestamp.After(time.Now().UTC()))

	require.Equal(t, "STS.role-id", creds.AccessKeyID)
	require.Equal(t, testRoleSecret, creds.AccessKeySecret)
	require.Equal(t, testRoleToken, creds.SecurityToken)
	require.Equal(t, time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC), creds.Expires)
}

func TestRAMRoleARNOmitsOptionalParameters(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	p := newTestRAMRoleProvider(t, sts, "", RAMRoleARNOptions{})

	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)

	form := sts.lastRequest()
	for _, name := range []string{"SecurityToken", "Policy", "ExternalId"} {
		_, present := form[name]
		require.False(t, present, "parameter %s should be absent", name)
	}
	require.Equal(t, "3600", form.Get("DurationSeconds"))
	require.True(t, strings.HasPrefix(form.Get("RoleSessionName"), "cloudauth-go-"))
}

func TestRAMRoleARNNonceDiffersPerRequest(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	p := newTestRAMRoleProvider(t, sts, "", RAMRoleARNOptions{})

	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	first := sts.lastRequest().Get("SignatureNonce")
	_, err = p.Retrieve(context.Background())
	require.NoError(t, err)
	second := sts.lastRequest().Get("SignatureNonce")

	require.NotEqual(t, first, second)
}

func TestRAMRoleARNErrorHidesSecrets(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	// Alibaba Cloud quotes its string to sign in SignatureDoesNotMatch
	// messages, and that string contains the security token.
	sts.fail(http.StatusBadRequest, `{"RequestId":"req-9","Code":"SignatureDoesNotMatch",`+
		`"Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3D`+
		testSourceToken+`"}`)
	p := newTestRAMRoleProvider(t, sts, testSourceToken, RAMRoleARNOptions{ExternalID: testExternalID})

	_, err := p.Retrieve(context.Background())

	require.Error(t, err)
	message := err.Error()
	require.Contains(t, message, "STS AssumeRole")
	require.Contains(t, message, "HTTP 400")
	require.Contains(t, message, "SignatureDoesNotMatch")
	require.Contains(t, message, "req-9")
	require.NotContains(t, message, "Signature=")
	requireNoSecret(t, message)
}

func TestRAMRoleARNErrorRedactsEchoedToken(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	sts.fail(http.StatusForbidden, `{"Code":"InvalidSecurityToken.Expired","Message":"token `+testSourceToken+` expired"}`)
	p := newTestRAMRoleProvider(t, sts, testSourceToken, RAMRoleARNOptions{})

	_, err := p.Retrieve(context.Background())

	require.Error(t, err)
	require.Contains(t, err.Error(), "HTTP 403")
	require.Contains(t, err.Error(), "InvalidSecurityToken.Expired")
	require.Contains(t, err.Error(), "[REDACTED]")
	requireNoSecret(t, err.Error())
}

func TestRAMRoleARNRejectsMissingCredentials(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	sts.fail(http.StatusOK, `{"RequestId":"req-2"}`)
	p := newTestRAMRoleProvider(t, sts, "", RAMRoleARNOptions{})

	_, err := p.Retrieve(context.Background())

	require.ErrorContains(t, err, "lacks AccessKeyId")
	require.ErrorContains(t, err, "req-2")
}

func TestRAMRoleARNRejectsOversizedBody(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	sts.fail(http.StatusOK, strings.Repeat(" ", maxCredentialsResponseBytes+1))
	p := newTestRAMRoleProvider(t, sts, "", RAMRoleARNOptions{})

	_, err := p.Retrieve(context.Background())

	require.ErrorContains(t, err, "exceeds")
}

func TestRAMRoleARNSourceFailure(t *testing.T) {
	isolateCredentialsEnv(t)
	source := CredentialsProviderFunc(func(context.Context) (Credentials, error) {
		return Credentials{}, os.ErrPermission
	})
	p, err := NewRAMRoleARNCredentialsProvider(source, RAMRoleARNOptions{RoleARN: "acs:ram::1:role/r", STSEndpoint: "http://127.0.0.1:1"})
	require.NoError(t, err)

	_, err = p.Retrieve(context.Background())

	require.ErrorIs(t, err, os.ErrPermission)
	require.ErrorContains(t, err, "source credentials")
}

func TestRAMRoleARNTransportErrorNamesSource(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	p := newTestRAMRoleProvider(t, sts, testSourceToken, RAMRoleARNOptions{})
	sts.Close()

	_, err := p.Retrieve(context.Background())

	require.ErrorContains(t, err, "STS AssumeRole: POST "+sts.URL)
	requireNoSecret(t, err.Error())
}

func TestRAMRoleARNOptionsValidation(t *testing.T) {
	source := NewStaticCredentialsProvider("id", "secret", "")
	tests := []struct {
		name    string
		source  CredentialsProvider
		opts    RAMRoleARNOptions
		wantErr string
	}{
		{"nil source", nil, RAMRoleARNOptions{RoleARN: "r"}, "source provider is nil"},
		{"empty role", source, RAMRoleARNOptions{}, "RoleARN is empty"},
		{"short duration", source, RAMRoleARNOptions{RoleARN: "r", DurationSeconds: 899}, "below the STS minimum"},
		{"endpoint without scheme", source, RAMRoleARNOptions{RoleARN: "r", STSEndpoint: "sts.aliyuncs.com"}, "http:// or https://"},
		{"endpoint with path", source, RAMRoleARNOptions{RoleARN: "r", STSEndpoint: "https://sts.aliyuncs.com/x"}, "scheme and host only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRAMRoleARNCredentialsProvider(tt.source, tt.opts)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestOIDCRereadsTokenFileOnEachRetrieve(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	tokenFile := writeTestFile(t, t.TempDir(), "token", testOIDCToken+"-1\n")
	p, err := NewOIDCCredentialsProvider(OIDCOptions{
		RoleARN:         "acs:ram::1234567890:role/oidc-role",
		OIDCProviderARN: "acs:ram::1234567890:oidc-provider/test",
		OIDCTokenFile:   tokenFile,
		RoleSessionName: "oidc-session",
		Policy:          `{"Version":"1"}`,
		STSEndpoint:     sts.URL,
	})
	require.NoError(t, err)

	creds, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	first := sts.lastRequest()
	require.NoError(t, os.WriteFile(tokenFile, []byte(testOIDCToken+"-2"), 0o600))
	_, err = p.Retrieve(context.Background())
	require.NoError(t, err)
	second := sts.lastRequest()

	require.Equal(t, testOIDCToken+"-1", first.Get("OIDCToken"))
	require.Equal(t, testOIDCToken+"-2", second.Get("OIDCToken"))
	require.Equal(t, "AssumeRoleWithOIDC", first.Get("Action"))
	require.Equal(t, "2015-04-01", first.Get("Version"))
	require.Equal(t, "JSON", first.Get("Format"))
	require.Equal(t, "acs:ram::1234567890:role/oidc-role", first.Get("RoleArn"))
	require.Equal(t, "acs:ram::1234567890:oidc-provider/test", first.Get("OIDCProviderArn"))
	require.Equal(t, "oidc-session", first.Get("RoleSessionName"))
	require.Equal(t, "3600", first.Get("DurationSeconds"))
	require.Equal(t, `{"Version":"1"}`, first.Get("Policy"))
	require.Len(t, first.Get("SignatureNonce"), 32)
	require.NotEqual(t, first.Get("SignatureNonce"), second.Get("SignatureNonce"))
	_, err = time.Parse("2006-01-02T15:04:05Z", first.Get("Timestamp"))
	require.NoError(t, err)
	_, signed := first["Signature"]
	require.False(t, signed, "AssumeRoleWithOIDC must not be signed")
	_, hasKey := first["AccessKeyId"]
	require.False(t, hasKey)
	require.Equal(t, "STS.role-id", creds.AccessKeyID)
	require.Equal(t, testRoleToken, creds.SecurityToken)
}

func TestOIDCMissingTokenFile(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	p, err := NewOIDCCredentialsProvider(OIDCOptions{
		RoleARN:         "r",
		OIDCProviderARN: "p",
		OIDCTokenFile:   filepath.Join(t.TempDir(), "absent"),
		STSEndpoint:     sts.URL,
	})
	require.NoError(t, err)

	_, err = p.Retrieve(context.Background())

	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "OIDC token file")
	require.Equal(t, 0, sts.requestCount())
}

func TestOIDCErrorHidesToken(t *testing.T) {
	isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	sts.fail(http.StatusBadRequest, `{"Code":"InvalidParameter.OIDCToken","Message":"bad token `+testOIDCToken+`"}`)
	tokenFile := writeTestFile(t, t.TempDir(), "token", testOIDCToken)
	p, err := NewOIDCCredentialsProvider(OIDCOptions{RoleARN: "r", OIDCProviderARN: "p", OIDCTokenFile: tokenFile, STSEndpoint: sts.URL})
	require.NoError(t, err)

	_, err = p.Retrieve(context.Background())

	require.ErrorContains(t, err, "STS AssumeRoleWithOIDC")
	require.ErrorContains(t, err, "InvalidParameter.OIDCToken")
	requireNoSecret(t, err.Error())
}

func TestOIDCOptionsValidation(t *testing.T) {
	_, err := NewOIDCCredentialsProvider(OIDCOptions{RoleARN: "r"})
	require.ErrorContains(t, err, "OIDCProviderARN and OIDCTokenFile are empty")

	_, err = NewOIDCCredentialsProvider(OIDCOptions{RoleARN: "r", OIDCProviderARN: "p", OIDCTokenFile: "f", DurationSeconds: 60})
	require.ErrorContains(t, err, "below the STS minimum")
}

func TestSTSEndpointForRegion(t *testing.T) {
	require.Equal(t, "https://sts.aliyuncs.com", stsEndpointForRegion("", false))
	require.Equal(t, "https://sts.aliyuncs.com", stsEndpointForRegion("", true))
	require.Equal(t, "https://sts.cn-shanghai.aliyuncs.com", stsEndpointForRegion("cn-shanghai", false))
	require.Equal(t, "https://sts-vpc.cn-shanghai.aliyuncs.com", stsEndpointForRegion("cn-shanghai", true))
}
