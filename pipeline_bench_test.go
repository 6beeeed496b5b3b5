package cloudauth

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-querystring/query"
)

// These benchmarks measure the signing work of one request inside the
// pipeline, which the bench module cannot reach from outside the package.

// benchmarkClient returns a client that signs with version and sends
// nothing, because the benchmarks only build requests.
func benchmarkClient(b *testing.B, version SignatureVersion) *Client {
	b.Helper()
	client, err := NewClient(WithAccessKey(testKeyID, testSecret), WithEndpoint(testEndpoint),
		WithSignatureVersion(version))
	if err != nil {
		b.Fatal(err)
	}
	return client
}

func benchmarkParams() []queryParam {
	return []queryParam{{"Biz", "RPBasic"}, {"TicketId", "ticket-2b1c9f0e-7a63-4d0e-9d1a-5f0c0e3b8a42"}}
}

// BenchmarkSignV1Pipeline measures the V1 signed query alone, with a fixed
// nonce and timestamp.
func BenchmarkSignV1Pipeline(b *testing.B) {
	client := benchmarkClient(b, SignatureV1)
	params := benchmarkParams()
	creds := Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}

	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		query, _ := client.signedQueryV1("GetStatus", params, creds,
			"3f2c5d8e9a1b4c7d8e0f1a2b3c4d5e6f", "2024-05-20T08:15:30Z")
		if query == "" {
			b.Fatal("empty query")
		}
	}
}

// BenchmarkNewRequest measures building one signed *http.Request: the
// nonce, the timestamp, the signature and the request itself.
func BenchmarkNewRequest(b *testing.B) {
	for _, version := range []SignatureVersion{SignatureV1, SignatureV3} {
		b.Run(version.String(), func(b *testing.B) {
			client := benchmarkClient(b, version)
			params := benchmarkParams()
			creds := Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}
			ctx := context.Background()

			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req, _, err := client.newRequest(ctx, "GetStatus", params, creds)
				if err != nil {
					b.Fatal(err)
				}
				if req.Method != http.MethodGet {
					b.Fatalf("method is %s, expected GET", req.Method)
				}
			}
		})
	}
}

// paramsSink keeps the compiler from dropping the work of a benchmark loop.
var paramsSink queryParam

// BenchmarkEncodeGetStatusRequest measures listing a GetStatusRequest's
// parameters, which GetStatus does once per call, and go-querystring's
// encoding of the same request for comparison.
func BenchmarkEncodeGetStatusRequest(b *testing.B) {
	request := &GetStatusRequest{Biz: "RPBasic", TicketID: "ticket-2b1c9f0e-7a63-4d0e-9d1a-5f0c0e3b8a42"}

	b.Run("appendParams", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var storage [2]queryParam
			params := request.appendParams(storage[:0])
			if len(params) != 2 {
				b.Fatalf("encoded %d parameters, expected 2", len(params))
			}
			paramsSink = params[1]
		}
	})
	b.Run("go-querystring", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			values, err := query.Values(request)
			if err != nil {
				b.Fatal(err)
			}
			if len(values) != 2 {
				b.Fatalf("encoded %d parameters, expected 2", len(values))
			}
		}
	})
}
