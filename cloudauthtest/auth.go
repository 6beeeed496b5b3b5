package cloudauthtest

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	// timestampLayout is the format of Timestamp and x-acs-date.
	timestampLayout = "2006-01-02T15:04:05Z"

	// timestampWindow is how far a request's timestamp may be from the
	// server's clock, either way.
	timestampWindow = 15 * time.Minute

	// nonceRetention is how long a nonce is remembered. A request with a
	// timestamp inside the window can be replayed for at most twice the
	// window after it was first seen.
	nonceRetention = 2 * timestampWindow

	// maxNonces caps the nonce cache. When it is full the oldest nonce is
	// removed, so a replay of it is no longer detected.
	maxNonces = 1 << 17

	// apiAction and apiVersion are the only action and version served.
	apiAction  = "GetStatus"
	apiVersion = "2018-09-16"
)

// v3RequiredSignedHeaders are the headers a V3 request must always sign.
// Every other x-acs-* header it sends must be signed too.
var v3RequiredSignedHeaders = []string{
	"host",
	"x-acs-action",
	"x-acs-content-sha256",
	"x-acs-date",
	"x-acs-signature-nonce",
	"x-acs-version",
}

// accessKey is a registered AccessKey pair.
type accessKey struct {
	secret        string
	securityToken string // required token of STS credentials
	sts           bool
}

// signedRequest is the part of a V1 or V3 request that authentication reads.
type signedRequest struct {
	action        string
	version       string
	accessKeyID   string
	timestamp     string
	nonce         string
	securityToken string // empty when the request sends none

	// verify reports whether the request's signature matches one made with
	// secret. It also returns what the server signed, the string to sign
	// for V1 or the canonical request for V3, labeled for an error message.
	verify func(secret string) (ok bool, serverSigned string)
}

// authenticate checks, in order, the action and version, the AccessKeyId,
// the timestamp, the signature, the security token and the nonce. It
// records the nonce only for a request that passes every other check.
func (s *Server) authenticate(req *incomingRequest) *apiError {
	var signed *signedRequest
	var err *apiError
	if strings.HasPrefix(req.http.Header.Get("Authorization"), v3Algorithm) {
		signed, err = readV3Request(req)
	} else {
		signed, err = readV1Request(req)
	}
	if err != nil {
		return err
	}

	if signed.action != apiAction {
		return newAPIError(http.StatusNotFound, "InvalidAction.NotFound",
			fmt.Sprintf("The action %q is not found. This server serves only %s.", signed.action, apiAction))
	}
	if signed.version != apiVersion {
		return newAPIError(http.StatusBadRequest, "InvalidVersion",
			fmt.Sprintf("The version %q is not valid. This server serves only %s.", signed.version, apiVersion))
	}

	s.mu.Lock()
	key, found := s.keys[signed.accessKeyID]
	now := s.nowLocked()
	s.mu.Unlock()
	if !found {
		return newAPIError(http.StatusNotFound, "InvalidAccessKeyId.NotFound",
			"Specified access key is not found.")
	}

	if err := checkTimestamp(signed.timestamp, now); err != nil {
		return err
	}
	if ok, serverSigned := signed.verify(key.secret); !ok {
		return newAPIError(http.StatusBadRequest, "SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. "+serverSigned)
	}
	if err := checkSecurityToken(key, signed); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.nonces.add(signed.nonce, s.nowLocked()) {
		return newAPIError(http.StatusBadRequest, "SignatureNonceUsed",
			"Specified signature nonce was used already.")
	}
	return nil
}

// readV1Request reads the common parameters of a V1 request.
func readV1Request(req *incomingRequest) (*signedRequest, *apiError) {
	params := req.params
	for _, name := range []string{"Action", "Version", "AccessKeyId", "SignatureMethod",
		"SignatureVersion", "SignatureNonce", "Timestamp", "Signature"} {
		if params.Get(name) == "" {
			return nil, missingParam(name)
		}
	}
	// A repeated parameter would let the request carry one value into the
	// signature and another into the checks, such as a second nonce.
	for name, values := range params {
		if len(values) > 1 {
			return nil, invalidParam(fmt.Sprintf("The parameter %s appears %d times. Send it once.", name, len(values)))
		}
	}
	if method := params.Get("SignatureMethod"); method != "HMAC-SHA1" {
		return nil, invalidParam(fmt.Sprintf("The SignatureMethod %q is not supported. Use HMAC-SHA1.", method))
	}
	if version := params.Get("SignatureVersion"); version != "1.0" {
		return nil, invalidParam(fmt.Sprintf("The SignatureVersion %q is not supported. Use 1.0.", version))
	}

	method := req.http.Method
	return &signedRequest{
		action:        params.Get("Action"),
		version:       params.Get("Version"),
		accessKeyID:   params.Get("AccessKeyId"),
		timestamp:     params.Get("Timestamp"),
		nonce:         params.Get("SignatureNonce"),
		securityToken: params.Get("SecurityToken"),
		verify: func(secret string) (bool, string) {
			stringToSign := v1StringToSign(method, params)
			ok := v1SignatureMatches(secret, stringToSign, params.Get("Signature"))
			return ok, "server string to sign is:" + redactToken(stringToSign, params.Get("SecurityToken"))
		},
	}, nil
}

// readV3Request reads the Authorization and x-acs-* headers of a V3
// request. It checks that the request signs every header it must and that
// x-acs-content-sha256 is the SHA-256 of the body.
func readV3Request(req *incomingRequest) (*signedRequest, *apiError) {
	header := req.http.Header
	auth, err := parseV3Authorization(header.Get("Authorization"))
	if err != nil {
		return nil, newAPIError(http.StatusBadRequest, "SignatureDoesNotMatch",
			"The Authorization header is malformed: "+err.Error()+".")
	}
	for _, name := range []string{"x-acs-action", "x-acs-version", "x-acs-date",
		"x-acs-signature-nonce", "x-acs-content-sha256"} {
		if header.Get(name) == "" {
			return nil, missingParam("header " + name)
		}
	}

	if missing := unsignedHeader(header, auth.SignedHeaders); missing != "" {
		return nil, newAPIError(http.StatusBadRequest, "SignatureDoesNotMatch",
			fmt.Sprintf("SignedHeaders does not include %s. Sign host, x-acs-action, x-acs-content-sha256, "+
				"x-acs-date, x-acs-signature-nonce, x-acs-version and every other x-acs-* header sent.",
				missing))
	}
	bodyHash := hexSHA256(req.body)
	if sent := header.Get("x-acs-content-sha256"); sent != bodyHash {
		return nil, newAPIError(http.StatusBadRequest, "SignatureDoesNotMatch",
			fmt.Sprintf("The x-acs-content-sha256 header %q is not the lower-case hex SHA-256 of the body, %s.",
				sent, bodyHash))
	}

	r := req.http
	return &signedRequest{
		action:        header.Get("x-acs-action"),
		version:       header.Get("x-acs-version"),
		accessKeyID:   auth.AccessKeyID,
		timestamp:     header.Get("x-acs-date"),
		nonce:         header.Get("x-acs-signature-nonce"),
		securityToken: header.Get("x-acs-security-token"),
		verify: func(secret string) (bool, string) {
			canonical := v3CanonicalRequest(r.Method, r.URL.EscapedPath(), req.query, header, r.Host,
				auth.SignedHeaders, bodyHash)
			ok := v3SignatureMatches(secret, v3StringToSign(canonical), auth.Signature)
			canonical = redactToken(canonical, header.Get("x-acs-security-token"))
			return ok, fmt.Sprintf("server canonical request is:%q", canonical)
		},
	}, nil
}

// redactToken replaces token in text with a placeholder, in the raw form a
// V3 canonical request contains and the once and twice percent-encoded
// forms a V1 string to sign contains, so that error bodies do not repeat a
// credential.
func redactToken(text, token string) string {
	if token == "" {
		return text
	}
	encoded := rfc3986Encode(token)
	for _, form := range []string{rfc3986Encode(encoded), encoded, token} {
		text = strings.ReplaceAll(text, form, "<SecurityToken>")
	}
	return text
}

// unsignedHeader returns the first header that a V3 request must sign but
// that signedHeaders leaves out, or "" when none is missing.
func unsignedHeader(header http.Header, signedHeaders []string) string {
	for _, name := range v3RequiredSignedHeaders {
		if !slices.Contains(signedHeaders, name) {
			return name
		}
	}
	var unsigned []string
	for name := range header {
		lower := strings.ToLower(name)
		mustSign := strings.HasPrefix(lower, "x-acs-") || lower == "content-type"
		if mustSign && !slices.Contains(signedHeaders, lower) {
			unsigned = append(unsigned, lower)
		}
	}
	if len(unsigned) == 0 {
		return ""
	}
	sort.Strings(unsigned)
	return unsigned[0]
}

// checkTimestamp returns InvalidTimeStamp.Expired when timestamp does not
// parse or is more than timestampWindow away from now.
func checkTimestamp(timestamp string, now time.Time) *apiError {
	sent, err := time.Parse(timestampLayout, timestamp)
	// time.Parse accepts fractional seconds the layout does not have, so
	// the value must also be exactly what the layout writes.
	if err == nil && sent.Format(timestampLayout) != timestamp {
		err = fmt.Errorf("%q has parts beyond %s", timestamp, timestampLayout)
	}
	if err != nil {
		return newAPIError(http.StatusBadRequest, "InvalidTimeStamp.Expired",
			fmt.Sprintf("Specified time stamp or date value is expired. %q is not in the format %s.",
				timestamp, timestampLayout))
	}
	if offset := sent.Sub(now); offset > timestampWindow || offset < -timestampWindow {
		return newAPIError(http.StatusBadRequest, "InvalidTimeStamp.Expired",
			fmt.Sprintf("Specified time stamp or date value is expired. %s is more than %v from the server time %s.",
				timestamp, timestampWindow, now.UTC().Format(timestampLayout)))
	}
	return nil
}

// checkSecurityToken requires the registered token for STS credentials and
// no non-empty token for a plain AccessKey pair.
func checkSecurityToken(key accessKey, signed *signedRequest) *apiError {
	switch {
	case key.sts && signed.securityToken == "":
		return newAPIError(http.StatusBadRequest, "MissingSecurityToken",
			"The SecurityToken is missing. STS credentials need their security token.")
	case key.sts && signed.securityToken != key.securityToken:
		return newAPIError(http.StatusBadRequest, "InvalidSecurityToken.Expired",
			"Specified SecurityToken is expired or not valid.")
	case !key.sts && signed.securityToken != "":
		return newAPIError(http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey",
			"A SecurityToken was sent with an AccessKeyId that is not an STS credential.")
	}
	return nil
}

func missingParam(name string) *apiError {
	return newAPIError(http.StatusBadRequest, "InvalidParam.ParamMissing",
		fmt.Sprintf("The required parameter %s is missing or empty.", name))
}

// invalidParam returns the error for a malformed request that the service
// documents no code for.
func invalidParam(message string) *apiError {
	return newAPIError(http.StatusBadRequest, "InvalidParameter", message)
}

// nonceCache remembers the nonces of accepted requests for nonceRetention,
// holding at most maxNonces of them.
type nonceCache struct {
	seenAt map[string]time.Time
	order  []string // nonces in the order they were added, oldest first
}

// add records nonce at now and reports whether it was new. Before adding,
// it removes nonces older than nonceRetention and, when the cache is full,
// the oldest one.
func (c *nonceCache) add(nonce string, now time.Time) bool {
	if c.seenAt == nil {
		c.seenAt = make(map[string]time.Time)
	}
	if _, seen := c.seenAt[nonce]; seen {
		return false
	}

	expired := 0
	for expired < len(c.order) {
		oldest := c.order[expired]
		if now.Sub(c.seenAt[oldest]) <= nonceRetention && len(c.order)-expired < maxNonces {
			break
		}
		delete(c.seenAt, oldest)
		expired++
	}
	c.order = c.order[expired:]

	c.seenAt[nonce] = now
	c.order = append(c.order, nonce)
	return true
}
