// Package bench compares the cloudauth client's GetStatus and signers with
// the official Alibaba Cloud Go SDK and with a plain net/http request, all
// against one in-process server on 127.0.0.1.
//
// By default the server is minimal: it writes one prebuilt response to
// every request and allocates nothing per request, so the figures are the
// clients' own. Pass -server=nethttp to call a net/http server instead.
//
// It is a separate module so that users of cloudauth never download the
// official SDK. The package holds only benchmarks and the tests that check
// every benchmarked path really reaches the loopback server.
package bench
