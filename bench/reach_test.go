package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/cloudauth-go/cloudauth"
)

// These tests check that every benchmarked path sends its request to the
// loopback server, with the GetStatus parameters, and decodes the response.

// expectGetStatusQuery fails t unless the latest request went to "/" with
// the GetStatus action and parameters and returns its query.
func expectGetStatusQuery(t *testing.T) url.Values {
	t.Helper()
	path, rawQuery := server.last()
	if path != "/" {
		t.Errorf("path is %q, expected \"/\"", path)
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatalf("parsing the query: %v", err)
	}
	expected := map[string]string{
		"Action":      "GetStatus",
		"Version":     apiVersion,
		"Biz":         bizValue,
		"TicketId":    ticketIDValue,
		"AccessKeyId": accessKeyID,
		"RegionId":    regionID,
	}
	for name, value := range expected {
		if got := query.Get(name); got != value {
			t.Errorf("query parameter %s is %q, expected %q", name, got, value)
		}
	}
	if query.Get("Signature") == "" {
		t.Error("the query has no Signature")
	}
	return query
}

func TestCloudauthReachesLoopback(t *testing.T) {
	client := newCloudauthClient(t)
	start := server.requests.Load()

	response, err := client.GetStatus(context.Background(),
		&cloudauth.GetStatusRequest{Biz: bizValue, TicketID: ticketIDValue})
	if err != nil {
		t.Fatal(err)
	}
	server.expectRequests(t, start, 1)
	expectGetStatusQuery(t)
	if response.StatusCode != cloudauth.StatusPassed {
		t.Errorf("StatusCode is %v, expected Passed", response.StatusCode)
	}
	if response.SimilarityScore != 93.12 {
		t.Errorf("SimilarityScore is %v, expected 93.12", response.SimilarityScore)
	}
	if response.RequestID != "130A2C10-B9EE-4D84-88E3-5384FF039795" {
		t.Errorf("RequestID is %q", response.RequestID)
	}
}

func TestSDKReachesLoopback(t *testing.T) {
	client := newSDKClient(t)
	start := server.requests.Load()

	result, err := sdkGetStatus(client)
	if err != nil {
		t.Fatal(err)
	}
	server.expectRequests(t, start, 1)
	query := expectGetStatusQuery(t)
	if result.Data.StatusCode != 1 {
		t.Errorf("StatusCode is %d, expected 1", result.Data.StatusCode)
	}

	// The SDK's signature must verify with cloudauth's independent V1
	// signer, or the two benchmarks would not do the same work.
	if got, want := query.Get("Signature"), cloudauth.SignV1(http.MethodGet, query, accessKeySecret); got != want {
		t.Errorf("the SDK's Signature is %q, cloudauth.SignV1 computes %q", got, want)
	}
}

func TestFloorReachesLoopback(t *testing.T) {
	client := &http.Client{Transport: newTransport(t)}
	start := server.requests.Load()

	result, err := floorGetStatus(client, presignedURL())
	if err != nil {
		t.Fatal(err)
	}
	server.expectRequests(t, start, 1)
	expectGetStatusQuery(t)
	if result.Data.StatusCode != 1 {
		t.Errorf("StatusCode is %d, expected 1", result.Data.StatusCode)
	}
}

func TestSDKSignMatchesSignV1(t *testing.T) {
	request := newSDKSignRequest()
	provider := credentials.NewStaticAKCredentialsProvider(accessKeyID, accessKeySecret)
	if err := auth.Sign(request, nil, regionID, provider); err != nil {
		t.Fatal(err)
	}

	params := url.Values{}
	for name, value := range request.GetQueryParams() {
		params.Set(name, value)
	}
	if got, want := params.Get("Signature"), cloudauth.SignV1(http.MethodGet, params, accessKeySecret); got != want {
		t.Errorf("auth.Sign gives %q, cloudauth.SignV1 computes %q", got, want)
	}
}

func TestTransportRejectsOtherHosts(t *testing.T) {
	client := &http.Client{Transport: newTransport(t)}
	start := server.requests.Load()

	// 127.0.0.2 is loopback too, but it is not the server's address, so the
	// transport must reject it before dialing.
	_, err := client.Get("http://127.0.0.2:1/")
	if err == nil {
		t.Fatal("a request to another host succeeded")
	}
	server.expectRequests(t, start, 0)
}

func TestLoopbackExchangeReachesLoopback(t *testing.T) {
	exchange, err := newRawExchange(presignedURL())
	if err != nil {
		t.Fatal(err)
	}
	defer exchange.Close()
	start := server.requests.Load()

	if err := exchange.roundTrip(); err != nil {
		t.Fatal(err)
	}
	server.expectRequests(t, start, 1)
	expectGetStatusQuery(t)
	if !bytes.HasSuffix(exchange.response, getStatusBody) {
		t.Errorf("the response %q does not end with the GetStatus body", exchange.response)
	}
}
