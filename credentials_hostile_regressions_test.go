package cloudauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redirectTo returns a handler that redirects every request to target with
// status, keeping the method and body for 307.
func redirectTo(status int, target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, status)
	}
}

func TestCredentialsRedirectNotFollowed(t *testing.T) {
	t.Run("OIDC token replayed by 307", func(t *testing.T) {
		home := isolateCredentialsEnv(t)
		witness := newWitnessServer(t)
		sts := newHandlerServer(t, redirectTo(http.StatusTemporaryRedirect, witness.URL+"/"))
		p, err := NewOIDCCredentialsProvider(OIDCOptions{
			RoleARN: "r", OIDCProviderARN: "p",
			OIDCTokenFile: writeTestFile(t, home, "token", testOIDCToken),
			STSEndpoint:   sts.URL,
		})
		require.NoError(t, err)

		creds, err := p.Retrieve(context.Background())
		assert.Error(t, err, "credentials came from the redirect target: %v", creds)
		for _, request := range witness.received() {
			assert.NotContains(t, request.body, testOIDCToken, "the OIDC token was posted to another server")
		}
		assert.Empty(t, witness.received())
	})

	t.Run("signed AssumeRole replayed by 307", func(t *testing.T) {
		isolateCredentialsEnv(t)
		witness := newWitnessServer(t)
		sts := newHandlerServer(t, redirectTo(http.StatusTemporaryRedirect, witness.URL+"/"))
		source := NewStaticCredentialsProvider("src-id", testSourceSecret, testSourceToken)
		p, err := NewRAMRoleARNCredentialsProvider(source, RAMRoleARNOptions{
			RoleARN: "acs:ram::1:role/r", ExternalID: testExternalID, STSEndpoint: sts.URL,
		})
		require.NoError(t, err)

		creds, err := p.Retrieve(context.Background())
		assert.Error(t, err, "credentials came from the redirect target: %v", creds)
		for _, request := range witness.received() {
			form, _ := url.ParseQuery(request.body)
			assert.Empty(t, form.Get("SecurityToken"), "the source security token was posted to another server")
			assert.Empty(t, form.Get("ExternalId"), "the external ID was posted to another server")
		}
		assert.Empty(t, witness.received())
	})

	t.Run("metadata token forwarded by 302", func(t *testing.T) {
		isolateCredentialsEnv(t)
		witness := newWitnessServer(t)
		m := &hostileMetadata{
			token:       writeText(http.StatusOK, "imds-secret-token"),
			credentials: redirectTo(http.StatusFound, witness.URL+"/creds"),
		}
		p := startHostileMetadata(t, m, "ecs-role", time.Second)

		creds, err := p.Retrieve(context.Background())
		assert.Error(t, err, "credentials came from the redirect target: %v", creds)
		for _, request := range witness.received() {
			assert.Empty(t, request.header.Get(metadataTokenHeader), "the IMDSv2 token was sent to another server")
		}
		assert.Empty(t, witness.received())
	})
}

func TestCredentialsZeroExpirationRejected(t *testing.T) {
	// A Go service that never sets its time.Time field marshals it as
	// 0001-01-01T00:00:00Z. That is a timestamp two thousand years in the
	// past, but Credentials reads the zero time as "never expires".
	const zero = "0001-01-01T00:00:00Z"

	t.Run("credentials URI", func(t *testing.T) {
		isolateCredentialsEnv(t)
		server := newFakeURI(t, http.StatusOK, uriBody(zero))
		creds, err := newURIProviderFor(t, server).Retrieve(context.Background())
		if err == nil {
			assert.False(t, creds.Expires.IsZero(), "STS credentials with Expiration %s are cached for good", zero)
		}
	})

	t.Run("STS", func(t *testing.T) {
		isolateCredentialsEnv(t)
		sts := newFakeSTS(t)
		sts.configure(func(f *fakeSTS) { f.expiration = zero })
		source := NewStaticCredentialsProvider("src-id", testSourceSecret, "")
		p, err := NewRAMRoleARNCredentialsProvider(source, RAMRoleARNOptions{RoleARN: "acs:ram::1:role/r", STSEndpoint: sts.URL})
		require.NoError(t, err)
		creds, err := p.Retrieve(context.Background())
		if err == nil {
			assert.False(t, creds.Expires.IsZero(), "STS credentials with Expiration %s are cached for good", zero)
		}
	})

	t.Run("client keeps refreshing", func(t *testing.T) {
		isolateCredentialsEnv(t)
		server := newFakeURI(t, http.StatusOK, uriBody(zero))
		clock := newFakeClock()
		cache := newCredentialsCache(newURIProviderFor(t, server), nil, clock.Now)
		_, _ = cache.Retrieve(context.Background())
		// Ten years later the temporary credentials are still served.
		clock.Advance(10 * 365 * 24 * time.Hour)
		creds, err := cache.Retrieve(context.Background())
		if err == nil {
			assert.False(t, creds.Expires.IsZero(), "temporary credentials never refreshed")
		}
	})
}

func TestCacheShortLivedCredentialsNotRefetchedPerCall(t *testing.T) {
	// A sidecar that hands out the same credentials until they expire
	// returns credentials inside the 5-minute refresh margin for the last
	// 5 minutes of their life.
	clock := newFakeClock()
	expires := clock.Now().Add(2 * time.Minute)
	provider := &scriptedProvider{next: func(int32) (Credentials, error) {
		return expiringCreds("id", expires), nil
	}}
	cache := newCredentialsCache(provider, nil, clock.Now)

	const calls = 50
	for range calls {
		_, err := cache.Retrieve(context.Background())
		require.NoError(t, err)
	}
	// The clock does not move, so one call to the source is enough. It
	// must not be called again on every Retrieve.
	assert.LessOrEqual(t, provider.calls.Load(), int32(2),
		"the provider was called %d times for %d calls at the same instant", provider.calls.Load(), calls)
}

func TestCredentialsServiceMessageRedactsSentValues(t *testing.T) {
	t.Run("STS echoes the external ID", func(t *testing.T) {
		isolateCredentialsEnv(t)
		sts := newSTSResponder(t, http.StatusBadRequest,
			`{"Code":"InvalidParameter.ExternalId","Message":"ExternalId `+testExternalID+` does not match the trust policy"}`)
		source := NewStaticCredentialsProvider("src-id", testSourceSecret, testSourceToken)
		p, err := NewRAMRoleARNCredentialsProvider(source, RAMRoleARNOptions{
			RoleARN: "acs:ram::1:role/r", ExternalID: testExternalID, STSEndpoint: sts.URL,
		})
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background())
		require.Error(t, err)
		assert.NotContains(t, err.Error(), testExternalID)
	})

	t.Run("credentials URI echoes its query", func(t *testing.T) {
		isolateCredentialsEnv(t)
		for _, status := range []int{http.StatusForbidden, http.StatusOK} {
			server := newFakeURI(t, status,
				`{"Code":"InvalidToken","Message":"token `+testURIQuery+` has expired"}`)
			_, err := newURIProviderFor(t, server).Retrieve(context.Background())
			require.Error(t, err)
			assert.NotContains(t, err.Error(), testURIQuery, "HTTP %d", status)
		}
	})

	t.Run("metadata echoes its session token", func(t *testing.T) {
		isolateCredentialsEnv(t)
		const sessionToken = "IMDS-SESSION-TOKEN-77aa01"
		m := &hostileMetadata{
			token: writeText(http.StatusOK, sessionToken),
			credentials: writeText(http.StatusForbidden,
				`{"Code":"Forbidden","Message":"token `+sessionToken+` is not allowed"}`),
		}
		p := startHostileMetadata(t, m, "ecs-role", time.Second)
		_, err := p.Retrieve(context.Background())
		require.Error(t, err)
		assert.NotContains(t, err.Error(), sessionToken)
	})
}

func TestNoCredentialsErrorOneBoundedLine(t *testing.T) {
	// An STS, metadata service or credentials URI that is hostile or
	// broken chooses Code, Message and RequestId. The chain's Error is
	// documented as a single line for logs.
	cases := []struct {
		name string
		body string
	}{
		{name: "newline in message", body: `{"Code":"Bad","Message":"first\nlevel=ERROR msg=\"forged entry\""}`},
		{name: "newline in code", body: `{"Code":"Bad\nlevel=ERROR msg=forged","Message":"m"}`},
		{name: "newline in request ID", body: `{"Code":"Bad","RequestId":"r\r\nforged","Message":"m"}`},
		{name: "escape sequence", body: `{"Code":"Bad\u001b[2J","Message":"m"}`},
		{name: "huge code", body: `{"Code":"` + strings.Repeat("C", 200_000) + `","Message":"m"}`},
		{name: "huge request ID", body: `{"Code":"Bad","RequestId":"` + strings.Repeat("R", 200_000) + `"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := isolateCredentialsEnv(t)
			sts := newSTSResponder(t, http.StatusBadRequest, tc.body)
			t.Setenv(envOIDCTokenFile, writeTestFile(t, home, "token", testOIDCToken))
			t.Setenv(envRoleARN, "acs:ram::1:role/r")
			t.Setenv(envOIDCProviderARN, "acs:ram::1:oidc-provider/p")
			chain, err := NewDefaultCredentialsProvider(func(o *DefaultChainOptions) { o.STSEndpoint = sts.URL })
			require.NoError(t, err)

			_, err = chain.Retrieve(context.Background())
			var noCreds *NoCredentialsError
			require.ErrorAs(t, err, &noCreds)
			text := err.Error()
			assert.NotContains(t, text, "\n")
			assert.NotContains(t, text, "\r")
			assert.NotContains(t, text, "\x1b")
			assert.Less(t, len(text), 8<<10, "error text is %d bytes long", len(text))
		})
	}

	t.Run("huge expiration echoed", func(t *testing.T) {
		isolateCredentialsEnv(t)
		server := newFakeURI(t, http.StatusOK, uriBody(strings.Repeat("9", 200_000)))
		_, err := newURIProviderFor(t, server).Retrieve(context.Background())
		require.Error(t, err)
		assert.Less(t, len(err.Error()), 8<<10, "error text is %d bytes long", len(err.Error()))
	})
}

func TestServiceMessageTruncatedOnRuneBoundary(t *testing.T) {
	// 299 ASCII bytes and then a 3-byte rune straddle the 300-byte cut.
	message := strings.Repeat("a", maxServiceMessageLength-1) + "验证失败"
	got := sanitizeServiceMessage(message)
	assert.True(t, utf8.ValidString(got), "truncated message is not valid UTF-8: %q", got[len(got)-8:])
}

func TestEnvWhitespaceHandled(t *testing.T) {
	t.Run("metadata switch with trailing space", func(t *testing.T) {
		isolateCredentialsEnv(t)
		// A Windows `set NAME=true ` keeps the trailing space, and so do
		// many YAML and .env editors.
		m := &hostileMetadata{}
		server := newHandlerServer(t, m.serve)
		m.token = writeText(http.StatusOK, "tok")
		m.roles = writeText(http.StatusOK, "ecs-role")
		m.credentials = writeText(http.StatusOK, metadataCredentialsBody)
		t.Setenv(envECSMetadataDisabled, "true ")

		chain, err := NewDefaultCredentialsProvider(func(o *DefaultChainOptions) { o.MetadataEndpoint = server.URL })
		require.NoError(t, err)
		_, _ = chain.Retrieve(context.Background())
		assert.Empty(t, m.requests(), "the metadata service was contacted although %s is %q", envECSMetadataDisabled, "true ")
	})

	t.Run("AccessKey ID with surrounding whitespace", func(t *testing.T) {
		isolateCredentialsEnv(t)
		t.Setenv(envAccessKeyID, "  LTAI-env-id ")
		t.Setenv(envAccessKeySecret, testSourceSecret)
		creds, err := NewEnvCredentialsProvider().Retrieve(context.Background())
		if err == nil {
			// A padded ID would be rejected as an unknown AccessKey, so
			// the environment provider trims it as the INI provider does.
			assert.Equal(t, "LTAI-env-id", creds.AccessKeyID)
		}
	})
}

func TestOptionStructsHideSecrets(t *testing.T) {
	const externalID = "external-id-secret-4821"
	const query = "token=uri-secret-77"
	values := []any{
		RAMRoleARNOptions{RoleARN: "acs:ram::1:role/r", ExternalID: externalID},
		&RAMRoleARNOptions{ExternalID: externalID},
		URIOptions{URI: "http://127.0.0.1:9/creds?" + query},
		URIOptions{URI: "http://[::1/creds?" + query},
	}
	for _, value := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			text := fmt.Sprintf(verb, value)
			assert.NotContains(t, text, externalID, "%s of %T", verb, value)
			assert.NotContains(t, text, "uri-secret-77", "%s of %T", verb, value)
		}
	}
	assert.Contains(t, fmt.Sprintf("%+v", values[0]), "acs:ram::1:role/r")
}
