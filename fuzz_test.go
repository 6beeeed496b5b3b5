package cloudauth

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addFixtureSeeds adds every fixture file that ends in one of exts to f's
// seed corpus.
func addFixtureSeeds(f *testing.F, exts ...string) {
	entries, err := os.ReadDir(fixturesDir)
	if err != nil {
		f.Fatalf("reading the fixtures: %v", err)
	}
	for _, entry := range entries {
		for _, ext := range exts {
			if strings.HasSuffix(entry.Name(), ext) {
				data, err := os.ReadFile(filepath.Join(fixturesDir, entry.Name()))
				if err == nil {
					f.Add(data)
				}
			}
		}
	}
}

func fuzzResponse(status int) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"X-Acs-Request-Id": {"hdr"}}}
}

// FuzzDecodeSuccessJSON checks that no 2xx body panics the decoder and that
// a successful decode always carries a StatusCode.
func FuzzDecodeSuccessJSON(f *testing.F) {
	addFixtureSeeds(f, ".json")
	for _, seed := range []string{
		`{"Data":{"StatusCode":"1","SimilarityScore":"93.12"},"Success":"true"}`,
		`{"Data":null}`, `{"Data":{"StatusCode":{}}}`, `[]`, `"x"`, `{"Success":false,"Code":1}`,
		"\xEF\xBB\xBF{\"Data\":{\"StatusCode\":1e400}}", `{"Data":{"StatusCode":"\u0031"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecodeSuccess(t, body)
	})
}

// FuzzDecodeSuccessXML is FuzzDecodeSuccessJSON for XML bodies.
func FuzzDecodeSuccessXML(f *testing.F) {
	addFixtureSeeds(f, ".xml")
	for _, seed := range []string{
		`<R><Data><StatusCode>2</StatusCode></Data></R>`, `<R><Data/></R>`,
		`<?xml version="1.0"?><R><Success>false</Success><Code>X</Code></R>`,
		`<R><Data><StatusCode>1</StatusCode><StatusCode>2</StatusCode></Data></R>`,
		`<html><body>502</body></html>`, `<R><Data><![CDATA[x]]></Data></R>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecodeSuccess(t, body)
	})
}

func checkDecodeSuccess(t *testing.T, body []byte) {
	var env envelope[getStatusData]
	err := decodeSuccess(fuzzResponse(200), body, &env, nil)
	if err == nil && (env.Data == nil || !env.Data.StatusCode.set) {
		t.Fatalf("decoded without a StatusCode: %q", body)
	}
	if err != nil && err.Error() == "" {
		t.Fatal("empty error text")
	}
}

// FuzzParseErrorBody checks that no error body of any kind panics the
// parser and that the APIError keeps the HTTP status.
func FuzzParseErrorBody(f *testing.F) {
	addFixtureSeeds(f, ".json", ".xml")
	for _, seed := range []string{
		`{"RequestId":123,"Code":true,"Message":{"a":1}}`, `<Error><Code>X</Code>`, "",
		"<!DOCTYPE html><html><script>alert(1)</script><body>Bad Gateway</body></html>",
		"\xff\xfe\x00", `{"Code":"Throttling.User"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, status := range []int{400, 502} {
			apiErr := parseErrorBody(fuzzResponse(status), body, nil)
			if apiErr.HTTPStatusCode != status {
				t.Fatalf("status %d became %d", status, apiErr.HTTPStatusCode)
			}
			if len(apiErr.Message) > maxMessageBytes+len("…") {
				t.Fatalf("message of %d bytes exceeds the cap", len(apiErr.Message))
			}
			_ = apiErr.Error()
		}
	})
}

// FuzzPercentEncode checks the encoder against net/url: the result uses
// only unreserved characters and escapes, and decodes back to the input.
func FuzzPercentEncode(f *testing.F) {
	for _, seed := range []string{"", "a b+c*d~e", "!'()/=&%", "实人认证", "\x00\xff", "%zz"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		encoded := PercentEncode(s)
		for i := 0; i < len(encoded); i++ {
			if c := encoded[i]; c != '%' && shouldEscape(c) {
				t.Fatalf("PercentEncode(%q) = %q keeps reserved byte %q", s, encoded, c)
			}
		}
		decoded, err := url.PathUnescape(encoded)
		if err != nil {
			t.Fatalf("PercentEncode(%q) = %q does not decode: %v", s, encoded, err)
		}
		if decoded != s {
			t.Fatalf("round trip of %q gave %q", s, decoded)
		}
		if strings.Contains(encoded, "+") {
			t.Fatalf("PercentEncode(%q) = %q contains '+'", s, encoded)
		}
	})
}

// FuzzStringToSignV1 checks the one-pass V1 encoder against the definition:
// the query is appendCanonicalQuery's, and the string to sign is the method,
// "&%2F&" and the percent-encoded query.
func FuzzStringToSignV1(f *testing.F) {
	f.Add("Timestamp", "2024-05-20T08:15:30Z", "Biz", "实人 认证*~")
	f.Add("", "", "%", "&=+")
	f.Fuzz(func(t *testing.T, name1, value1, name2, value2 string) {
		params := []queryParam{{name1, value1}, {name2, value2}}
		sortParams(params)
		query, stringToSign := appendQueryAndStringToSignV1(nil, nil, http.MethodGet, params)

		expectedQuery := string(appendCanonicalQuery(nil, params))
		if string(query) != expectedQuery {
			t.Fatalf("query %q, expected %q", query, expectedQuery)
		}
		expected := "GET&%2F&" + PercentEncode(expectedQuery)
		if string(stringToSign) != expected {
			t.Fatalf("string to sign %q, expected %q", stringToSign, expected)
		}
	})
}
