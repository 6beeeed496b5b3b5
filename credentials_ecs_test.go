package cloudauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeMetadata is an ECS instance metadata service on 127.0.0.1 that
// enforces IMDSv2: every GET must carry the token from PUT /latest/api/token.
type fakeMetadata struct {
	*httptest.Server
	t *testing.T

	mu         sync.Mutex
	paths      []string // method and path of each request, in order
	ttlHeaders []string
	role       string
	code       string
	tokenCode  int // when set, the status of every token request
}

const fakeMetadataToken = "imds-session-token"

// newFakeMetadata starts a fake metadata service for the role "ecs-role".
func newFakeMetadata(t *testing.T) *fakeMetadata {
	t.Helper()
	f := &fakeMetadata{t: t, role: "ecs-role", code: "Success"}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeMetadata) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	role, code, tokenCode := f.role, f.code, f.tokenCode
	if r.Method == http.MethodPut {
		f.ttlHeaders = append(f.ttlHeaders, r.Header.Get(metadataTokenTTLHeader))
	}
	f.mu.Unlock()

	if r.Method == http.MethodPut && r.URL.Path == metadataTokenPath {
		if tokenCode != 0 {
			w.WriteHeader(tokenCode)
			return
		}
		if r.Header.Get(metadataTokenTTLHeader) == "" {
			http.Error(w, "missing TTL header", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(fakeMetadataToken))
		return
	}
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get(metadataTokenHeader) != fakeMetadataToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case metadataCredentialsPath:
		_, _ = w.Write([]byte(role))
	case metadataCredentialsPath + role:
		writeJSON(f.t, w, map[string]string{
			"Code":            code,
			"AccessKeyId":     "STS.ecs-id",
			"AccessKeySecret": testRoleSecret,
			"SecurityToken":   testRoleToken,
			"Expiration":      "2099-05-06T07:08:09Z",
			"LastUpdated":     "2099-05-06T01:08:09Z",
		})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// configure changes the service's responses under its lock.
func (f *fakeMetadata) configure(change func(f *fakeMetadata)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// tokenTTLs returns the TTL header of each token request so far.
func (f *fakeMetadata) tokenTTLs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ttlHeaders...)
}

// requests returns the method and path of each request so far.
func (f *fakeMetadata) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// newTestECSProvider returns an ECS provider aimed at metadata, with the
// metadata switch turned back on for this test.
func newTestECSProvider(t *testing.T, metadata *fakeMetadata, roleName string) *ECSRAMRoleCredentialsProvider {
	t.Helper()
	t.Setenv(envECSMetadataDisabled, "")
	p, err := NewECSRAMRoleCredentialsProvider(ECSRAMRoleOptions{RoleName: roleName, MetadataEndpoint: metadata.URL})
	require.NoError(t, err)
	return p
}

func TestECSProviderDiscoversRoleWithIMDSv2(t *testing.T) {
	isolateCredentialsEnv(t)
	metadata := newFakeMetadata(t)
	p := newTestECSProvider(t, metadata, "")

	creds, err := p.Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, []string{
		"PUT /latest/api/token",
		"GET /latest/meta-data/ram/security-credentials/",
		"GET /latest/meta-data/ram/security-credentials/ecs-role",
	}, metadata.requests())
	require.Equal(t, []string{"21600"}, metadata.tokenTTLs())
	require.Equal(t, "STS.ecs-id", creds.AccessKeyID)
	require.Equal(t, testRoleSecret, creds.AccessKeySecret)
	require.Equal(t, testRoleToken, creds.SecurityToken)
	require.Equal(t, time.Date(2099, 5, 6, 7, 8, 9, 0, time.UTC), creds.Expires)
}

func TestECSProviderGivenRoleSkipsDiscovery(t *testing.T) {
	isolateCredentialsEnv(t)
	metadata := newFakeMetadata(t)
	p := newTestECSProvider(t, metadata, "ecs-role")

	_, err := p.Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, []string{
		"PUT /latest/api/token",
		"GET /latest/meta-data/ram/security-credentials/ecs-role",
	}, metadata.requests())
}

func TestECSProviderTokenFailure(t *testing.T) {
	isolateCredentialsEnv(t)
	metadata := newFakeMetadata(t)
	metadata.configure(func(f *fakeMetadata) { f.tokenCode = http.StatusForbidden })
	p := newTestECSProvider(t, metadata, "")

	_, err := p.Retrieve(context.Background())

	require.ErrorContains(t, err, "ECS instance metadata token")
	require.ErrorContains(t, err, "HTTP 403")
	require.Equal(t, []string{"PUT /latest/api/token"}, metadata.requests())
}

func TestECSProviderCodeNotSuccess(t *testing.T) {
	isolateCredentialsEnv(t)
	metadata := newFakeMetadata(t)
	metadata.configure(func(f *fakeMetadata) { f.code = "Failed" })
	p := newTestECSProvider(t, metadata, "")

	_, err := p.Retrieve(context.Background())

	require.ErrorContains(t, err, `Code "Failed"`)
	requireNoSecret(t, err.Error())
}

func TestECSProviderNoRoleAttached(t *testing.T) {
	isolateCredentialsEnv(t)
	metadata := newFakeMetadata(t)
	metadata.configure(func(f *fakeMetadata) { f.role = "" })
	p := newTestECSProvider(t, metadata, "")

	_, err := p.Retrieve(context.Background())

	require.ErrorContains(t, err, "no RAM role is attached")
}

func TestECSProviderUnknownRole(t *testing.T) {
	isolateCredentialsEnv(t)
	metadata := newFakeMetadata(t)
	p := newTestECSProvider(t, metadata, "other-role")

	_, err := p.Retrieve(context.Background())

	require.ErrorContains(t, err, "HTTP 404")
	require.ErrorContains(t, err, "/latest/meta-data/ram/security-credentials/other-role")
}

func TestECSProviderDisabledByEnv(t *testing.T) {
	isolateCredentialsEnv(t)
	metadata := newFakeMetadata(t)
	p := newTestECSProvider(t, metadata, "")
	t.Setenv(envECSMetadataDisabled, "TRUE")

	_, err := p.Retrieve(context.Background())

	require.True(t, isNotConfigured(err))
	require.Empty(t, metadata.requests())
}

func TestECSProviderTimesOut(t *testing.T) {
	isolateCredentialsEnv(t)
	t.Setenv(envECSMetadataDisabled, "")
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(server.Close)
	t.Cleanup(func() { close(release) })
	p, err := NewECSRAMRoleCredentialsProvider(ECSRAMRoleOptions{MetadataEndpoint: server.URL, Timeout: 50 * time.Millisecond})
	require.NoError(t, err)

	start := time.Now()
	_, err = p.Retrieve(context.Background())

	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestECSProviderOptionsValidation(t *testing.T) {
	_, err := NewECSRAMRoleCredentialsProvider(ECSRAMRoleOptions{MetadataEndpoint: "100.100.100.200"})
	require.ErrorContains(t, err, "MetadataEndpoint")

	_, err = NewECSRAMRoleCredentialsProvider(ECSRAMRoleOptions{Timeout: -time.Second})
	require.ErrorContains(t, err, "negative")
}
