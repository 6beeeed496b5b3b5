package cloudauth

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
)

// This file holds the RPC signature V1 (HMAC-SHA1) signer. Its functions are
// pure: the pipeline passes the time and nonce in as parameters, so the
// published vectors can be reproduced byte for byte.
//
//	StringToSign = METHOD "&" enc("/") "&" enc(CanonicalizedQuery)
//	CanonicalizedQuery = enc(name) "=" enc(value), sorted by name, joined by "&"
//	Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))
//
// enc is the strict RFC 3986 percent-encoding implemented by appendPercentEncoded.

// queryParam is one name and value of an RPC request's query.
type queryParam struct {
	name, value string
}

// sortParams sorts params by name, keeping the given order of equal names.
// It is an insertion sort, because a request has a dozen or so parameters
// and this sorts them without allocating.
func sortParams(params []queryParam) {
	for i := 1; i < len(params); i++ {
		for j := i; j > 0 && params[j].name < params[j-1].name; j-- {
			params[j], params[j-1] = params[j-1], params[j]
		}
	}
}

// shouldEscape reports whether RFC 3986 requires b to be percent-encoded,
// that is whether b is anything but an unreserved character
// (A-Z a-z 0-9 - _ . ~).
func shouldEscape(b byte) bool {
	switch {
	case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9':
		return false
	case b == '-', b == '_', b == '.', b == '~':
		return false
	}
	return true
}

const upperHex = "0123456789ABCDEF"

// appendPercentEncoded appends s to dst with every byte of its UTF-8 encoding
// other than an unreserved character written as %XX in upper-case hex. A
// space becomes %20 and '*' becomes %2A, unlike url.QueryEscape.
func appendPercentEncoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if shouldEscape(b) {
			dst = append(dst, '%', upperHex[b>>4], upperHex[b&0x0F])
		} else {
			dst = append(dst, b)
		}
	}
	return dst
}

// PercentEncode returns s percent-encoded as Alibaba Cloud signatures require:
// RFC 3986, where only A-Z, a-z, 0-9, '-', '_', '.' and '~' stay literal and
// every other byte of the UTF-8 encoding is written as %XX in upper-case hex.
func PercentEncode(s string) string {
	for i := 0; i < len(s); i++ {
		if shouldEscape(s[i]) {
			return string(appendPercentEncoded(make([]byte, 0, len(s)+16), s))
		}
	}
	return s
}

// appendCanonicalQuery appends the V1 canonicalized query of params, which
// must already be sorted by name. The result is also a valid URL query.
func appendCanonicalQuery(dst []byte, params []queryParam) []byte {
	for i, p := range params {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = appendPercentEncoded(dst, p.name)
		dst = append(dst, '=')
		dst = appendPercentEncoded(dst, p.value)
	}
	return dst
}

// appendStringToSignV1 appends the V1 string to sign for an HTTP method and a
// canonicalized query.
func appendStringToSignV1(dst []byte, method string, canonicalQuery []byte) []byte {
	dst = append(dst, method...)
	dst = append(dst, "&%2F&"...)
	for _, b := range canonicalQuery {
		if shouldEscape(b) {
			dst = append(dst, '%', upperHex[b>>4], upperHex[b&0x0F])
		} else {
			dst = append(dst, b)
		}
	}
	return dst
}

// appendSignatureV1 appends base64(HMAC-SHA1(secret+"&", stringToSign)).
func appendSignatureV1(dst []byte, stringToSign []byte, accessKeySecret string) []byte {
	key := make([]byte, 0, len(accessKeySecret)+1)
	key = append(key, accessKeySecret...)
	key = append(key, '&')
	mac := hmac.New(sha1.New, key)
	mac.Write(stringToSign)
	var sum [sha1.Size]byte
	return base64.StdEncoding.AppendEncode(dst, mac.Sum(sum[:0]))
}

// paramsFromValues flattens url.Values into query parameters sorted by name.
// A name with several values contributes one parameter for each, in order.
func paramsFromValues(values url.Values) []queryParam {
	params := make([]queryParam, 0, len(values))
	for name, list := range values {
		for _, value := range list {
			params = append(params, queryParam{name, value})
		}
	}
	sortParams(params)
	return params
}

// StringToSignV1 returns the RPC signature V1 string to sign for an HTTP
// method and the request's parameters. A "Signature" parameter, if present,
// is left out, since it is not signed.
func StringToSignV1(method string, params url.Values) string {
	return string(stringToSignV1(method, params))
}

func stringToSignV1(method string, params url.Values) []byte {
	sorted := paramsFromValues(params)
	kept := sorted[:0]
	for _, p := range sorted {
		if p.name != "Signature" {
			kept = append(kept, p)
		}
	}
	canonical := appendCanonicalQuery(nil, kept)
	return appendStringToSignV1(make([]byte, 0, len(canonical)*5/4+16), method, canonical)
}

// SignV1 returns the RPC signature V1 (HMAC-SHA1, base64) of an HTTP method
// and the request's parameters, all but Signature, under accessKeySecret.
// The parameters must include the common ones (AccessKeyId, Timestamp,
// SignatureNonce, ...); SignV1 adds nothing.
func SignV1(method string, params url.Values, accessKeySecret string) string {
	return string(appendSignatureV1(nil, stringToSignV1(method, params), accessKeySecret))
}
