package bench

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/utils"
	"github.com/cloudauth-go/cloudauth"
)

// signedParamsV1 returns the query parameters of a GetStatus request that a
// V1 signature covers, with a fixed nonce and timestamp.
func signedParamsV1() url.Values {
	return url.Values{
		"AccessKeyId":      {accessKeyID},
		"Action":           {"GetStatus"},
		"Biz":              {bizValue},
		"Format":           {"JSON"},
		"RegionId":         {regionID},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureNonce":   {"3f2c5d8e9a1b4c7d8e0f1a2b3c4d5e6f"},
		"SignatureVersion": {"1.0"},
		"TicketId":         {ticketIDValue},
		"Timestamp":        {"2024-05-20T08:15:30Z"},
		"Version":          {apiVersion},
	}
}

// newSDKSignRequest returns a GetStatus common request prepared as the SDK
// prepares one before signing it.
func newSDKSignRequest() *requests.CommonRequest {
	request := requests.NewCommonRequest()
	request.Method = requests.GET
	request.Scheme = requests.HTTP
	request.Domain = server.host
	request.Version = apiVersion
	request.ApiName = "GetStatus"
	request.QueryParams["Biz"] = bizValue
	request.QueryParams["TicketId"] = ticketIDValue
	request.TransToAcsRequest()
	return request
}

// BenchmarkSign measures one request signature. The cloudauth functions
// take a fixed nonce and timestamp, while the SDK's auth.Sign also makes
// them. ShaHmac1 is the SDK's HMAC and base64 step alone.
func BenchmarkSign(b *testing.B) {
	b.Run("cloudauth_SignV1", func(b *testing.B) {
		params := signedParamsV1()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if cloudauth.SignV1(http.MethodGet, params, accessKeySecret) == "" {
				b.Fatal("empty signature")
			}
		}
	})

	b.Run("cloudauth_SignV3", func(b *testing.B) {
		query := url.Values{
			"Biz":      {bizValue},
			"Format":   {"JSON"},
			"RegionId": {regionID},
			"TicketId": {ticketIDValue},
		}
		headers := http.Header{
			"Host":                  {"cloudauth.aliyuncs.com"},
			"X-Acs-Action":          {"GetStatus"},
			"X-Acs-Content-Sha256":  {cloudauth.HashPayloadV3(nil)},
			"X-Acs-Date":            {"2024-05-20T08:15:30Z"},
			"X-Acs-Signature-Nonce": {"3f2c5d8e9a1b4c7d8e0f1a2b3c4d5e6f"},
			"X-Acs-Version":         {apiVersion},
		}
		hashedPayload := cloudauth.HashPayloadV3(nil)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			authorization := cloudauth.SignV3(http.MethodGet, "/", query, headers, hashedPayload,
				accessKeyID, accessKeySecret)
			if authorization == "" {
				b.Fatal("empty Authorization")
			}
		}
	})

	b.Run("sdk_auth_Sign", func(b *testing.B) {
		request := newSDKSignRequest()
		provider := credentials.NewStaticAKCredentialsProvider(accessKeyID, accessKeySecret)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := auth.Sign(request, nil, regionID, provider); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("sdk_ShaHmac1", func(b *testing.B) {
		stringToSign := cloudauth.StringToSignV1(http.MethodGet, signedParamsV1())
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if utils.ShaHmac1(stringToSign, accessKeySecret+"&") == "" {
				b.Fatal("empty signature")
			}
		}
	})
}
