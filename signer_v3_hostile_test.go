package cloudauth_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudauth-go/cloudauth"
	"github.com/cloudauth-go/cloudauth/cloudauthtest"
)

// recordingTransport records a copy of each request's headers and URL, lets
// mutate change the request, then sends it with next.
type recordingTransport struct {
	next   http.RoundTripper
	mutate func(req *http.Request)

	mu       sync.Mutex
	requests []*http.Request
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if rt.mutate != nil {
		req = req.Clone(req.Context())
		rt.mutate(req)
	}
	rt.mu.Lock()
	rt.requests = append(rt.requests, req.Clone(context.Background()))
	rt.mu.Unlock()
	return rt.next.RoundTrip(req)
}

func (rt *recordingTransport) sent() []*http.Request {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]*http.Request(nil), rt.requests...)
}

// loopbackTransport dials srv's 127.0.0.1 listener whatever host the URL
// names, so a client can use an endpoint such as http://[::1]:port without
// any packet leaving for that address.
func loopbackTransport(srv *cloudauthtest.Server) *http.Transport {
	target := strings.TrimPrefix(srv.URL, "http://")
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, "tcp", target)
		},
	}
}

func newV3Client(t *testing.T, srv *cloudauthtest.Server, transport http.RoundTripper,
	opts ...cloudauth.Option) *cloudauth.Client {
	t.Helper()
	base := []cloudauth.Option{
		cloudauth.WithSignatureVersion(cloudauth.SignatureV3),
		cloudauth.WithHTTPClient(&http.Client{Transport: transport}),
	}
	return newFakeClient(t, srv, append(base, opts...)...)
}

func TestV3HostileSTSHeaders(t *testing.T) {
	srv := newFake(t)
	rt := &recordingTransport{next: loopbackTransport(srv)}
	client := newFakeClientWith(t, srv, cloudauth.WithCredentials(
		cloudauth.NewStaticCredentialsProvider("sts-"+fakeKeyID, fakeSecret, fakeToken)),
		cloudauth.WithSignatureVersion(cloudauth.SignatureV3),
		cloudauth.WithHTTPClient(&http.Client{Transport: rt}))

	_, err := client.GetStatus(context.Background(), fakeRequest)
	require.NoError(t, err)

	sent := rt.sent()
	require.Len(t, sent, 1)
	req := sent[0]
	assert.Equal(t, fakeToken, req.Header.Get("X-Acs-Security-Token"))
	assert.Contains(t, req.Header.Get("Authorization"),
		"SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;"+
			"x-acs-signature-nonce;x-acs-version,")
	assert.Contains(t, req.Header.Get("Authorization"), "Credential=sts-"+fakeKeyID+",")
	for _, name := range []string{"SecurityToken", "Signature", "AccessKeyId", "SignatureNonce"} {
		assert.NotContains(t, req.URL.Query(), name)
	}
	assert.NotContains(t, req.URL.RawQuery, fakeToken)
}

func TestV3HostileRetriesSignAgain(t *testing.T) {
	srv := newFake(t)
	srv.FailNext(2, cloudauthtest.ServiceUnavailableFailure())
	rt := &recordingTransport{next: loopbackTransport(srv)}
	client := newV3Client(t, srv, rt)

	_, err := client.GetStatus(context.Background(), fakeRequest)
	require.NoError(t, err)

	sent := rt.sent()
	require.Len(t, sent, 3)
	nonces := map[string]bool{}
	authorizations := map[string]bool{}
	for _, req := range sent {
		nonces[req.Header.Get("X-Acs-Signature-Nonce")] = true
		authorizations[req.Header.Get("Authorization")] = true
		assert.Len(t, req.Header.Values("X-Acs-Date"), 1)
		assert.Len(t, req.Header.Values("Authorization"), 1)
	}
	assert.Len(t, nonces, 3, "each attempt has its own nonce")
	assert.Len(t, authorizations, 3, "each attempt has its own signature")
}

func TestV3HostileClockSkewSetsDate(t *testing.T) {
	srv := newFake(t)
	srv.SetClockSkew(2 * time.Hour)
	rt := &recordingTransport{next: loopbackTransport(srv)}
	client := newV3Client(t, srv, rt)

	_, err := client.GetStatus(context.Background(), fakeRequest)
	require.NoError(t, err)

	sent := rt.sent()
	require.Len(t, sent, 2)
	date, err := time.Parse(time.RFC3339, sent[1].Header.Get("X-Acs-Date"))
	require.NoError(t, err)
	assert.WithinDuration(t, srv.Now(), date, 5*time.Second)
}

func TestV3HostileXMLFormat(t *testing.T) {
	srv := newFake(t)
	srv.SetTicket("RPBasic", "ticket-1", cloudauthtest.TicketState{Status: cloudauth.StatusRejected,
		AuditConclusions: "blurred"})
	rt := &recordingTransport{next: loopbackTransport(srv)}
	client := newV3Client(t, srv, rt, cloudauth.WithFormat(cloudauth.FormatXML))

	resp, err := client.GetStatus(context.Background(), fakeRequest)
	require.NoError(t, err)
	assert.Equal(t, cloudauth.StatusRejected, resp.StatusCode)
	assert.Equal(t, "blurred", resp.AuditConclusions)

	req := rt.sent()[0]
	assert.Equal(t, "application/xml", req.Header.Get("Accept"))
	assert.Equal(t, "XML", req.URL.Query().Get("Format"))
}

func TestV3HostileIPv6Endpoint(t *testing.T) {
	srv := newFake(t)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	rt := &recordingTransport{next: loopbackTransport(srv)}
	client := newV3Client(t, srv, rt, cloudauth.WithEndpoint("http://[::1]:"+port))

	_, err := client.GetStatus(context.Background(), fakeRequest)
	require.NoError(t, err)
	assert.Equal(t, "[::1]:"+port, srv.LastRequest().Host)
}

func TestV3HostileUnusualValues(t *testing.T) {
	var printable strings.Builder
	for c := byte(0x20); c < 0x7f; c++ {
		printable.WriteByte(c)
	}
	values := map[string]string{
		"printable ASCII": printable.String(),
		"non-ASCII":       "票据-認証-ÄÖÜ-🙂",
		"long":            strings.Repeat("t", 32<<10),
	}
	for name, value := range values {
		for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
			t.Run(version.String()+" "+name, func(t *testing.T) {
				srv := newFake(t)
				srv.SetTicket(value, value, cloudauthtest.TicketState{Status: cloudauth.StatusPassed})
				client := newFakeClient(t, srv, cloudauth.WithSignatureVersion(version), cloudauth.WithMaxAttempts(1))

				resp, err := client.GetStatus(context.Background(), &cloudauth.GetStatusRequest{Biz: value, TicketID: value})
				require.NoError(t, err)
				assert.Equal(t, cloudauth.StatusPassed, resp.StatusCode)
			})
		}
	}
}

func TestV3HostileTransportAddsHeaders(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(req *http.Request)
		code   string // empty when the request must pass
	}{
		{"unsigned ordinary header", func(req *http.Request) { req.Header.Set("X-Trace-Id", "abc") }, ""},
		{"user agent replaced", func(req *http.Request) { req.Header.Set("User-Agent", "proxy/1.0") }, ""},
		{"unsigned x-acs header", func(req *http.Request) { req.Header.Set("X-Acs-Trace", "abc") }, "SignatureDoesNotMatch"},
		{"x-acs-date rewritten", func(req *http.Request) {
			req.Header.Set("X-Acs-Date", time.Now().UTC().Add(time.Second).Format("2006-01-02T15:04:05Z"))
		}, "SignatureDoesNotMatch"},
		{"query parameter added", func(req *http.Request) {
			q := req.URL.Query()
			q.Set("Extra", "1")
			req.URL.RawQuery = q.Encode()
		}, "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t)
			rt := &recordingTransport{next: loopbackTransport(srv), mutate: tt.mutate}
			client := newV3Client(t, srv, rt, cloudauth.WithMaxAttempts(1))

			_, err := client.GetStatus(context.Background(), fakeRequest)
			if tt.code == "" {
				require.NoError(t, err)
				return
			}
			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.code, apiErr.Code)
		})
	}
}

func TestV3HostileConcurrentSigning(t *testing.T) {
	srv := newFake(t)
	srv.AddAccessKey("second-id", "second-secret")
	first := newFakeClient(t, srv, cloudauth.WithSignatureVersion(cloudauth.SignatureV3))
	second := newFakeClientWith(t, srv, cloudauth.WithAccessKey("second-id", "second-secret"),
		cloudauth.WithSignatureVersion(cloudauth.SignatureV3))

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		client := first
		if i%2 == 1 {
			client = second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.GetStatus(context.Background(), fakeRequest)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Zero(t, srv.Stats().Rejected["SignatureDoesNotMatch"])
}

// parsedAuthorization splits a V3 Authorization value into its fields.
func parsedAuthorization(t *testing.T, value string) url.Values {
	t.Helper()
	rest, ok := strings.CutPrefix(value, "ACS3-HMAC-SHA256 ")
	require.True(t, ok, value)
	fields := url.Values{}
	for _, field := range strings.Split(rest, ",") {
		name, v, found := strings.Cut(field, "=")
		require.True(t, found, value)
		fields.Add(name, v)
	}
	return fields
}

func TestV3HostileAuthorizationShape(t *testing.T) {
	srv := newFake(t)
	rt := &recordingTransport{next: loopbackTransport(srv)}
	client := newV3Client(t, srv, rt)

	_, err := client.GetStatus(context.Background(), fakeRequest)
	require.NoError(t, err)

	fields := parsedAuthorization(t, rt.sent()[0].Header.Get("Authorization"))
	assert.Equal(t, fakeKeyID, fields.Get("Credential"))
	signature := fields.Get("Signature")
	assert.Len(t, signature, 64)
	assert.Equal(t, strings.ToLower(signature), signature)
}
