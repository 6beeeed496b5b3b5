package cloudauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newFakeURI starts a credentials URI server that returns body with status.
func newFakeURI(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(server.Close)
	return server
}

// uriCredentialsBody returns a successful credentials URI response.
func uriCredentialsBody(accessKeyID string) string {
	return `{"Code":"Success","AccessKeyId":"` + accessKeyID + `","AccessKeySecret":"` + testRoleSecret +
		`","SecurityToken":"` + testRoleToken + `","Expiration":"2099-01-01T00:00:00Z"}`
}

func TestURIProviderReturnsCredentials(t *testing.T) {
	isolateCredentialsEnv(t)
	server := newFakeURI(t, http.StatusOK, uriCredentialsBody("uri-id"))
	p, err := NewURICredentialsProvider(URIOptions{URI: server.URL + "/creds?sig=" + testURIQuery})
	require.NoError(t, err)

	creds, err := p.Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "uri-id", creds.AccessKeyID)
	require.Equal(t, testRoleSecret, creds.AccessKeySecret)
	require.Equal(t, testRoleToken, creds.SecurityToken)
	require.Equal(t, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), creds.Expires)
}

func TestURIProviderSendsQuery(t *testing.T) {
	isolateCredentialsEnv(t)
	gotQuery := make(chan string, 1)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery <- r.URL.Query().Get("sig")
		_, _ = w.Write([]byte(uriCredentialsBody("uri-id")))
	}))
	t.Cleanup(server.Close)
	p, err := NewURICredentialsProvider(URIOptions{URI: server.URL + "/creds?sig=" + testURIQuery, HTTPClient: server.Client()})
	require.NoError(t, err)

	_, err = p.Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, testURIQuery, <-gotQuery)
}

func TestURIProviderErrorsHideQuery(t *testing.T) {
	isolateCredentialsEnv(t)
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{"HTTP error", http.StatusInternalServerError, `{"Code":"InternalError"}`, "HTTP 500"},
		{"code not success", http.StatusOK, `{"Code":"Expired","Message":"rotate"}`, "code Expired"},
		{"invalid JSON", http.StatusOK, `not json`, "invalid JSON"},
		{"no secret", http.StatusOK, `{"Code":"Success","AccessKeyId":"id","Expiration":"2099-01-01T00:00:00Z"}`, "lacks AccessKeyId or AccessKeySecret"},
		{"no expiration", http.StatusOK, `{"AccessKeyId":"id","AccessKeySecret":"s"}`, "no Expiration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := newFakeURI(t, tt.status, tt.body)
			p, err := NewURICredentialsProvider(URIOptions{URI: server.URL + "/creds?sig=" + testURIQuery})
			require.NoError(t, err)

			_, err = p.Retrieve(context.Background())

			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, err, "credentials URI")
			requireNoSecret(t, err.Error())
		})
	}
}

func TestURIProviderTransportErrorHidesQuery(t *testing.T) {
	isolateCredentialsEnv(t)
	server := newFakeURI(t, http.StatusOK, "")
	p, err := NewURICredentialsProvider(URIOptions{URI: server.URL + "/creds?sig=" + testURIQuery})
	require.NoError(t, err)
	server.Close()

	_, err = p.Retrieve(context.Background())

	require.ErrorContains(t, err, "GET "+server.URL+"/creds?[REDACTED]")
	requireNoSecret(t, err.Error())
}

func TestURIProviderOptionsValidation(t *testing.T) {
	tests := []struct {
		uri     string
		wantErr string
	}{
		{"", "URI is empty"},
		{"ftp://host/x?sig=" + testURIQuery, "http:// or https://"},
		{"http:///path?sig=" + testURIQuery, "has no host"},
		{"http://host/%zz?sig=" + testURIQuery, "not a valid URL"},
	}
	for _, tt := range tests {
		_, err := NewURICredentialsProvider(URIOptions{URI: tt.uri})
		require.ErrorContains(t, err, tt.wantErr)
		requireNoSecret(t, err.Error())
	}
}
