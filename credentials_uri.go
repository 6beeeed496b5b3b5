package cloudauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
)

const uriSource = "credentials URI"

// URIOptions configures a URICredentialsProvider.
type URIOptions struct {
	// URI is the http or https URL that serves the credentials. Required.
	// It may carry a secret in its query: errors and printed forms redact
	// the query.
	URI string
	// HTTPClient sends the requests. The default client has a 10-second
	// timeout.
	HTTPClient *http.Client
}

// URICredentialsProvider gets credentials with a GET request to a URL, such
// as a sidecar or an internal credentials service. The response must be JSON
// of the form
//
//	{"Code": "Success", "AccessKeyId": "...", "AccessKeySecret": "...",
//	 "SecurityToken": "...", "Expiration": "2006-01-02T15:04:05Z"}
//
// where Code may be left out, and SecurityToken may be empty for a long-term
// AccessKey. Any other Code is an error.
type URICredentialsProvider struct {
	uri      *url.URL
	redacted string
	client   *http.Client
}

// NewURICredentialsProvider returns a provider that reads opts.URI. It checks
// the URI and does no I/O.
func NewURICredentialsProvider(opts URIOptions) (*URICredentialsProvider, error) {
	if opts.URI == "" {
		return nil, errors.New("URI credentials: URI is empty")
	}
	u, err := url.Parse(opts.URI)
	if err != nil {
		// url.Parse's error quotes the whole URI, query included.
		return nil, errors.New("URI credentials: URI is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URI credentials: URI %s must start with http:// or https://", redactURL(u))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("URI credentials: URI %s has no host", redactURL(u))
	}
	return &URICredentialsProvider{
		uri:      u,
		redacted: redactURL(u),
		client:   httpClientOrDefault(opts.HTTPClient, defaultCredentialsHTTPClient),
	}, nil
}

// uriCredentialsResponse is the JSON body a credentials URI returns.
type uriCredentialsResponse struct {
	Code            string `json:"Code"`
	Message         string `json:"Message"`
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	Expiration      string `json:"Expiration"`
}

// Retrieve gets the credentials from the URI.
func (p *URICredentialsProvider) Retrieve(ctx context.Context) (Credentials, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.uri.String(), nil)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: build request for %s: invalid URL", uriSource, p.redacted)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := sendCredentialsRequest(p.client, req, uriSource)
	if err != nil {
		return Credentials{}, err
	}
	if resp.statusCode < 200 || resp.statusCode > 299 {
		return Credentials{}, newCredentialsRequestError(uriSource, p.redacted, resp, p.querySecrets()...)
	}

	var parsed uriCredentialsResponse
	if err := json.Unmarshal(resp.body, &parsed); err != nil {
		return Credentials{}, fmt.Errorf("%s: %s returned invalid JSON: %w", uriSource, p.redacted, err)
	}
	if parsed.Code != "" && parsed.Code != "Success" {
		return Credentials{}, &credentialsRequestError{
			Source:     uriSource,
			URL:        p.redacted,
			StatusCode: resp.statusCode,
			Code:       sanitizeServiceText(parsed.Code, maxCodeBytes, p.querySecrets()...),
			Message:    sanitizeServiceMessage(parsed.Message, p.querySecrets()...),
		}
	}
	if parsed.AccessKeyID == "" || parsed.AccessKeySecret == "" {
		return Credentials{}, fmt.Errorf("%s: response from %s lacks AccessKeyId or AccessKeySecret", uriSource, p.redacted)
	}
	expires, err := parseExpiration(uriSource, parsed.Expiration)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		AccessKeyID:     parsed.AccessKeyID,
		AccessKeySecret: parsed.AccessKeySecret,
		SecurityToken:   parsed.SecurityToken,
		Expires:         expires,
	}, nil
}

// String returns the URI with its query redacted.
func (p *URICredentialsProvider) String() string {
	return "URICredentialsProvider{URI: " + p.redacted + "}"
}

// GoString is String with the package name, for the %#v verb.
func (p *URICredentialsProvider) GoString() string { return "&cloudauth." + p.String() }

// Format writes the redacted form for every verb.
func (p *URICredentialsProvider) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue implements slog.LogValuer with the URI's query redacted.
func (p *URICredentialsProvider) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", "credentials_uri"), slog.String("uri", p.redacted))
}

// querySecrets returns the URI's query and each of its values, which often
// carry a pre-authorized token and must not appear in an error.
func (p *URICredentialsProvider) querySecrets() []string {
	secrets := []string{p.uri.RawQuery}
	for _, values := range p.uri.Query() {
		for _, value := range values {
			// A short value such as "1" would match ordinary text by chance.
			if len(value) >= 4 {
				secrets = append(secrets, value)
			}
		}
	}
	return secrets
}

// String describes the options with the URI's query redacted.
func (o URIOptions) String() string {
	uri := o.URI
	if u, err := url.Parse(o.URI); err == nil {
		uri = redactURL(u)
	} else if o.URI != "" {
		uri = "[invalid URI redacted]"
	}
	return "URIOptions{URI: " + uri + "}"
}

// GoString is String with the package name, for the %#v verb.
func (o URIOptions) GoString() string { return "cloudauth." + o.String() }

// Format writes the redacted form for every verb, because fmt would
// otherwise print the URI with its query.
func (o URIOptions) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, o.String(), o.GoString())
}
