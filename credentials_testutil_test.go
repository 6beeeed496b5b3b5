package cloudauth

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Distinctive secrets, so a test can assert that none of them leaks into an
// error, a log line or a printed provider.
const (
	testSourceSecret = "SRC-SECRET-4f9a1c"
	testSourceToken  = "SRC-TOKEN-7d2e0b"
	testRoleSecret   = "ROLE-SECRET-91c3aa"
	testRoleToken    = "ROLE-TOKEN-5be811"
	testOIDCToken    = "OIDC-TOKEN-e0d4c7"
	testExternalID   = "EXTERNAL-ID-2a6f3d"
	testURIQuery     = "URI-QUERY-SECRET-8c1b"
)

// testSecrets lists every secret above.
var testSecrets = []string{
	testSourceSecret, testSourceToken, testRoleSecret, testRoleToken,
	testOIDCToken, testExternalID, testURIQuery,
}

// requireNoSecret fails when text contains any test secret.
func requireNoSecret(t *testing.T, text string) {
	t.Helper()
	for _, secret := range testSecrets {
		require.NotContains(t, text, secret)
	}
}

// credentialsEnvNames lists every environment variable the providers read.
var credentialsEnvNames = []string{
	envAccessKeyID, envAccessKeySecret, envSecurityToken, envRoleARN,
	envOIDCProviderARN, envOIDCTokenFile, envRoleSessionName, envProfile,
	envConfigFile, envCredentialsFile, envCLIProfileDisabled,
	envECSMetadataRoleName, envECSMetadataDisabled, envCredentialsURI,
	envSTSRegion, envVPCEndpointEnabled,
}

// isolateCredentialsEnv points HOME at an empty temporary directory, clears
// every ALIBABA_CLOUD_* variable, and turns the ECS metadata source off, so
// a test never reads the user's files or reaches the real metadata address.
// It returns the temporary home directory.
func isolateCredentialsEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ALIBABA_CLOUD_") {
			t.Setenv(name, "")
		}
	}
	for _, name := range credentialsEnvNames {
		t.Setenv(name, "")
	}
	t.Setenv(envECSMetadataDisabled, "true")
	return home
}

// writeTestFile writes content to dir/name, creating parent directories, and
// returns the path.
func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// fakeSTS is an STS endpoint on 127.0.0.1 that verifies AssumeRole
// signatures with its own code and responds with scripted credentials.
type fakeSTS struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	requests []url.Values
	// secrets maps an AccessKey ID to its secret, for signature checks.
	secrets map[string]string
	// accessKeyID is the AccessKey ID of the credentials returned.
	accessKeyID string
	expiration  string
	// status and body, when status is set, replace the success response.
	status int
	body   string
}

// newFakeSTS starts a fake STS that accepts the source AccessKey "src-id".
func newFakeSTS(t *testing.T) *fakeSTS {
	t.Helper()
	f := &fakeSTS{
		t:           t,
		secrets:     map[string]string{"src-id": testSourceSecret},
		accessKeyID: "STS.role-id",
		expiration:  "2099-01-02T03:04:05Z",
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" || r.URL.RawQuery != "" {
		http.Error(w, "expected POST / without a query", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := r.PostForm
	f.mu.Lock()
	f.requests = append(f.requests, form)
	status, body := f.status, f.body
	accessKeyID, expiration := f.accessKeyID, f.expiration
	f.mu.Unlock()

	if status != 0 {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return
	}
	if form.Get("Action") == "AssumeRole" {
		secret, ok := f.secrets[form.Get("AccessKeyId")]
		if !ok || form.Get("Signature") != independentSignatureV1(http.MethodPost, form, secret) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"Code":"SignatureDoesNotMatch","Message":"signature mismatch"}`))
			return
		}
	}
	writeJSON(f.t, w, map[string]any{
		"RequestId": "req-1",
		"Credentials": map[string]string{
			"AccessKeyId":     accessKeyID,
			"AccessKeySecret": testRoleSecret,
			"SecurityToken":   testRoleToken,
			"Expiration":      expiration,
		},
	})
}

// lastRequest returns the form of the latest request.
func (f *fakeSTS) lastRequest() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(f.t, f.requests, "fake STS received no request")
	return f.requests[len(f.requests)-1]
}

// requestCount returns the number of requests received.
func (f *fakeSTS) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// configure changes the service's responses under its lock.
func (f *fakeSTS) configure(change func(f *fakeSTS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// fail makes every later request get status and body.
func (f *fakeSTS) fail(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

// independentSignatureV1 computes an RPC V1 signature without this
// package's encoder: it escapes with net/url and then applies the three
// substitutions that turn form escaping into RFC 3986 escaping.
func independentSignatureV1(method string, params url.Values, secret string) string {
	encode := func(s string) string {
		s = url.QueryEscape(s)
		s = strings.ReplaceAll(s, "+", "%20")
		s = strings.ReplaceAll(s, "*", "%2A")
		return strings.ReplaceAll(s, "%7E", "~")
	}
	names := make([]string, 0, len(params))
	for name := range params {
		if name != "Signature" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	pairs := make([]string, 0, len(names))
	for _, name := range names {
		pairs = append(pairs, encode(name)+"="+encode(params.Get(name)))
	}
	stringToSign := method + "&" + encode("/") + "&" + encode(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// writeJSON writes v as a JSON response.
func writeJSON(t *testing.T, w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Errorf("encode response: %v", err)
	}
}
