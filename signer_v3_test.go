package cloudauth

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requestV3 is the input of one signature V3 computation.
type requestV3 struct {
	method, path              string
	query                     url.Values
	headers                   http.Header
	hashedPayload             string
	accessKeyID, accessSecret string
}

// vectorV3A is the published RunInstances example, signed by
// YourAccessKeyId with the secret YourAccessKeySecret.
func vectorV3A() requestV3 {
	return requestV3{
		method: "POST",
		path:   "/",
		query: url.Values{
			"ImageId":  {"win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"},
			"RegionId": {"cn-shanghai"},
		},
		headers: http.Header{
			"Host":                  {"ecs.cn-shanghai.aliyuncs.com"},
			"X-Acs-Action":          {"RunInstances"},
			"X-Acs-Content-Sha256":  {emptyPayloadHashV3},
			"X-Acs-Date":            {"2023-10-26T10:22:32Z"},
			"X-Acs-Signature-Nonce": {"3156853299f313e23d1673dc12e1703d"},
			"X-Acs-Version":         {"2014-05-26"},
		},
		hashedPayload: emptyPayloadHashV3,
		accessKeyID:   "YourAccessKeyId",
		accessSecret:  "YourAccessKeySecret",
	}
}

// vectorV3B is the published openapi-util example: an empty method and path,
// an empty query value, and two header names that differ only in case. The
// map is built literally so that its keys keep their odd case.
func vectorV3B() requestV3 {
	return requestV3{
		query: url.Values{"test": {"ok"}, "empty": {""}},
		headers: http.Header{
			"x-acs-test": {"http"},
			"x-acs-TEST": {"https"},
		},
		hashedPayload: "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23",
		accessKeyID:   "acesskey",
		accessSecret:  "secret",
	}
}

// getStatusRequestV3 is a GetStatus call with hand-picked date, nonce and
// ticket, signed with the secret exampleSecret.
func getStatusRequestV3() requestV3 {
	return requestV3{
		method: "POST",
		path:   "/",
		query: url.Values{
			"Biz":      {"RPBasic"},
			"TicketId": {"7f3b2c1e-5d4a-4e8b-9c0f-1a2b3c4d5e6f"},
			"RegionId": {"cn-hangzhou"},
		},
		headers: http.Header{
			"Host":                  {"cloudauth.aliyuncs.com"},
			"X-Acs-Action":          {"GetStatus"},
			"X-Acs-Version":         {"2018-09-16"},
			"X-Acs-Date":            {"2024-05-20T08:15:30Z"},
			"X-Acs-Signature-Nonce": {"9b1d3c5e7f9a1b3d5f7e9c1a3b5d7f9e"},
			"X-Acs-Content-Sha256":  {emptyPayloadHashV3},
			"Accept":                {"application/json"},
			"User-Agent":            {"cloudauth-go"},
		},
		hashedPayload: emptyPayloadHashV3,
		accessKeyID:   "exampleKeyId",
		accessSecret:  "exampleSecret",
	}
}

func (r requestV3) canonical() (canonicalRequest, signedHeaders string) {
	return CanonicalRequestV3(r.method, r.path, r.query, r.headers, r.hashedPayload)
}

func (r requestV3) sign() string {
	return SignV3(r.method, r.path, r.query, r.headers, r.hashedPayload, r.accessKeyID, r.accessSecret)
}

// appendSign signs r through the internal fast path, converting the query and
// headers the way the exported functions do.
func (r requestV3) appendSign(dst []byte) []byte {
	return appendSignV3(dst, r.method, r.path, paramsFromValues(r.query), canonicalHeadersV3(r.headers),
		r.hashedPayload, r.accessKeyID, r.accessSecret)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSignV3VectorA(t *testing.T) {
	request := vectorV3A()

	canonical, signedHeaders := request.canonical()
	assert.Equal(t, "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259", sha256Hex(canonical))
	assert.Equal(t, "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version",
		signedHeaders)

	want := "ACS3-HMAC-SHA256 Credential=YourAccessKeyId," +
		"SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version," +
		"Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
	assert.Equal(t, want, request.sign())
	assert.Equal(t, want, string(request.appendSign(nil)))
}

func TestSignV3VectorB(t *testing.T) {
	request := vectorV3B()

	canonical, signedHeaders := request.canonical()
	assert.Equal(t, "\n/\nempty=&test=ok\nx-acs-test:http,https\n\nx-acs-test\n"+
		"55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23", canonical)
	assert.Equal(t, "x-acs-test", signedHeaders)

	want := "ACS3-HMAC-SHA256 Credential=acesskey,SignedHeaders=x-acs-test," +
		"Signature=4ab59fffe3c5738ff8a2729f90cc04fe18b02a4b15b2102cbaf92f9ff3df2ea3"
	assert.Equal(t, want, request.sign())
	assert.Equal(t, want, string(request.appendSign(nil)))
}

// The expected Authorization was computed outside this package, with
// sha256sum over the canonical request below and openssl dgst -sha256 -hmac
// over the string to sign. The same two commands reproduce vector V3-B.
func TestSignV3GetStatusGolden(t *testing.T) {
	request := getStatusRequestV3()

	wantCanonical := "POST\n" +
		"/\n" +
		"Biz=RPBasic&RegionId=cn-hangzhou&TicketId=7f3b2c1e-5d4a-4e8b-9c0f-1a2b3c4d5e6f\n" +
		"host:cloudauth.aliyuncs.com\n" +
		"x-acs-action:GetStatus\n" +
		"x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
		"x-acs-date:2024-05-20T08:15:30Z\n" +
		"x-acs-signature-nonce:9b1d3c5e7f9a1b3d5f7e9c1a3b5d7f9e\n" +
		"x-acs-version:2018-09-16\n" +
		"\n" +
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	canonical, signedHeaders := request.canonical()
	assert.Equal(t, wantCanonical, canonical)
	assert.Equal(t, "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version",
		signedHeaders)

	want := "ACS3-HMAC-SHA256 Credential=exampleKeyId," +
		"SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version," +
		"Signature=7bb7582054393def648b3ef3acb50f0ff1bff3e6a13bc0fb401a085f2c19042f"
	assert.Equal(t, want, request.sign())
}

func TestCanonicalRequestV3TrimsHeaderValues(t *testing.T) {
	headers := http.Header{
		"Host":         {"  cloudauth.aliyuncs.com "},
		"X-Acs-Action": {"\tGetStatus\t"},
		"X-Acs-Multi":  {" b ", "a  "},
	}
	canonical, _ := CanonicalRequestV3("GET", "/", nil, headers, emptyPayloadHashV3)

	lines := strings.Split(canonical, "\n")
	require.Len(t, lines, 9)
	assert.Equal(t, "host:cloudauth.aliyuncs.com", lines[3])
	assert.Equal(t, "x-acs-action:GetStatus", lines[4])
	assert.Equal(t, "x-acs-multi:a,b", lines[5], "values are trimmed before they are sorted")
}

func TestCanonicalRequestV3ExcludesOtherHeaders(t *testing.T) {
	headers := http.Header{
		"Host":           {"cloudauth.aliyuncs.com"},
		"Content-Type":   {"application/x-www-form-urlencoded"},
		"X-Acs-Date":     {"2024-05-20T08:15:30Z"},
		"Accept":         {"application/json"},
		"Authorization":  {"ACS3-HMAC-SHA256 Credential=old"},
		"Content-Length": {"0"},
		"Content-Md5":    {"1B2M2Y8AsgTpgAmY7PhCfg=="},
		"User-Agent":     {"cloudauth-go"},
		"X-Acsdate":      {"no hyphen after x-acs"},
		"X-Forwarded":    {"proxy"},
		"Hostname":       {"not host"},
		"X-Acs-Empty":    {},
	}
	canonical, signedHeaders := CanonicalRequestV3("GET", "/", nil, headers, emptyPayloadHashV3)

	assert.Equal(t, "content-type;host;x-acs-date", signedHeaders)
	assert.Equal(t, "GET\n/\n\n"+
		"content-type:application/x-www-form-urlencoded\n"+
		"host:cloudauth.aliyuncs.com\n"+
		"x-acs-date:2024-05-20T08:15:30Z\n"+
		"\n"+
		"content-type;host;x-acs-date\n"+
		emptyPayloadHashV3, canonical)
}

func TestCanonicalRequestV3MergesHeaderValues(t *testing.T) {
	headers := http.Header{}
	headers.Add("X-Acs-Test", "https")
	headers.Add("X-Acs-Test", "http")
	headers["x-acs-test"] = []string{"ftp"}
	headers["CONTENT-TYPE"] = []string{"text/plain"}

	canonical, signedHeaders := CanonicalRequestV3("GET", "/", nil, headers, emptyPayloadHashV3)
	assert.Equal(t, "content-type;x-acs-test", signedHeaders)
	assert.Contains(t, canonical, "\ncontent-type:text/plain\nx-acs-test:ftp,http,https\n\n")
}

func TestCanonicalRequestV3NoHeaders(t *testing.T) {
	canonical, signedHeaders := CanonicalRequestV3("GET", "", url.Values{"a": {"1"}}, nil, emptyPayloadHashV3)
	assert.Equal(t, "", signedHeaders)
	assert.Equal(t, "GET\n/\na=1\n\n\n"+emptyPayloadHashV3, canonical)
}

func TestCanonicalRequestV3KeepsPath(t *testing.T) {
	canonical, _ := CanonicalRequestV3("GET", "/v1/tickets/a%20b", nil, nil, emptyPayloadHashV3)
	assert.True(t, strings.HasPrefix(canonical, "GET\n/v1/tickets/a%20b\n"), canonical)
}

func TestCanonicalRequestV3QueryEncoding(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"unreserved", "AZaz09-_.~", "AZaz09-_.~"},
		{"space", "a b", "a%20b"},
		{"plus", "a+b", "a%2Bb"},
		{"asterisk", "*", "%2A"},
		{"tilde", "~", "~"},
		{"sub-delims", "!'()", "%21%27%28%29"},
		{"slash", "a/b", "a%2Fb"},
		{"equals", "a=b", "a%3Db"},
		{"ampersand", "a&b", "a%26b"},
		{"percent", "100%", "100%25"},
		{"colon", "2024-05-20T08:15:30Z", "2024-05-20T08%3A15%3A30Z"},
		{"non-ASCII", "实人认证", "%E5%AE%9E%E4%BA%BA%E8%AE%A4%E8%AF%81"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			canonical, _ := CanonicalRequestV3("GET", "/", url.Values{"k": {tt.value}}, nil, emptyPayloadHashV3)
			lines := strings.Split(canonical, "\n")
			require.Len(t, lines, 6)
			assert.Equal(t, "k="+tt.want, lines[2])
		})
	}
}

func TestCanonicalRequestV3QueryNamesEncoded(t *testing.T) {
	query := url.Values{"a b": {"1"}, "实": {"2"}}
	canonical, _ := CanonicalRequestV3("GET", "/", query, nil, emptyPayloadHashV3)
	assert.Equal(t, "a%20b=1&%E5%AE%9E=2", strings.Split(canonical, "\n")[2])
}

func TestCanonicalRequestV3QueryOrder(t *testing.T) {
	query := url.Values{
		"b":        {"2", "1"},
		"TicketId": {"t"},
		"Biz":      {"RPBasic"},
		"a":        {"z", "y"},
	}
	canonical, _ := CanonicalRequestV3("GET", "/", query, nil, emptyPayloadHashV3)
	assert.Equal(t, "Biz=RPBasic&TicketId=t&a=z&a=y&b=2&b=1", strings.Split(canonical, "\n")[2],
		"names sort by byte value and the values of one name keep their order")
}

func TestHashPayloadV3(t *testing.T) {
	assert.Equal(t, emptyPayloadHashV3, HashPayloadV3(nil))
	assert.Equal(t, emptyPayloadHashV3, HashPayloadV3([]byte{}))
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", HashPayloadV3([]byte("abc")))
}

func TestAppendSignV3MatchesSignV3(t *testing.T) {
	withToken := getStatusRequestV3()
	withToken.headers = withToken.headers.Clone()
	withToken.headers.Set("X-Acs-Security-Token", "CAIS example token")
	withToken.headers.Set("Content-Type", "application/x-www-form-urlencoded")
	withToken.hashedPayload = HashPayloadV3([]byte("Biz=RPBasic"))

	tests := []struct {
		name    string
		request requestV3
	}{
		{"V3-A", vectorV3A()},
		{"V3-B", vectorV3B()},
		{"GetStatus", getStatusRequestV3()},
		{"STS token and body", withToken},
		{"empty request", requestV3{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.request.sign()

			assert.Equal(t, want, string(tt.request.appendSign(nil)), "nil dst")

			prefix := []byte("Authorization: ")
			got := tt.request.appendSign(prefix)
			assert.Equal(t, "Authorization: "+want, string(got), "dst with content")

			reused := make([]byte, 0, 4096)
			got = tt.request.appendSign(reused)
			assert.Equal(t, want, string(got), "dst with spare capacity")
		})
	}
}

func TestAppendSignV3PresortedInput(t *testing.T) {
	query := []queryParam{
		{"Biz", "RPBasic"},
		{"RegionId", "cn-hangzhou"},
		{"TicketId", "ticket 1"},
	}
	headers := []queryParam{
		{"host", "cloudauth.aliyuncs.com"},
		{"x-acs-action", "GetStatus"},
		{"x-acs-content-sha256", emptyPayloadHashV3},
		{"x-acs-date", "2024-05-20T08:15:30Z"},
		{"x-acs-security-token", "CAIS example token"},
		{"x-acs-signature-nonce", "9b1d3c5e7f9a1b3d5f7e9c1a3b5d7f9e"},
		{"x-acs-version", "2018-09-16"},
	}
	got := appendSignV3(nil, "GET", "/", query, headers, emptyPayloadHashV3, "exampleKeyId", "exampleSecret")

	want := SignV3("GET", "/",
		url.Values{"TicketId": {"ticket 1"}, "Biz": {"RPBasic"}, "RegionId": {"cn-hangzhou"}},
		http.Header{
			"X-Acs-Version":         {"2018-09-16"},
			"X-Acs-Signature-Nonce": {"9b1d3c5e7f9a1b3d5f7e9c1a3b5d7f9e"},
			"X-Acs-Security-Token":  {"CAIS example token"},
			"X-Acs-Date":            {"2024-05-20T08:15:30Z"},
			"X-Acs-Content-Sha256":  {emptyPayloadHashV3},
			"X-Acs-Action":          {"GetStatus"},
			"Host":                  {"cloudauth.aliyuncs.com"},
		},
		emptyPayloadHashV3, "exampleKeyId", "exampleSecret")
	assert.Equal(t, want, string(got))
}

func TestAppendSignV3Allocations(t *testing.T) {
	request := getStatusRequestV3()
	query := paramsFromValues(request.query)
	headers := canonicalHeadersV3(request.headers)

	// Go 1.26.8 on linux/amd64 measures 7: one for the buffer and the rest in
	// hmac.New. The race detector adds one.
	allocs := testing.AllocsPerRun(100, func() {
		appendSignV3(nil, request.method, request.path, query, headers,
			request.hashedPayload, request.accessKeyID, request.accessSecret)
	})
	assert.LessOrEqual(t, allocs, 10.0, "a full sign into a nil dst")
}

func BenchmarkSignV3(b *testing.B) {
	request := getStatusRequestV3()
	query := paramsFromValues(request.query)
	headers := canonicalHeadersV3(request.headers)
	buf := make([]byte, 0, 1024)

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = appendSignV3(buf[:0], request.method, request.path, query, headers,
			request.hashedPayload, request.accessKeyID, request.accessSecret)
	}
}

func TestSignV3PooledStatesPerSecret(t *testing.T) {
	headers := http.Header{"host": {"cloudauth.aliyuncs.com"}, "x-acs-action": {"GetStatus"}}
	query := url.Values{"Biz": {"RPBasic"}}
	secrets := []string{"secret-one", "secret-two", "secret-three"}
	want := map[string]string{}
	for _, secret := range secrets {
		want[secret] = SignV3("GET", "/", query, headers, HashPayloadV3(nil), "id", secret)
	}
	require.NotEqual(t, want["secret-one"], want["secret-two"])

	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				secret := secrets[(g+i)%len(secrets)]
				got := SignV3("GET", "/", query, headers, HashPayloadV3(nil), "id", secret)
				if got != want[secret] {
					t.Errorf("signature for %s changed: %s", secret, got)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
