package cloudauthtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// This file computes both request signatures the platform accepts, written
// apart from the client's signer so that one bug cannot hide in both:
//
//	V1: StringToSign = METHOD "&" enc("/") "&" enc(CanonicalizedQuery)
//	    Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))
//	V3: CanonicalRequest = METHOD "\n" URI "\n" CanonicalQuery "\n"
//	        CanonicalHeaders "\n" SignedHeaders "\n" HashedPayload
//	    StringToSign = "ACS3-HMAC-SHA256\n" + hex(SHA-256(CanonicalRequest))
//	    Signature = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
//
// enc is strict RFC 3986 percent-encoding, and both canonical queries are
// enc(name) "=" enc(value) pairs sorted by name and joined by "&".

// v3Algorithm is the scheme name that opens a V3 Authorization header.
const v3Algorithm = "ACS3-HMAC-SHA256"

// rfc3986Encode percent-encodes every byte of s except the RFC 3986
// unreserved characters A-Z a-z 0-9 - _ . ~, using upper-case hex.
func rfc3986Encode(s string) string {
	const hexDigits = "0123456789ABCDEF"

	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		unreserved := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~'
		if unreserved {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0F])
	}
	return b.String()
}

// canonicalQuery returns the encoded name=value pairs of params sorted by
// name, joined by '&'. Parameters named in skip are left out. Repeated
// names are sorted by value, so the result does not depend on map order.
func canonicalQuery(params url.Values, skip ...string) string {
	type pair struct{ name, value string }

	pairs := make([]pair, 0, len(params))
	for name, values := range params {
		if slices.Contains(skip, name) {
			continue
		}
		for _, value := range values {
			pairs = append(pairs, pair{name, value})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].name != pairs[j].name {
			return pairs[i].name < pairs[j].name
		}
		return pairs[i].value < pairs[j].value
	})

	encoded := make([]string, len(pairs))
	for i, p := range pairs {
		encoded[i] = rfc3986Encode(p.name) + "=" + rfc3986Encode(p.value)
	}
	return strings.Join(encoded, "&")
}

// v1StringToSign returns the V1 string to sign for a request with the given
// HTTP method and parameters, query and form body together. The Signature
// parameter is left out.
func v1StringToSign(method string, params url.Values) string {
	return method + "&" + rfc3986Encode("/") + "&" + rfc3986Encode(canonicalQuery(params, "Signature"))
}

// v1Signature returns the base64 HMAC-SHA1 of stringToSign keyed with
// secret + "&".
func v1Signature(secret, stringToSign string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// v1SignatureMatches reports whether the base64 signature sent by a client
// is, byte for byte, the one computed for stringToSign, in constant time.
// The text is compared rather than the decoded bytes, because a decoder
// skips line breaks and ignores unused padding bits, which would accept
// several spellings of one signature.
func v1SignatureMatches(secret, stringToSign, sent string) bool {
	return hmac.Equal([]byte(sent), []byte(v1Signature(secret, stringToSign)))
}

// v3Authorization is a parsed V3 Authorization header.
type v3Authorization struct {
	AccessKeyID   string
	SignedHeaders []string
	Signature     string
}

// parseV3Authorization parses
//
//	ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b;c>,Signature=<hex>
//
// It requires each of the three fields exactly once and a SignedHeaders list
// that is lower-case, sorted and free of repeats, because the canonical request
// lists the headers that way.
func parseV3Authorization(header string) (v3Authorization, error) {
	var auth v3Authorization

	rest, ok := strings.CutPrefix(header, v3Algorithm+" ")
	if !ok {
		return auth, fmt.Errorf("the Authorization header does not start with %q", v3Algorithm+" ")
	}
	seen := make(map[string]bool)
	for _, field := range strings.Split(rest, ",") {
		name, value, found := strings.Cut(strings.TrimSpace(field), "=")
		if !found {
			return auth, fmt.Errorf("the Authorization field %q has no '='", field)
		}
		if seen[name] {
			return auth, fmt.Errorf("the Authorization header repeats the field %s", name)
		}
		seen[name] = true
		switch name {
		case "Credential":
			auth.AccessKeyID = value
		case "SignedHeaders":
			auth.SignedHeaders = strings.Split(value, ";")
		case "Signature":
			auth.Signature = value
		default:
			return auth, fmt.Errorf("the Authorization header has the unknown field %s", name)
		}
	}

	if auth.AccessKeyID == "" || auth.Signature == "" || len(auth.SignedHeaders) == 0 {
		return auth, errors.New("the Authorization header needs non-empty Credential, SignedHeaders and Signature fields")
	}
	for i, name := range auth.SignedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return auth, fmt.Errorf("SignedHeaders names must be non-empty and lower-case, found %q", name)
		}
		if i > 0 && auth.SignedHeaders[i-1] >= name {
			return auth, fmt.Errorf("SignedHeaders must be sorted without repeats, found %q after %q",
				name, auth.SignedHeaders[i-1])
		}
	}
	return auth, nil
}

// v3CanonicalHeaders returns one "name:value\n" line for each name in
// signedHeaders, which must be lower-case and sorted. The value of "host" is
// host, because net/http moves the Host header out of the header map. A
// header sent more than once contributes its trimmed values sorted and
// joined by ','.
func v3CanonicalHeaders(header http.Header, host string, signedHeaders []string) string {
	var b strings.Builder
	for _, name := range signedHeaders {
		var values []string
		if name == "host" {
			values = []string{host}
		} else {
			values = append(values, header.Values(name)...)
		}
		for i := range values {
			values[i] = strings.TrimSpace(values[i])
		}
		sort.Strings(values)
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(values, ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// v3CanonicalRequest returns the V3 canonical request. An empty uri is
// written as "/". hashedPayload is the hex SHA-256 of the body.
func v3CanonicalRequest(method, uri string, query url.Values, header http.Header, host string,
	signedHeaders []string, hashedPayload string) string {
	if uri == "" {
		uri = "/"
	}
	return strings.Join([]string{
		method,
		uri,
		canonicalQuery(query),
		v3CanonicalHeaders(header, host, signedHeaders),
		strings.Join(signedHeaders, ";"),
		hashedPayload,
	}, "\n")
}

// v3StringToSign returns the V3 string to sign for a canonical request.
func v3StringToSign(canonicalRequest string) string {
	return v3Algorithm + "\n" + hexSHA256([]byte(canonicalRequest))
}

// v3Signature returns the hex HMAC-SHA256 of stringToSign keyed with secret.
func v3Signature(secret, stringToSign string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(stringToSign))
	return hex.EncodeToString(mac.Sum(nil))
}

// v3SignatureMatches reports whether the hex signature sent by a client
// equals the one computed for stringToSign, in constant time.
//
// The lower-case hex text is compared rather than the decoded bytes, so an
// upper-case spelling is rejected as the service rejects it.
func v3SignatureMatches(secret, stringToSign, sent string) bool {
	return hmac.Equal([]byte(sent), []byte(v3Signature(secret, stringToSign)))
}

// hexSHA256 returns the lower-case hex SHA-256 of data.
func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
