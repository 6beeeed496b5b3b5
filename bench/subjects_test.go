package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/cloudauth-go/cloudauth"
)

// statusResult is the part of a GetStatus response that the SDK and net/http
// benchmarks decode, as a caller of the untyped API does.
type statusResult struct {
	RequestId string
	Success   bool
	Data      struct {
		StatusCode       int
		SimilarityScore  float64
		AuditConclusions string
	}
}

func newCloudauthClient(tb testing.TB) *cloudauth.Client {
	tb.Helper()
	client, err := cloudauth.NewClient(
		cloudauth.WithEndpoint(server.URL),
		cloudauth.WithAccessKey(accessKeyID, accessKeySecret),
		cloudauth.WithHTTPClient(&http.Client{Transport: newTransport(tb)}),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// newSDKClient returns an official SDK client whose requests can only reach
// the loopback server. sdkGetStatus sets the request's domain, and with a
// domain set SDK v1.63.107 resolves no endpoint.
func newSDKClient(tb testing.TB) *sdk.Client {
	tb.Helper()
	client, err := sdk.NewClientWithAccessKey(regionID, accessKeyID, accessKeySecret)
	if err != nil {
		tb.Fatal(err)
	}
	client.SetTransport(newTransport(tb))
	return client
}

// sdkGetStatus calls GetStatus through the SDK's common request, the only
// way the SDK still offers it, and decodes the response.
func sdkGetStatus(client *sdk.Client) (statusResult, error) {
	request := requests.NewCommonRequest()
	request.Method = requests.GET
	request.Scheme = requests.HTTP
	request.Domain = server.host
	request.Version = apiVersion
	request.ApiName = "GetStatus"
	request.QueryParams["Biz"] = bizValue
	request.QueryParams["TicketId"] = ticketIDValue

	var result statusResult
	response, err := client.ProcessCommonRequest(request)
	if err != nil {
		return result, err
	}
	if !response.IsSuccess() {
		return result, fmt.Errorf("HTTP status %d", response.GetHttpStatus())
	}
	err = json.Unmarshal(response.GetHttpContentBytes(), &result)
	return result, err
}

// presignedURL returns a V1-signed GetStatus URL of the loopback server,
// built once, so the net/http benchmark measures only the exchange and the
// decoding.
func presignedURL() string {
	params := url.Values{
		"AccessKeyId":      {accessKeyID},
		"Action":           {"GetStatus"},
		"Biz":              {bizValue},
		"Format":           {"JSON"},
		"RegionId":         {regionID},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureNonce":   {"3f2c5d8e9a1b4c7d8e0f1a2b3c4d5e6f"},
		"SignatureVersion": {"1.0"},
		"TicketId":         {ticketIDValue},
		"Timestamp":        {time.Now().UTC().Format("2006-01-02T15:04:05Z")},
		"Version":          {apiVersion},
	}
	params.Set("Signature", cloudauth.SignV1(http.MethodGet, params, accessKeySecret))
	return server.URL + "/?" + params.Encode()
}

// floorGetStatus is the least work a GetStatus call can do: one GET of a
// signed URL, the body read whole and decoded into a small struct.
func floorGetStatus(client *http.Client, signedURL string) (statusResult, error) {
	var result statusResult
	resp, err := client.Get(signedURL)
	if err != nil {
		return result, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return result, err
	}
	if resp.StatusCode != http.StatusOK {
		return result, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	err = json.Unmarshal(body, &result)
	return result, err
}
