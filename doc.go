// Package cloudauth is a typed client for the GetStatus action of the
// Alibaba Cloud ID Verification (Cloudauth) API, which returns whether a
// user's identity verification has passed.
//
// # Quick start
//
//	client, err := cloudauth.NewClient(
//		cloudauth.WithAccessKey(os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"),
//			os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")),
//	)
//	if err != nil {
//		return err
//	}
//	resp, err := client.GetStatus(ctx, &cloudauth.GetStatusRequest{
//		Biz:      "RPBasic",
//		TicketID: ticketID,
//	})
//	if err != nil {
//		return err
//	}
//	if resp.StatusCode == cloudauth.StatusPassed {
//		// The user's identity is verified.
//	}
//
// Without WithAccessKey or WithCredentials, the client looks for credentials
// where the official SDKs and the aliyun CLI do: environment variables, an
// OIDC role, the CLI's profile file, the credentials file, the ECS instance
// RAM role and a credentials URI. See NewDefaultCredentialsProvider.
//
// # Errors
//
// GetStatus returns three kinds of error:
//
//   - *APIError for every non-2xx response and for a 2xx response whose Success
//     is false. errors.Is matches its Code against ErrInternal,
//     ErrParamMissing, ErrNoPermission and ErrInvalidBiz.
//   - *ResponseError for a 2xx response that is empty, malformed or has no
//     Data. It is not retried.
//   - an error satisfying errors.Is(err, ErrParamMissing) for a nil request
//     or an empty Biz or TicketID, which is rejected before anything is sent.
//
// Errors that follow retries wrap the last attempt's failure, so errors.As
// still finds the *APIError, and state how many attempts were made. No error,
// log record or printed value contains the AccessKey secret, a signature or
// a security token.
//
// # Formats
//
// WithFormat asks for JSON (the default) or XML. Whatever was asked for, the
// client detects the format from the body's first byte, so an XML error page
// from a gateway decodes as well as a JSON response. Numbers and booleans may
// be quoted, unknown fields are ignored, and an undocumented StatusCode
// decodes as it is: check StatusCode.IsKnown and StatusCode.IsFinal.
//
// # Retries
//
// A call is tried up to three times (WithMaxAttempts). Transport failures,
// 5xx responses, Throttling codes, HTTP 429 and ServiceUnavailable are
// retried after an exponential backoff with jitter (WithBackoff), honouring
// the throttling headers' TimeLeft. Parameter, permission and signature
// errors are not retried. A rejected timestamp, when the Date header shows the local clock
// is off, corrects the clock and earns one extra attempt. Every wait stops
// when the context ends.
//
// # Polling
//
// Client.WaitForVerdict polls one ticket until it passes or is rejected,
// with a growing, jittered interval, bounded by the context and
// WithMaxWait. A Watcher, from Client.NewWatcher, polls many tickets with
// bounded concurrency and a rate limit that every attempt passes through,
// and delivers each status change on a channel.
//
// # Testing
//
// Package cloudauthtest is an in-process fake Cloudauth endpoint that
// verifies signatures and serves scripted ticket states, so services that
// use this client can test against it without an Alibaba Cloud account.
package cloudauth
