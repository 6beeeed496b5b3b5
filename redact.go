package cloudauth

import (
	"bytes"
	"net/url"
	"strings"
)

// redactor removes one attempt's secrets (the AccessKey secret, the
// security token and the signature) from text the service sent back. It
// computes the forms to look for on first use, so the success path pays
// nothing. A nil *redactor changes nothing.
type redactor struct {
	creds     Credentials
	signature string
	forms     []string
	computed  bool
}

// redactedText replaces each secret found in text.
const redactedText = "[REDACTED]"

// secretForms returns the forms in which the redactor's secrets can appear
// in a body, as encodedForms lists them.
func (r *redactor) secretForms() []string {
	if r.computed {
		return r.forms
	}
	r.computed = true
	for _, secret := range []string{r.creds.AccessKeySecret, r.creds.SecurityToken, r.signature} {
		// A secret of a few bytes would match ordinary text by chance.
		if len(secret) < 4 {
			continue
		}
		r.forms = append(r.forms, encodedForms(secret)...)
	}
	return r.forms
}

// encodedForms returns secret as it is, percent-encoded once and twice (a
// string to sign contains the query encoded twice, a form body once),
// query-escaped, and with '/' escaped as JSON may write it.
func encodedForms(secret string) []string {
	once := PercentEncode(secret)
	return []string{secret, once, PercentEncode(once), url.QueryEscape(secret),
		strings.ReplaceAll(secret, "/", `\/`)}
}

func (r *redactor) redact(text string) string {
	if r == nil || text == "" {
		return text
	}
	for _, form := range r.secretForms() {
		if strings.Contains(text, form) {
			text = strings.ReplaceAll(text, form, redactedText)
		}
	}
	return text
}

// redactBytes is redact for a body. It returns body itself when no secret
// is found.
func (r *redactor) redactBytes(body []byte) []byte {
	if r == nil || len(body) == 0 {
		return body
	}
	for _, form := range r.secretForms() {
		if bytes.Contains(body, []byte(form)) {
			body = bytes.ReplaceAll(body, []byte(form), []byte(redactedText))
		}
	}
	return body
}
