package cloudauth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudauth-go/cloudauth"
)

// Each test once showed an endpoint that NewClient accepted but that the
// client could not sign requests for. NewClient now rejects such endpoints
// up front, which each test allows.

func TestV3NonASCIIEndpointHost(t *testing.T) {
	// net/http sends a non-ASCII host in punycode, but the V3 signer signs
	// the host as the endpoint spells it. loopbackTransport dials the fake,
	// so nothing is sent to the named host.
	srv := newFake(t)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	rt := &recordingTransport{next: loopbackTransport(srv)}
	client, err := cloudauth.NewClient(
		cloudauth.WithEndpoint("http://bücher.test:"+port),
		cloudauth.WithAccessKey(fakeKeyID, fakeSecret),
		cloudauth.WithSignatureVersion(cloudauth.SignatureV3),
		cloudauth.WithHTTPClient(&http.Client{Transport: rt}),
		cloudauth.WithMaxAttempts(1))
	if err != nil {
		return // rejecting the endpoint up front is also correct
	}

	_, err = client.GetStatus(context.Background(), fakeRequest)

	require.NoError(t, err)
	assert.Equal(t, "xn--bcher-kva.test:"+port, srv.LastRequest().Host)
}

func TestIPv6ZoneEndpointUsable(t *testing.T) {
	srv := newFake(t)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
		t.Run(version.String(), func(t *testing.T) {
			rt := &recordingTransport{next: loopbackTransport(srv)}
			client, err := cloudauth.NewClient(
				cloudauth.WithEndpoint("http://[fe80::1%25lo]:"+port),
				cloudauth.WithAccessKey(fakeKeyID, fakeSecret),
				cloudauth.WithSignatureVersion(version),
				cloudauth.WithHTTPClient(&http.Client{Transport: rt}),
				cloudauth.WithMaxAttempts(1))
			if err != nil {
				return // rejecting the endpoint up front is also correct
			}

			_, err = client.GetStatus(context.Background(), fakeRequest)

			assert.NoError(t, err)
		})
	}
}
