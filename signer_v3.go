package cloudauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// This file holds the signature V3 (ACS3-HMAC-SHA256) signer, which the
// platform accepts for RPC APIs in place of the V1 query signature. Like the
// V1 signer its functions are pure, because the caller chooses x-acs-date and
// x-acs-signature-nonce and passes them in as ordinary headers.
//
//	CanonicalRequest = METHOD "\n" path "\n" CanonicalQuery "\n"
//	                   CanonicalHeaders "\n" SignedHeaders "\n" HashedPayload
//	StringToSign     = "ACS3-HMAC-SHA256\n" hex(SHA-256(CanonicalRequest))
//	Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
//	Authorization    = "ACS3-HMAC-SHA256 Credential=" AccessKeyId
//	                   ",SignedHeaders=" SignedHeaders ",Signature=" Signature
//
// CanonicalQuery is the same enc(name)=enc(value) list, joined by '&', that V1
// signs. Each canonical header is written name:value and ends in '\n', so the
// canonical request has an empty line after the last header.

// signatureAlgorithmV3 is the algorithm name that starts both the string to
// sign and the Authorization value.
const signatureAlgorithmV3 = "ACS3-HMAC-SHA256"

// emptyPayloadHashV3 is hex(SHA-256("")), the hashed payload of a request
// without a body.
const emptyPayloadHashV3 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// HashPayloadV3 returns the hex SHA-256 of a request body, which signature V3
// signs as the hashed payload and the request also sends in the
// x-acs-content-sha256 header. An empty or nil body gives
// e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.
func HashPayloadV3(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// CanonicalRequestV3 returns the signature V3 canonical request of an HTTP
// request and the signed header names joined by ';'.
//
// An empty path is written "/". Any other path is written as given, so it
// must already be percent-encoded. Query parameters are sorted by name, and
// the values of one name keep their order. The signed headers are those named
// host, content-type or x-acs-*, matched without regard to case. Their names
// are lower-cased and their values trimmed, and the values of names that are
// equal after lower-casing are sorted and joined by ','. A header with no
// values is not signed. net/http keeps the Host header in Request.Host rather
// than in Request.Header, so the caller must add "host" to headers itself.
func CanonicalRequestV3(method, path string, query url.Values, headers http.Header, hashedPayload string) (canonicalRequest, signedHeaders string) {
	sortedHeaders := canonicalHeadersV3(headers)
	canonical := appendCanonicalRequestV3(nil, method, path, paramsFromValues(query), sortedHeaders, hashedPayload)
	return string(canonical), string(appendSignedHeadersV3(nil, sortedHeaders))
}

// SignV3 returns the signature V3 Authorization header value for an HTTP
// request, in the form
//
//	ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<names>,Signature=<hex>
//
// The request is canonicalized as CanonicalRequestV3 describes, so headers
// must include host. hashedPayload is HashPayloadV3 of the body. SignV3 adds
// no headers. The caller sets x-acs-action, x-acs-version, x-acs-date,
// x-acs-signature-nonce, x-acs-content-sha256 and, with STS credentials,
// x-acs-security-token, and each is signed only if it is present in headers.
func SignV3(method, path string, query url.Values, headers http.Header, hashedPayload, accessKeyID, accessKeySecret string) (authorization string) {
	signed := appendSignV3(nil, method, path, paramsFromValues(query), canonicalHeadersV3(headers),
		hashedPayload, accessKeyID, accessKeySecret)
	return string(signed)
}

// isSignedHeaderV3 reports whether signature V3 signs the header with the
// given lower-case name.
func isSignedHeaderV3(name string) bool {
	return name == "host" || name == "content-type" || strings.HasPrefix(name, "x-acs-")
}

// canonicalHeadersV3 returns the headers that signature V3 signs, in the form
// appendSignV3 expects: names lower-cased, values trimmed, the values of one
// name sorted and joined by ',', and the result sorted by name.
func canonicalHeadersV3(headers http.Header) []queryParam {
	var fields []queryParam
	for key, values := range headers {
		name := strings.ToLower(key)
		if !isSignedHeaderV3(name) {
			continue
		}
		for _, value := range values {
			fields = append(fields, queryParam{name, strings.TrimSpace(value)})
		}
	}

	// Sorting by name and then by value puts the values of one name next to
	// each other and in the order in which they are joined.
	slices.SortFunc(fields, func(a, b queryParam) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	merged := fields[:0]
	for _, field := range fields {
		if last := len(merged) - 1; last >= 0 && merged[last].name == field.name {
			merged[last].value += "," + field.value
			continue
		}
		merged = append(merged, field)
	}
	return merged
}

// appendSignedHeadersV3 appends the names of sortedHeaders joined by ';'.
func appendSignedHeadersV3(dst []byte, sortedHeaders []queryParam) []byte {
	for i, header := range sortedHeaders {
		if i > 0 {
			dst = append(dst, ';')
		}
		dst = append(dst, header.name...)
	}
	return dst
}

// appendCanonicalRequestV3 appends the signature V3 canonical request.
// sortedQuery must be sorted by name, and sortedHeaders must be in the form
// that canonicalHeadersV3 returns.
func appendCanonicalRequestV3(dst []byte, method, path string, sortedQuery, sortedHeaders []queryParam, hashedPayload string) []byte {
	if path == "" {
		path = "/"
	}
	dst = append(dst, method...)
	dst = append(dst, '\n')
	dst = append(dst, path...)
	dst = append(dst, '\n')
	dst = appendCanonicalQuery(dst, sortedQuery)
	dst = append(dst, '\n')
	for _, header := range sortedHeaders {
		dst = append(dst, header.name...)
		dst = append(dst, ':')
		dst = append(dst, header.value...)
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = appendSignedHeadersV3(dst, sortedHeaders)
	dst = append(dst, '\n')
	return append(dst, hashedPayload...)
}

// appendSignV3 appends the signature V3 Authorization value to dst and
// returns the extended slice. It is the allocation-light form of SignV3 for
// the request pipeline. sortedQuery must be sorted by name, and sortedHeaders
// must already be lower-cased, trimmed, merged and sorted as
// canonicalHeadersV3 returns them. The canonical request and the string to
// sign are built in the spare capacity of dst and then overwritten, so a dst
// reused across requests saves the buffer allocation.
func appendSignV3(dst []byte, method, path string, sortedQuery, sortedHeaders []queryParam, hashedPayload, accessKeyID, accessKeySecret string) []byte {
	start := len(dst)
	dst = slices.Grow(dst, scratchSizeV3(method, path, sortedQuery, sortedHeaders, hashedPayload, accessKeyID))

	dst = appendCanonicalRequestV3(dst, method, path, sortedQuery, sortedHeaders, hashedPayload)
	canonicalHash := sha256.Sum256(dst[start:])
	dst = dst[:start]

	dst = append(dst, signatureAlgorithmV3+" Credential="...)
	dst = append(dst, accessKeyID...)
	dst = append(dst, ",SignedHeaders="...)
	dst = appendSignedHeadersV3(dst, sortedHeaders)
	dst = append(dst, ",Signature="...)

	// The string to sign goes after the Authorization prefix and is then
	// replaced by the hex signature, which is shorter.
	signatureStart := len(dst)
	dst = append(dst, signatureAlgorithmV3+"\n"...)
	dst = hex.AppendEncode(dst, canonicalHash[:])
	state, _ := hmacSHA256Pool.Get().(*hmacSHA256State)
	if state == nil || state.secret != accessKeySecret {
		state = &hmacSHA256State{secret: accessKeySecret, mac: hmac.New(sha256.New, []byte(accessKeySecret))}
	}
	state.mac.Write(dst[signatureStart:])
	signature := state.mac.Sum(state.sum[:0])
	dst = hex.AppendEncode(dst[:signatureStart], signature)
	state.mac.Reset()
	hmacSHA256Pool.Put(state)
	return dst
}

// hmacSHA256State is an HMAC-SHA256 keyed for one AccessKey secret, with
// room for its sum, so that a pooled state signs without allocating.
type hmacSHA256State struct {
	secret string
	mac    hash.Hash
	sum    [sha256.Size]byte
}

// hmacSHA256Pool holds reset HMAC-SHA256 states for reuse, because keying a
// new one allocates several times per signature. appendSignV3 replaces a
// state keyed for another secret, so signatures stay correct when a process
// signs with several secrets.
var hmacSHA256Pool sync.Pool

// scratchSizeV3 returns an upper bound on the bytes appendSignV3 writes past
// the end of dst, so it can grow dst once. The canonical request is bounded
// by encoding every query byte as %XX. The Authorization prefix is followed
// by the string to sign, whose length is 17+64 bytes.
func scratchSizeV3(method, path string, sortedQuery, sortedHeaders []queryParam, hashedPayload, accessKeyID string) int {
	headerBytes := 0
	nameBytes := 0
	for _, header := range sortedHeaders {
		headerBytes += len(header.name) + len(header.value) + 2
		nameBytes += len(header.name) + 1
	}
	canonicalSize := len(method) + len(path) + 1 + len(hashedPayload) + 5 + headerBytes + nameBytes
	for _, param := range sortedQuery {
		canonicalSize += 3*(len(param.name)+len(param.value)) + 2
	}

	const fixedAuthorizationBytes = len(signatureAlgorithmV3 + " Credential=" + ",SignedHeaders=" + ",Signature=")
	const stringToSignBytes = len(signatureAlgorithmV3+"\n") + 2*sha256.Size
	authorizationSize := fixedAuthorizationBytes + len(accessKeyID) + nameBytes + stringToSignBytes
	return max(canonicalSize, authorizationSize)
}
