package cloudauthtest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The vectors below are the published V1 and V3 examples: the API
// documentation's DescribeRegions (V1-A), DescribeDedicatedHosts (V1-F) and
// RunInstances (V3-A) requests, and the openapi-util unit tests (V1-C, V3-B).

func TestRFC3986Encode(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"AZaz09-_.~", "AZaz09-_.~"},
		{"a b", "a%20b"},
		{"a+b*c", "a%2Bb%2Ac"},
		{"2016-02-23T12:46:24Z", "2016-02-23T12%3A46%3A24Z"},
		{"/", "%2F"},
		{"不", "%E4%B8%8D"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, rfc3986Encode(tt.in))
		})
	}
}

func TestCanonicalQuerySortsAndSkips(t *testing.T) {
	params := url.Values{
		"b":         {"2"},
		"a":         {"z", "y"},
		"ab":        {""},
		"Signature": {"ignored"},
	}
	assert.Equal(t, "a=y&a=z&ab=&b=2", canonicalQuery(params, "Signature"))
	assert.Equal(t, "Signature=ignored&a=y&a=z&ab=&b=2", canonicalQuery(params))
}

func TestV1Vectors(t *testing.T) {
	describeRegions := url.Values{
		"AccessKeyId":      {"testid"},
		"Action":           {"DescribeRegions"},
		"Format":           {"XML"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureNonce":   {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"SignatureVersion": {"1.0"},
		"Timestamp":        {"2016-02-23T12:46:24Z"},
		"Version":          {"2014-05-26"},
	}
	describeDedicatedHosts := url.Values{
		"AccessKeyId":      {"testid"},
		"Action":           {"DescribeDedicatedHosts"},
		"Format":           {"JSON"},
		"RegionId":         {"cn-beijing"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureNonce":   {"edb2b34af0af9a6d14deaf7c1a5315eb"},
		"SignatureVersion": {"1.0"},
		"Timestamp":        {"2023-03-13T08:34:30Z"},
		"Version":          {"2014-05-26"},
	}

	tests := []struct {
		name         string
		method       string
		secret       string
		params       url.Values
		stringToSign string // empty when the vector does not publish it
		signature    string
	}{
		{
			name:   "V1-A GET",
			method: http.MethodGet,
			secret: "testsecret",
			params: describeRegions,
			stringToSign: "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML" +
				"%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf" +
				"%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
			signature: "OLeaidS1JvxuMvnyHOwuJ+uX5qY=",
		},
		{
			name:      "V1-A POST",
			method:    http.MethodPost,
			secret:    "testsecret",
			params:    describeRegions,
			signature: "MxbnVAM4w6sft9xjVpe/GCKueuk=",
		},
		{
			name:      "V1-F GET",
			method:    http.MethodGet,
			secret:    "testsecret",
			params:    describeDedicatedHosts,
			signature: "9NaGiOspFP5UPcwX8Iwt2YJXXuk=",
		},
		{
			name:         "V1-C empty method",
			method:       "",
			secret:       "accessKeySecret",
			params:       url.Values{"test": {"ok"}},
			stringToSign: "&%2F&test%3Dok",
			signature:    "jHx/oHoHNrbVfhncHEvPdHXZwHU=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stringToSign := v1StringToSign(tt.method, tt.params)
			if tt.stringToSign != "" {
				assert.Equal(t, tt.stringToSign, stringToSign)
			}
			assert.Equal(t, tt.signature, v1Signature(tt.secret, stringToSign))
			assert.True(t, v1SignatureMatches(tt.secret, stringToSign, tt.signature))
			assert.False(t, v1SignatureMatches(tt.secret+"x", stringToSign, tt.signature))
		})
	}
}

func TestV1SignatureIgnoresSignatureParameter(t *testing.T) {
	params := url.Values{"test": {"ok"}, "Signature": {"anything"}}
	assert.Equal(t, "&%2F&test%3Dok", v1StringToSign("", params))
}

func TestV1SignatureMatchesRejectsMalformed(t *testing.T) {
	stringToSign := v1StringToSign(http.MethodGet, url.Values{"test": {"ok"}})
	assert.False(t, v1SignatureMatches("secret", stringToSign, "not base64!"))
	assert.False(t, v1SignatureMatches("secret", stringToSign, ""))
}

func TestV3VectorRunInstances(t *testing.T) {
	header := http.Header{}
	header.Set("x-acs-action", "RunInstances")
	header.Set("x-acs-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	header.Set("x-acs-date", "2023-10-26T10:22:32Z")
	header.Set("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d")
	header.Set("x-acs-version", "2014-05-26")
	query := url.Values{
		"ImageId":  {"win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"},
		"RegionId": {"cn-shanghai"},
	}
	authorization := "ACS3-HMAC-SHA256 Credential=YourAccessKeyId," +
		"SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version," +
		"Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"

	auth, err := parseV3Authorization(authorization)
	require.NoError(t, err)
	assert.Equal(t, "YourAccessKeyId", auth.AccessKeyID)

	canonical := v3CanonicalRequest(http.MethodPost, "/", query, header, "ecs.cn-shanghai.aliyuncs.com",
		auth.SignedHeaders, hexSHA256(nil))
	assert.Equal(t, "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259",
		hexSHA256([]byte(canonical)))

	stringToSign := v3StringToSign(canonical)
	assert.Equal(t, auth.Signature, v3Signature("YourAccessKeySecret", stringToSign))
	assert.True(t, v3SignatureMatches("YourAccessKeySecret", stringToSign, auth.Signature))
	assert.False(t, v3SignatureMatches("OtherSecret", stringToSign, auth.Signature))
}

func TestV3VectorOpenAPIUtil(t *testing.T) {
	header := http.Header{}
	header.Add("x-acs-test", "http")
	header.Add("x-acs-TEST", "https")
	query := url.Values{"test": {"ok"}, "empty": {""}}
	const payloadHash = "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23"
	authorization := "ACS3-HMAC-SHA256 Credential=acesskey,SignedHeaders=x-acs-test," +
		"Signature=4ab59fffe3c5738ff8a2729f90cc04fe18b02a4b15b2102cbaf92f9ff3df2ea3"

	auth, err := parseV3Authorization(authorization)
	require.NoError(t, err)

	canonical := v3CanonicalRequest("", "", query, header, "", auth.SignedHeaders, payloadHash)
	assert.Equal(t, "\n/\nempty=&test=ok\nx-acs-test:http,https\n\nx-acs-test\n"+payloadHash, canonical)

	stringToSign := v3StringToSign(canonical)
	assert.Equal(t, auth.Signature, v3Signature("secret", stringToSign))
	assert.True(t, v3SignatureMatches("secret", stringToSign, auth.Signature))
}

func TestV3CanonicalHeadersTrimsAndSortsValues(t *testing.T) {
	header := http.Header{}
	header.Add("X-Acs-B", "  z ")
	header.Add("X-Acs-B", "a")
	header.Add("Content-Type", " application/x-www-form-urlencoded ")

	got := v3CanonicalHeaders(header, "example.test:80", []string{"content-type", "host", "x-acs-b"})
	assert.Equal(t, "content-type:application/x-www-form-urlencoded\nhost:example.test:80\nx-acs-b:a,z\n", got)
}

func TestParseV3Authorization(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		wantErr string
	}{
		{"valid", "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host;x-acs-date,Signature=ab", ""},
		{"spaces after commas", "ACS3-HMAC-SHA256 Credential=id, SignedHeaders=host, Signature=ab", ""},
		{"other scheme", "HMAC-SHA1 Credential=id,SignedHeaders=host,Signature=ab", "does not start with"},
		{"missing signature", "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host", "non-empty"},
		{"field without value", "ACS3-HMAC-SHA256 Credential,SignedHeaders=host,Signature=ab", "has no '='"},
		{"unknown field", "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host,Signature=ab,Extra=1", "unknown field"},
		{"repeated field", "ACS3-HMAC-SHA256 Credential=id,Credential=id,SignedHeaders=host,Signature=ab", "repeats"},
		{"upper-case header", "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=Host,Signature=ab", "lower-case"},
		{"unsorted headers", "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=x-acs-date;host,Signature=ab", "sorted"},
		{"repeated header", "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host;host,Signature=ab", "sorted"},
		{"empty header name", "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host;;x-acs-date,Signature=ab", "non-empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := parseV3Authorization(tt.header)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, "id", auth.AccessKeyID)
				assert.Equal(t, "ab", auth.Signature)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
