package cloudauth

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-querystring/query"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vectorV1A is the published DescribeRegions example, which is signed with the
// secret "testsecret".
func vectorV1A() url.Values {
	return url.Values{
		"AccessKeyId":      {"testid"},
		"Action":           {"DescribeRegions"},
		"Format":           {"XML"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureNonce":   {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"SignatureVersion": {"1.0"},
		"Timestamp":        {"2016-02-23T12:46:24Z"},
		"Version":          {"2014-05-26"},
	}
}

func TestSignV1PublishedVectors(t *testing.T) {
	v1F := url.Values{
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
		name   string
		method string
		params url.Values
		secret string
		want   string
	}{
		{"V1-A GET", "GET", vectorV1A(), "testsecret", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="},
		{"V1-A POST", "POST", vectorV1A(), "testsecret", "MxbnVAM4w6sft9xjVpe/GCKueuk="},
		{"V1-F GET", "GET", v1F, "testsecret", "9NaGiOspFP5UPcwX8Iwt2YJXXuk="},
		{"V1-C empty method", "", url.Values{"test": {"ok"}}, "accessKeySecret",
			"jHx/oHoHNrbVfhncHEvPdHXZwHU="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, SignV1(tt.method, tt.params, tt.secret))
		})
	}
}

// signV1Case is a published V1 vector, for tests that sign several in turn.
type signV1Case struct {
	method string
	params url.Values
	secret string
	want   string
}

func alternatingV1Cases() []signV1Case {
	return []signV1Case{
		{"GET", vectorV1A(), "testsecret", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="},
		{"", url.Values{"test": {"ok"}}, "accessKeySecret", "jHx/oHoHNrbVfhncHEvPdHXZwHU="},
	}
}

func TestSignV1AlternatingSecrets(t *testing.T) {
	// The pooled HMAC states are keyed by secret, so each signature must
	// use its own secret whatever was signed before it.
	cases := alternatingV1Cases()
	for i := 0; i < 6; i++ {
		c := cases[i%len(cases)]
		assert.Equal(t, c.want, SignV1(c.method, c.params, c.secret), "signature %d", i)
	}
}

func TestSignV1ConcurrentSecrets(t *testing.T) {
	cases := alternatingV1Cases()
	const goroutines, iterations = 8, 200

	var wg sync.WaitGroup
	results := make([][]string, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < iterations; i++ {
				c := cases[(g+i)%len(cases)]
				results[g] = append(results[g], SignV1(c.method, c.params, c.secret))
			}
		}(g)
	}
	wg.Wait()

	for g, signatures := range results {
		for i, signature := range signatures {
			want := cases[(g+i)%len(cases)].want
			if signature != want {
				t.Fatalf("goroutine %d, signature %d: got %q, expected %q", g, i, signature, want)
			}
		}
	}
}

func TestSignV1Allocations(t *testing.T) {
	params := vectorV1A()
	SignV1(http.MethodGet, params, "testsecret")

	// Go 1.26.8 on linux/amd64 measures 1: the returned string. The race
	// detector drops pooled values at random, which adds a few.
	allocs := testing.AllocsPerRun(100, func() {
		SignV1(http.MethodGet, params, "testsecret")
	})
	assert.LessOrEqual(t, allocs, 8.0, "SignV1")

	client, err := NewClient(WithAccessKey(testKeyID, testSecret), WithEndpoint(testEndpoint))
	if err != nil {
		t.Fatal(err)
	}
	actionParams := []queryParam{{"Biz", "RPBasic"}, {"TicketId", "ticket-1"}}
	creds := Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}
	allocs = testing.AllocsPerRun(100, func() {
		client.signedQueryV1("GetStatus", actionParams, creds, "3f2c5d8e9a1b4c7d8e0f1a2b3c4d5e6f",
			"2024-05-20T08:15:30Z")
	})
	assert.LessOrEqual(t, allocs, 8.0, "signedQueryV1")

}

func TestLongTokenFitsPooledBuffers(t *testing.T) {
	// A 4,400-byte STS token whose '+', '/' and '=' are encoded twice in
	// the string to sign must leave buffers small enough for putScratch to
	// keep, or every request with it would allocate new ones.
	token := strings.Repeat("CAIS+ab/cd=", 400)
	params := []queryParam{{"AccessKeyId", testKeyID}, {"SecurityToken", token}, {"TicketId", "t1"}}
	query, stringToSign := appendQueryAndStringToSignV1(nil, nil, http.MethodGet, params)

	assert.LessOrEqual(t, cap(query), maxPooledScratch, "query capacity")
	assert.LessOrEqual(t, cap(stringToSign), maxPooledScratch, "string to sign capacity")
}

func TestStringToSignV1Golden(t *testing.T) {
	want := "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML" +
		"%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf" +
		"%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
	assert.Equal(t, want, StringToSignV1("GET", vectorV1A()))

	withSignature := vectorV1A()
	withSignature.Set("Signature", "ignored")
	assert.Equal(t, want, StringToSignV1("GET", withSignature), "Signature must not be signed")

	assert.Equal(t, "&%2F&test%3Dok", StringToSignV1("", url.Values{"test": {"ok"}}))
}

func TestPercentEncodeEdgeCases(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"AZaz09-_.~", "AZaz09-_.~"},
		{"a b", "a%20b"},
		{"a+b", "a%2Bb"},
		{"*", "%2A"},
		{"!'()", "%21%27%28%29"},
		{"/", "%2F"},
		{"=&%", "%3D%26%25"},
		{"身份证", "%E8%BA%AB%E4%BB%BD%E8%AF%81"},
		{"é", "%C3%A9"},
		{"\x00\xff", "%00%FF"},
		{"12:46:24", "12%3A46%3A24"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, PercentEncode(tt.in), "PercentEncode(%q)", tt.in)
	}
}

func TestPercentEncodeEveryByte(t *testing.T) {
	// url.QueryEscape differs from RFC 3986 encoding only in writing a space
	// as '+', so with that replaced it is an independent reference.
	reference := strings.NewReplacer("+", "%20")
	var all []byte
	for b := 0; b < 256; b++ {
		in := string([]byte{byte(b)})
		want := reference.Replace(url.QueryEscape(in))
		assert.Equal(t, want, PercentEncode(in), "byte %#02x", b)
		all = append(all, byte(b), 'x')
	}
	assert.Equal(t, reference.Replace(url.QueryEscape(string(all))), PercentEncode(string(all)),
		"all bytes in one string")
}

func TestStringToSignV1EncodesSpecialValues(t *testing.T) {
	params := url.Values{
		"TicketId": {"a b+c*d~e!'()/=&%"},
		"Biz":      {"实人认证"},
	}
	want := "GET&%2F&" +
		"Biz%3D%25E5%25AE%259E%25E4%25BA%25BA%25E8%25AE%25A4%25E8%25AF%2581" +
		"%26TicketId%3Da%2520b%252Bc%252Ad~e%2521%2527%2528%2529%252F%253D%2526%2525"
	assert.Equal(t, want, StringToSignV1("GET", params))
}

func TestParamsFromValuesOrder(t *testing.T) {
	params := paramsFromValues(url.Values{"b": {"2", "1"}, "a": {"x"}, "B": {"y"}})
	assert.Equal(t, []queryParam{{"B", "y"}, {"a", "x"}, {"b", "2"}, {"b", "1"}}, params)
}

// TestFixturesMatchProjectCopies checks testdata/fixtures against the
// project's shared fixtures folder, when a checkout has one beside it, so
// the copies cannot drift from the published vectors.
func TestFixturesMatchProjectCopies(t *testing.T) {
	shared := filepath.Join("..", "shared", "fixtures")
	entries, err := os.ReadDir(shared)
	if err != nil {
		t.Skipf("no shared fixtures folder beside this checkout: %v", err)
	}
	for _, entry := range entries {
		want, err := os.ReadFile(filepath.Join(shared, entry.Name()))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(fixturesDir, entry.Name()))
		require.NoError(t, err, "testdata/fixtures lacks %s", entry.Name())
		assert.Equal(t, string(want), string(got), entry.Name())
	}
}

func TestAppendTimestampMatchesFormat(t *testing.T) {
	times := []time.Time{
		time.Date(2024, 5, 20, 8, 15, 30, 999_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 4, 23, 30, 0, 0, time.FixedZone("UTC+8", 8*3600)),
		time.Date(2026, 12, 31, 22, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)),
		time.Unix(0, 0),
	}
	random := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		times = append(times, time.Unix(random.Int64N(1<<35), 0))
	}
	for _, moment := range times {
		expected := moment.UTC().Format(timestampLayout)
		assert.Equal(t, expected, string(appendTimestamp(nil, moment)), "time %v", moment)
	}
}

func TestGetStatusParamsMatchQueryString(t *testing.T) {
	requests := []GetStatusRequest{
		{Biz: "RPBasic", TicketID: "ticket-1"},
		{Biz: "", TicketID: ""},
		{Biz: "实人 认证", TicketID: "a&b=c+d%2F/?#"},
	}
	for _, request := range requests {
		values, err := query.Values(&request)
		require.NoError(t, err)

		params := request.appendParams(nil)
		sortParams(params)
		assert.Equal(t, paramsFromValues(values), params, "request %+v", request)
	}
}
