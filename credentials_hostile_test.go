package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// witnessServer is a second server on 127.0.0.1 that stands for another
// host. It records every request it receives, so a test can assert that no
// provider sends anything there.
type witnessServer struct {
	*httptest.Server

	mu       sync.Mutex
	requests []witnessedRequest
}

// witnessedRequest is what a witnessServer recorded of one request.
type witnessedRequest struct {
	method string
	header http.Header
	body   string
}

// newWitnessServer starts a witnessServer that responds to every request
// with valid STS-shaped credentials, as a hostile host would.
func newWitnessServer(t *testing.T) *witnessServer {
	t.Helper()
	w := &witnessServer{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.requests = append(w.requests, witnessedRequest{r.Method, r.Header.Clone(), string(body)})
		w.mu.Unlock()
		writeJSON(t, rw, map[string]any{
			"Code":            "Success",
			"AccessKeyId":     "STS.witness-id",
			"AccessKeySecret": testRoleSecret,
			"SecurityToken":   testRoleToken,
			"Expiration":      "2099-01-01T00:00:00Z",
			"Credentials": map[string]string{
				"AccessKeyId":     "STS.witness-id",
				"AccessKeySecret": testRoleSecret,
				"SecurityToken":   testRoleToken,
				"Expiration":      "2099-01-01T00:00:00Z",
			},
		})
	}))
	t.Cleanup(w.Close)
	return w
}

// received returns the requests recorded so far.
func (w *witnessServer) received() []witnessedRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]witnessedRequest(nil), w.requests...)
}

// newHandlerServer starts a server on 127.0.0.1 that serves handler.
func newHandlerServer(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	return server
}

// newURIProviderFor returns a URI provider aimed at server with a query
// that carries testURIQuery.
func newURIProviderFor(t *testing.T, server *httptest.Server) *URICredentialsProvider {
	t.Helper()
	p, err := NewURICredentialsProvider(URIOptions{URI: server.URL + "/creds?token=" + testURIQuery})
	require.NoError(t, err)
	return p
}

// uriBody returns a credentials URI response with the given Expiration.
func uriBody(expiration string) string {
	return `{"Code":"Success","AccessKeyId":"uri-id","AccessKeySecret":"` + testRoleSecret +
		`","SecurityToken":"` + testRoleToken + `","Expiration":"` + expiration + `"}`
}

func TestHostileCredentialsExpirationFormats(t *testing.T) {
	cases := []struct {
		name       string
		expiration string
		wantErr    bool
		want       time.Time
	}{
		{name: "Z", expiration: "2099-01-02T03:04:05Z", want: time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)},
		{name: "milliseconds", expiration: "2099-01-02T03:04:05.678Z",
			want: time.Date(2099, 1, 2, 3, 4, 5, 678e6, time.UTC)},
		{name: "offset", expiration: "2099-01-02T11:04:05+08:00", want: time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)},
		{name: "far future", expiration: "9999-12-31T23:59:59Z", want: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{name: "no zone", expiration: "2099-01-02T03:04:05", wantErr: true},
		{name: "space separator", expiration: "2099-01-02 03:04:05", wantErr: true},
		{name: "unix seconds as text", expiration: "4070908800", wantErr: true},
		{name: "empty", expiration: "", wantErr: true},
		{name: "garbage", expiration: "tomorrow", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateCredentialsEnv(t)
			server := newFakeURI(t, http.StatusOK, uriBody(tc.expiration))
			creds, err := newURIProviderFor(t, server).Retrieve(context.Background())
			if tc.wantErr {
				require.Error(t, err)
				require.Contains(t, err.Error(), "Expiration")
				requireNoSecret(t, err.Error())
				return
			}
			require.NoError(t, err)
			require.True(t, creds.Expires.Equal(tc.want), "Expires = %v, want %v", creds.Expires, tc.want)
		})
	}
}

func TestHostileCredentialsExpirationInPast(t *testing.T) {
	isolateCredentialsEnv(t)
	server := newFakeURI(t, http.StatusOK, uriBody("2001-01-01T00:00:00Z"))
	provider := newURIProviderFor(t, server)
	client, err := NewClient(WithCredentials(provider), WithEndpoint("http://127.0.0.1:9"))
	require.NoError(t, err)

	_, err = client.retrieveCredentials(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "expired")
	requireNoSecret(t, err.Error())
}

func TestHostileURIResponses(t *testing.T) {
	huge := strings.Repeat("x", maxCredentialsResponseBytes+10)
	cases := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{name: "5xx", status: http.StatusBadGateway, body: "<html>bad gateway</html>", wantErr: "HTTP 502"},
		{name: "HTML 200", status: http.StatusOK, body: "<html><body>login</body></html>", wantErr: "invalid JSON"},
		{name: "truncated JSON", status: http.StatusOK, body: uriBody("2099-01-01T00:00:00Z")[:40], wantErr: "invalid JSON"},
		{name: "missing secret", status: http.StatusOK,
			body: `{"Code":"Success","AccessKeyId":"a","Expiration":"2099-01-01T00:00:00Z"}`, wantErr: "lacks"},
		{name: "code not success", status: http.StatusOK,
			body:    `{"Code":"Forbidden","Message":"no","AccessKeyId":"a","AccessKeySecret":"` + testRoleSecret + `"}`,
			wantErr: "Forbidden"},
		{name: "code lower case success", status: http.StatusOK,
			body: strings.Replace(uriBody("2099-01-01T00:00:00Z"), `"Success"`, `"success"`, 1), wantErr: "success"},
		{name: "huge body", status: http.StatusOK, body: huge, wantErr: "limit"},
		{name: "empty body", status: http.StatusOK, body: "", wantErr: "invalid JSON"},
		{name: "JSON null", status: http.StatusOK, body: "null", wantErr: "lacks"},
		{name: "wrong types", status: http.StatusOK,
			body: `{"AccessKeyId":1,"AccessKeySecret":true,"Expiration":4070908800}`, wantErr: "invalid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateCredentialsEnv(t)
			server := newFakeURI(t, tc.status, tc.body)
			_, err := newURIProviderFor(t, server).Retrieve(context.Background())
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			requireNoSecret(t, err.Error())
			require.Less(t, len(err.Error()), 2048)
		})
	}
}

func TestHostileURISlowServerHonorsContext(t *testing.T) {
	isolateCredentialsEnv(t)
	release := make(chan struct{})
	server := newHandlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newURIProviderFor(t, server).Retrieve(ctx)
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	requireNoSecret(t, err.Error())
}

// newSTSResponder starts an STS stand-in that responds to every request
// with status and body.
func newSTSResponder(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	return newHandlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

func TestHostileSTSResponses(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{name: "5xx HTML", status: http.StatusServiceUnavailable, body: "<html>down</html>", wantErr: "HTTP 503"},
		{name: "HTML 200", status: http.StatusOK, body: "<html>hi</html>", wantErr: "invalid JSON"},
		{name: "truncated", status: http.StatusOK, body: `{"RequestId":"r","Credentials":{"AccessKeyId":"a"`, wantErr: "invalid JSON"},
		{name: "no credentials", status: http.StatusOK, body: `{"RequestId":"r-1"}`, wantErr: "r-1"},
		{name: "null credentials", status: http.StatusOK, body: `{"RequestId":"r","Credentials":null}`, wantErr: "lacks"},
		{name: "missing token", status: http.StatusOK,
			body: `{"Credentials":{"AccessKeyId":"a","AccessKeySecret":"b","Expiration":"2099-01-01T00:00:00Z"}}`, wantErr: "lacks"},
		{name: "bad expiration", status: http.StatusOK,
			body:    `{"Credentials":{"AccessKeyId":"a","AccessKeySecret":"b","SecurityToken":"c","Expiration":"soon"}}`,
			wantErr: "Expiration"},
		{name: "string to sign echoed", status: http.StatusBadRequest,
			body: `{"Code":"SignatureDoesNotMatch","Message":"mismatch. server string to sign is:POST&%2F&OIDCToken%3D` +
				testOIDCToken + `"}`, wantErr: "SignatureDoesNotMatch"},
		{name: "token echoed", status: http.StatusBadRequest,
			body:    `{"Code":"InvalidParameter.OIDCToken","Message":"bad token ` + testOIDCToken + `"}`,
			wantErr: "InvalidParameter.OIDCToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := isolateCredentialsEnv(t)
			server := newSTSResponder(t, tc.status, tc.body)
			p, err := NewOIDCCredentialsProvider(OIDCOptions{
				RoleARN:         "acs:ram::1:role/r",
				OIDCProviderARN: "acs:ram::1:oidc-provider/p",
				OIDCTokenFile:   writeTestFile(t, home, "token", testOIDCToken+"\n"),
				STSEndpoint:     server.URL,
			})
			require.NoError(t, err)
			_, err = p.Retrieve(context.Background())
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			requireNoSecret(t, err.Error())
		})
	}
}

func TestHostileOIDCTokenFile(t *testing.T) {
	cases := []struct {
		name    string
		content *string // nil means the file does not exist
		wantErr string
	}{
		{name: "missing", content: nil, wantErr: "read OIDC token file"},
		{name: "empty", content: ptr(""), wantErr: "is empty"},
		{name: "only whitespace", content: ptr(" \r\n\t\n"), wantErr: "is empty"},
		{name: "huge", content: ptr(strings.Repeat("a", maxCredentialsResponseBytes+1)), wantErr: "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := isolateCredentialsEnv(t)
			sts := newFakeSTS(t)
			path := filepath.Join(home, "token")
			if tc.content != nil {
				writeTestFile(t, home, "token", *tc.content)
			}
			p, err := NewOIDCCredentialsProvider(OIDCOptions{
				RoleARN: "r", OIDCProviderARN: "p", OIDCTokenFile: path, STSEndpoint: sts.URL,
			})
			require.NoError(t, err)
			_, err = p.Retrieve(context.Background())
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			require.Zero(t, sts.requestCount(), "nothing may be sent without a token")
			require.Less(t, len(err.Error()), 1024)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestHostileOIDCTokenRotation(t *testing.T) {
	home := isolateCredentialsEnv(t)
	sts := newFakeSTS(t)
	path := writeTestFile(t, home, "token", "token-one\r\n")
	p, err := NewOIDCCredentialsProvider(OIDCOptions{
		RoleARN: "r", OIDCProviderARN: "p", OIDCTokenFile: path, STSEndpoint: sts.URL,
	})
	require.NoError(t, err)

	_, err = p.Retrieve(context.Background())
	require.NoError(t, err)
	require.Equal(t, "token-one", sts.lastRequest().Get("OIDCToken"))

	// Kubernetes replaces the file through a renamed symlink, which looks
	// the same as a rename to the reader.
	next := writeTestFile(t, home, "token.next", "token-two")
	require.NoError(t, os.Rename(next, path))
	_, err = p.Retrieve(context.Background())
	require.NoError(t, err)
	require.Equal(t, "token-two", sts.lastRequest().Get("OIDCToken"))

	require.NoError(t, os.Remove(path))
	_, err = p.Retrieve(context.Background())
	require.Error(t, err)
	require.Equal(t, 2, sts.requestCount())
}

// hostileMetadata is a metadata stand-in whose token, role list and
// credentials responses each come from a function.
type hostileMetadata struct {
	token       func(w http.ResponseWriter, r *http.Request)
	roles       func(w http.ResponseWriter, r *http.Request)
	credentials func(w http.ResponseWriter, r *http.Request)

	mu    sync.Mutex
	paths []string
}

func (m *hostileMetadata) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.paths = append(m.paths, r.Method+" "+r.URL.EscapedPath())
	m.mu.Unlock()
	switch {
	case r.Method == http.MethodPut && r.URL.Path == metadataTokenPath:
		m.token(w, r)
	case r.URL.Path == metadataCredentialsPath:
		m.roles(w, r)
	default:
		m.credentials(w, r)
	}
}

func (m *hostileMetadata) requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.paths...)
}

// writeText returns a handler that writes status and body.
func writeText(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// metadataCredentialsBody is a successful metadata credentials response.
const metadataCredentialsBody = `{"Code":"Success","AccessKeyId":"STS.ecs","AccessKeySecret":"` + testRoleSecret +
	`","SecurityToken":"` + testRoleToken + `","Expiration":"2099-01-01T00:00:00Z"}`

// startHostileMetadata serves m on 127.0.0.1 and returns an ECS provider
// aimed at it, with the metadata switch turned back on for this test.
func startHostileMetadata(t *testing.T, m *hostileMetadata, role string, timeout time.Duration) *ECSRAMRoleCredentialsProvider {
	t.Helper()
	if m.token == nil {
		m.token = writeText(http.StatusOK, "tok")
	}
	if m.roles == nil {
		m.roles = writeText(http.StatusOK, "ecs-role")
	}
	if m.credentials == nil {
		m.credentials = writeText(http.StatusOK, metadataCredentialsBody)
	}
	server := newHandlerServer(t, m.serve)
	t.Setenv(envECSMetadataDisabled, "")
	p, err := NewECSRAMRoleCredentialsProvider(ECSRAMRoleOptions{
		RoleName: role, MetadataEndpoint: server.URL, Timeout: timeout,
	})
	require.NoError(t, err)
	return p
}

func TestHostileMetadataTokenFailures(t *testing.T) {
	cases := []struct {
		name  string
		token func(http.ResponseWriter, *http.Request)
	}{
		{name: "403", token: writeText(http.StatusForbidden, "")},
		{name: "404 IMDSv1 only", token: writeText(http.StatusNotFound, "")},
		{name: "500 HTML", token: writeText(http.StatusInternalServerError, "<html>oops</html>")},
		{name: "empty token", token: writeText(http.StatusOK, "  \n")},
		{name: "slow", token: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}},
		{name: "token with a newline", token: writeText(http.StatusOK, "tok\nen")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateCredentialsEnv(t)
			m := &hostileMetadata{token: tc.token}
			p := startHostileMetadata(t, m, "", 200*time.Millisecond)
			start := time.Now()
			_, err := p.Retrieve(context.Background())
			require.Error(t, err)
			require.Less(t, time.Since(start), 3*time.Second)
			require.Contains(t, err.Error(), metadataSource)
			require.NotContains(t, err.Error(), "tok\nen")
			for _, request := range m.requests() {
				require.NotContains(t, request, metadataCredentialsPath+"ecs-role",
					"credentials must not be read after the token request failed")
			}
		})
	}
}

func TestHostileMetadataRoleList(t *testing.T) {
	cases := []struct {
		name     string
		list     string
		wantPath string
	}{
		{name: "trailing newline", list: "ecs-role\n", wantPath: metadataCredentialsPath + "ecs-role"},
		{name: "CRLF", list: "ecs-role\r\n", wantPath: metadataCredentialsPath + "ecs-role"},
		{name: "several lines", list: "ecs-role\nother-role\n", wantPath: metadataCredentialsPath + "ecs-role"},
		{name: "leading blank lines", list: "\n\n  ecs-role  \n", wantPath: metadataCredentialsPath + "ecs-role"},
		{name: "path characters escaped", list: "../../latest/api/token\n",
			wantPath: metadataCredentialsPath + "..%2F..%2Flatest%2Fapi%2Ftoken"},
		{name: "query characters escaped", list: "role?x=1#y\n", wantPath: metadataCredentialsPath + "role%3Fx=1%23y"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateCredentialsEnv(t)
			m := &hostileMetadata{roles: writeText(http.StatusOK, tc.list)}
			p := startHostileMetadata(t, m, "", time.Second)
			creds, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			require.Equal(t, "STS.ecs", creds.AccessKeyID)
			requests := m.requests()
			require.Equal(t, "GET "+tc.wantPath, requests[len(requests)-1])
		})
	}

	t.Run("empty list", func(t *testing.T) {
		isolateCredentialsEnv(t)
		m := &hostileMetadata{roles: writeText(http.StatusOK, " \n\n")}
		p := startHostileMetadata(t, m, "", time.Second)
		_, err := p.Retrieve(context.Background())
		require.ErrorContains(t, err, "no RAM role")
	})
}

func TestHostileMetadataCredentials(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{name: "5xx", status: http.StatusInternalServerError, body: "oops", wantErr: "HTTP 500"},
		{name: "HTML", status: http.StatusOK, body: "<html></html>", wantErr: "not valid JSON"},
		{name: "truncated", status: http.StatusOK, body: metadataCredentialsBody[:50], wantErr: "not valid JSON"},
		{name: "code failure", status: http.StatusOK,
			body: strings.Replace(metadataCredentialsBody, "Success", "Failure", 1), wantErr: `"Failure"`},
		{name: "missing code", status: http.StatusOK,
			body: strings.Replace(metadataCredentialsBody, `"Code":"Success",`, "", 1), wantErr: `""`},
		{name: "missing token", status: http.StatusOK,
			body: strings.Replace(metadataCredentialsBody, `"SecurityToken"`, `"Token"`, 1), wantErr: "lack"},
		{name: "odd expiration", status: http.StatusOK,
			body: strings.Replace(metadataCredentialsBody, "2099-01-01T00:00:00Z", "2099/01/01", 1), wantErr: "Expiration"},
		{name: "huge", status: http.StatusOK, body: strings.Repeat(" ", maxCredentialsResponseBytes+1), wantErr: "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateCredentialsEnv(t)
			m := &hostileMetadata{credentials: writeText(tc.status, tc.body)}
			p := startHostileMetadata(t, m, "ecs-role", time.Second)
			_, err := p.Retrieve(context.Background())
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			requireNoSecret(t, err.Error())
		})
	}
}

// newCLIConfigProvider writes a CLI config.json and returns a provider of it.
func newCLIConfigProvider(t *testing.T, content string) *CLIProfileCredentialsProvider {
	t.Helper()
	path := writeTestFile(t, t.TempDir(), "config.json", content)
	p, err := NewCLIProfileCredentialsProvider(ProfileOptions{File: path})
	require.NoError(t, err)
	return p
}

func TestHostileCLIConfig(t *testing.T) {
	ak := `{"name":"main","mode":"AK","access_key_id":"cli-id","access_key_secret":"` + testSourceSecret + `"}`
	cases := []struct {
		name    string
		content string
		wantErr string
	}{
		{name: "unknown mode", content: `{"current":"main","profiles":[{"name":"main","mode":"CloudSSO","access_key_secret":"` +
			testSourceSecret + `"}]}`, wantErr: "unsupported mode"},
		{name: "empty mode", content: `{"current":"main","profiles":[{"name":"main","access_key_id":"a","access_key_secret":"` +
			testSourceSecret + `"}]}`, wantErr: "unsupported mode"},
		{name: "current names no profile", content: `{"current":"gone","profiles":[` + ak + `]}`, wantErr: `no profile "gone"`},
		{name: "no current", content: `{"profiles":[` + ak + `]}`, wantErr: "current"},
		{name: "byte order mark", content: "\ufeff" + `{"current":"main","profiles":[` + ak + `]}`, wantErr: "parse CLI configuration"},
		{name: "comments", content: "// generated\n" + `{"current":"main","profiles":[` + ak + `]}`, wantErr: "parse CLI configuration"},
		{name: "secret of wrong type", content: `{"current":"main","profiles":[{"name":"main","mode":"AK","access_key_id":"a","access_key_secret":1234567890123}]}`,
			wantErr: "parse CLI configuration"},
		{name: "profiles not a list", content: `{"current":"main","profiles":{"main":` + ak + `}}`, wantErr: "parse CLI configuration"},
		{name: "truncated", content: `{"current":"main","profiles":[` + ak[:30], wantErr: "parse CLI configuration"},
		{name: "empty file", content: "", wantErr: "parse CLI configuration"},
		{name: "StsToken without token", content: `{"current":"main","profiles":[{"name":"main","mode":"StsToken","access_key_id":"a","access_key_secret":"` +
			testSourceSecret + `"}]}`, wantErr: "sts_token is empty"},
		{name: "negative expired_seconds", content: `{"current":"main","profiles":[{"name":"main","mode":"RamRoleArn","access_key_id":"a","access_key_secret":"` +
			testSourceSecret + `","ram_role_arn":"acs:ram::1:role/r","expired_seconds":-5}]}`, wantErr: "DurationSeconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateCredentialsEnv(t)
			_, err := newCLIConfigProvider(t, tc.content).Retrieve(context.Background())
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			requireNoSecret(t, err.Error())
			require.NotContains(t, err.Error(), "1234567890123")
		})
	}

	t.Run("duplicate profile names use the first", func(t *testing.T) {
		isolateCredentialsEnv(t)
		second := strings.Replace(ak, "cli-id", "second-id", 1)
		creds, err := newCLIConfigProvider(t, `{"current":"main","profiles":[`+ak+`,`+second+`]}`).Retrieve(context.Background())
		require.NoError(t, err)
		require.Equal(t, "cli-id", creds.AccessKeyID)
	})
	t.Run("unknown fields ignored", func(t *testing.T) {
		isolateCredentialsEnv(t)
		content := `{"current":"main","meta_path":"x","profiles":[` +
			strings.Replace(ak, `"mode"`, `"region_id":"cn-hangzhou","retry_count":3,"mode"`, 1) + `]}`
		creds, err := newCLIConfigProvider(t, content).Retrieve(context.Background())
		require.NoError(t, err)
		require.Equal(t, "cli-id", creds.AccessKeyID)
	})
}

// writeINI writes an INI credentials file and returns a provider of the
// given section ("" for the default).
func writeINI(t *testing.T, content, section string) *ProfileCredentialsProvider {
	t.Helper()
	path := writeTestFile(t, t.TempDir(), "credentials", content)
	p, err := NewProfileCredentialsProvider(ProfileOptions{File: path, ProfileName: section})
	require.NoError(t, err)
	return p
}

func TestHostileINIFiles(t *testing.T) {
	cases := []struct {
		name       string
		content    string
		section    string
		wantID     string
		wantSecret string
	}{
		{name: "CRLF", content: "[default]\r\ntype = access_key\r\naccess_key_id = id-1\r\naccess_key_secret = s-1\r\n",
			wantID: "id-1", wantSecret: "s-1"},
		{name: "no spaces", content: "[default]\ntype=access_key\naccess_key_id=id-1\naccess_key_secret=s-1\n",
			wantID: "id-1", wantSecret: "s-1"},
		{name: "tabs and padding", content: "[default]\n\ttype\t=\taccess_key  \n  access_key_id =   id-1\t\naccess_key_secret = s-1   \n",
			wantID: "id-1", wantSecret: "s-1"},
		{name: "double quotes", content: "[default]\ntype = \"access_key\"\naccess_key_id = \"id-1\"\naccess_key_secret = \"s-1\"\n",
			wantID: "id-1", wantSecret: "s-1"},
		{name: "equals in value", content: "[default]\ntype = access_key\naccess_key_id = id-1\naccess_key_secret = a=b==\n",
			wantID: "id-1", wantSecret: "a=b=="},
		{name: "hash and semicolon in value", content: "[default]\ntype = access_key\naccess_key_id = id-1\naccess_key_secret = a#b;c\n",
			wantID: "id-1", wantSecret: "a#b;c"},
		{name: "inline comment after space", content: "[default]\ntype = access_key\naccess_key_id = id-1 ; note\naccess_key_secret = s-1 # note\n",
			wantID: "id-1", wantSecret: "s-1"},
		{name: "duplicate keys last wins", content: "[default]\ntype = access_key\naccess_key_id = id-old\naccess_key_id = id-1\naccess_key_secret = s-1\n",
			wantID: "id-1", wantSecret: "s-1"},
		{name: "section split in two", content: "[default]\ntype = access_key\naccess_key_id = id-1\n[other]\nx = y\n[default]\naccess_key_secret = s-1\n",
			wantID: "id-1", wantSecret: "s-1"},
		{name: "byte order mark", content: "\ufeff[default]\ntype = access_key\naccess_key_id = id-1\naccess_key_secret = s-1\n",
			wantID: "id-1", wantSecret: "s-1"},
		{name: "spaces in section name", content: "[my profile]\ntype = access_key\naccess_key_id = id-1\naccess_key_secret = s-1\n",
			section: "my profile", wantID: "id-1", wantSecret: "s-1"},
		{name: "comment lines", content: "# top\n; also\n[default]\n# inside\ntype = access_key\naccess_key_id = id-1\naccess_key_secret = s-1\n",
			wantID: "id-1", wantSecret: "s-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateCredentialsEnv(t)
			creds, err := writeINI(t, tc.content, tc.section).Retrieve(context.Background())
			require.NoError(t, err)
			require.Equal(t, tc.wantID, creds.AccessKeyID)
			require.Equal(t, tc.wantSecret, creds.AccessKeySecret)
		})
	}

	failures := []struct {
		name    string
		content string
		wantErr string
	}{
		{name: "line without delimiter", content: "[default]\ntype = access_key\n" + testSourceSecret + "\n", wantErr: "invalid INI syntax"},
		{name: "unclosed section", content: "[default\ntype = access_key\n", wantErr: "invalid INI syntax"},
		{name: "section name case differs", content: "[Default]\ntype = access_key\naccess_key_id = a\naccess_key_secret = " + testSourceSecret + "\n",
			wantErr: "no section [default]"},
		{name: "keys outside any section", content: "type = access_key\naccess_key_id = a\naccess_key_secret = " + testSourceSecret + "\n",
			wantErr: "no section [default]"},
		{name: "empty quoted secret", content: "[default]\ntype = access_key\naccess_key_id = a\naccess_key_secret = \"\"\n",
			wantErr: "access_key_secret is empty"},
		{name: "type typo", content: "[default]\ntype = accesskey\naccess_key_id = a\naccess_key_secret = " + testSourceSecret + "\n",
			wantErr: "unsupported type"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			isolateCredentialsEnv(t)
			_, err := writeINI(t, tc.content, "").Retrieve(context.Background())
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			requireNoSecret(t, err.Error())
		})
	}
}

func TestHostileCacheConcurrentIntermittentProvider(t *testing.T) {
	// The source fails its first five calls, then recovers.
	const failingCalls = 5
	var calls atomic.Int32
	provider := CredentialsProviderFunc(func(ctx context.Context) (Credentials, error) {
		n := calls.Add(1)
		time.Sleep(time.Millisecond)
		if n <= failingCalls {
			return Credentials{}, errors.New("STS outage")
		}
		return Credentials{AccessKeyID: fmt.Sprintf("id-%d", n), AccessKeySecret: testRoleSecret,
			SecurityToken: testRoleToken, Expires: time.Now().Add(time.Hour)}, nil
	})
	cache := newCredentialsCache(provider, nil, nil)

	const goroutines, callsEach = 100, 20
	var wg sync.WaitGroup
	var failures, successes atomic.Int32
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range callsEach {
				creds, err := cache.Retrieve(context.Background())
				if err != nil {
					failures.Add(1)
					continue
				}
				successes.Add(1)
				if creds.expired(time.Now(), 0) || creds.AccessKeySecret == "" {
					t.Errorf("served unusable credentials %v", creds)
				}
			}
		}()
	}
	wg.Wait()
	// Callers that arrive during a call share it, and after the first
	// success the credentials are good for an hour, so the source receives
	// exactly one call per failure plus the one that succeeded.
	require.Equal(t, int32(failingCalls+1), calls.Load())
	require.Positive(t, failures.Load())
	require.Equal(t, int32(goroutines*callsEach), failures.Load()+successes.Load())
}

func TestHostileCacheAlwaysExpiredProvider(t *testing.T) {
	var calls atomic.Int32
	provider := CredentialsProviderFunc(func(ctx context.Context) (Credentials, error) {
		calls.Add(1)
		time.Sleep(time.Millisecond)
		return Credentials{AccessKeyID: "id", AccessKeySecret: testRoleSecret, SecurityToken: testRoleToken,
			Expires: time.Now().Add(-time.Second)}, nil
	})
	cache := newCredentialsCache(provider, nil, nil)

	const goroutines, callsEach = 100, 10
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range callsEach {
				creds, err := cache.Retrieve(context.Background())
				if err == nil {
					t.Errorf("served expired credentials %v", creds)
				}
			}
		}()
	}
	wg.Wait()
	// Concurrent callers share one call, so there is at most one call per
	// Retrieve, never a loop.
	require.LessOrEqual(t, calls.Load(), int32(goroutines*callsEach))
	require.Positive(t, calls.Load())
}

func TestHostileCacheClockJumps(t *testing.T) {
	clock := newFakeClock()
	var fail atomic.Bool
	provider := &scriptedProvider{next: func(call int32) (Credentials, error) {
		if fail.Load() {
			return Credentials{}, errors.New("STS outage")
		}
		return expiringCreds(fmt.Sprintf("id-%d", call), clock.Now().Add(time.Hour)), nil
	}}
	cache := newCredentialsCache(provider, nil, clock.Now)

	_, err := cache.Retrieve(context.Background())
	require.NoError(t, err)

	// A jump past the expiry while the source fails must not serve the
	// expired credentials.
	fail.Store(true)
	clock.Advance(2 * time.Hour)
	_, err = cache.Retrieve(context.Background())
	require.ErrorContains(t, err, "STS outage")

	// A jump back makes the old credentials look valid again, but nothing
	// is cached after the failure above except those, and they are within
	// their lifetime on the new clock.
	clock.Advance(-90 * time.Minute)
	creds, err := cache.Retrieve(context.Background())
	require.NoError(t, err)
	require.Equal(t, "id-1", creds.AccessKeyID)

	fail.Store(false)
	clock.Advance(2 * time.Hour)
	creds, err = cache.Retrieve(context.Background())
	require.NoError(t, err)
	require.NotEqual(t, "id-1", creds.AccessKeyID)
}

func TestHostileNoCredentialsErrorPrintsNoSecret(t *testing.T) {
	home := isolateCredentialsEnv(t)
	sts := newSTSResponder(t, http.StatusBadRequest,
		`{"Code":"InvalidParameter","Message":"token `+testOIDCToken+` is invalid; string to sign: `+testURIQuery+`"}`)
	uri := newFakeURI(t, http.StatusForbidden, `{"Code":"Forbidden","Message":"denied"}`)
	t.Setenv(envOIDCTokenFile, writeTestFile(t, home, "token", testOIDCToken))
	t.Setenv(envRoleARN, "acs:ram::1:role/r")
	t.Setenv(envOIDCProviderARN, "acs:ram::1:oidc-provider/p")
	writeTestFile(t, home, filepath.Join(".aliyun", "config.json"),
		`{"current":"main","profiles":[{"name":"main","mode":"AK","access_key_id":"","access_key_secret":"`+testSourceSecret+`"}]}`)
	writeTestFile(t, home, filepath.Join(".alibabacloud", "credentials"),
		"[default]\ntype = ram_role_arn\naccess_key_id = \naccess_key_secret = "+testSourceSecret+"\n")
	t.Setenv(envCredentialsURI, "http://user:"+testURIQuery+"@"+strings.TrimPrefix(uri.URL, "http://")+"/creds?sig="+testURIQuery)

	chain, err := NewDefaultCredentialsProvider(func(o *DefaultChainOptions) { o.STSEndpoint = sts.URL })
	require.NoError(t, err)
	_, err = chain.Retrieve(context.Background())
	var noCreds *NoCredentialsError
	require.ErrorAs(t, err, &noCreds)

	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Error("failed", "err", err, "chain", chain)
	slog.New(slog.NewJSONHandler(&logs, nil)).Error("failed", "err", err, "chain", chain)
	for _, text := range []string{
		err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err),
		fmt.Sprintf("%s", err), fmt.Sprintf("%q", err), fmt.Sprintf("%+v", noCreds.Sources),
		fmt.Sprintf("%#v", noCreds.Sources), fmt.Sprintf("%+v %#v", chain, chain), logs.String(),
	} {
		requireNoSecret(t, text)
	}
	assert.Contains(t, err.Error(), "?[REDACTED]")
	assert.Contains(t, err.Error(), "HTTP 403")
}
