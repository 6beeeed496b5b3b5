// Package cloudauthtest provides an in-process fake of the Alibaba Cloud ID
// Verification (Cloudauth) GetStatus endpoint, for tests of the cloudauth
// client and of services that use it.
//
// [NewServer] starts an [httptest.Server] on 127.0.0.1. Register credentials,
// business scenarios and tickets, then point the client at Server.URL:
//
//	srv := cloudauthtest.NewServer()
//	defer srv.Close()
//	srv.AddAccessKey("test-id", "test-secret")
//	srv.SetTicket("RPBasic", "ticket-1", cloudauthtest.TicketState{Status: cloudauth.StatusPassed})
//	client, err := cloudauth.NewClient(
//		cloudauth.WithAccessKey("test-id", "test-secret"),
//		cloudauth.WithEndpoint(srv.URL))
//
// [NewDemoServer] comes with credentials, a business scenario and tickets.
// [Server.ScriptTicket] makes a ticket's state change as it is polled or as
// time passes, and [Server.FailNext], [Server.SetFaultRate],
// [Server.SetRateLimit] and [Server.SetClockSkew] make the server misbehave
// the way the service and the gateways in front of it do.
//
// # Protocol
//
// The server serves the RPC action GetStatus, version 2018-09-16, at the path
// /, by GET or by POST with a form-encoded body. A request whose
// Authorization header starts with ACS3-HMAC-SHA256 is checked as signature
// V3, and any other as signature V1 (HMAC-SHA1 over the query and form
// parameters). The server verifies signatures with code of its own, not the
// client's signer, so a bug in one cannot hide the same bug in the other.
// It responds in JSON, or in XML when the Format parameter is XML. Every
// response carries an x-acs-request-id header equal to the RequestId in the
// body and a Date header from the server's clock.
//
// Checks run in this order, and the first that fails decides the response:
//
//  1. An injected Failure from FailNext or SetFaultRate.
//  2. The body size (at most 1 MiB), method, path and URL encoding.
//  3. The common parameters, or for V3 the x-acs-* headers
//     (InvalidParam.ParamMissing). For V3 also the SignedHeaders list, which
//     must cover host and every x-acs-* header sent, and
//     x-acs-content-sha256, which must be the SHA-256 of the body
//     (SignatureDoesNotMatch).
//  4. Action (InvalidAction.NotFound, 404) and Version.
//  5. AccessKeyId (InvalidAccessKeyId.NotFound, 404).
//  6. The timestamp, which must parse and be within 15 minutes of the
//     server's clock (InvalidTimeStamp.Expired).
//  7. The signature (SignatureDoesNotMatch).
//  8. The security token of STS credentials (MissingSecurityToken,
//     InvalidSecurityToken.Expired).
//  9. The nonce, which must not have been accepted in the last 30 minutes
//     (SignatureNonceUsed).
//  10. The rate limit (Throttling.User).
//  11. RegionId, Biz and TicketId, which must be present and not blank
//     (InvalidParam.ParamMissing), and Biz, which must have been added
//     (InvalidParam.InvalidBiz).
//
// Errors have HTTP status 400 unless noted. For a few malformed requests the
// GetStatus documentation lists no error code, so the server uses these:
// UnsupportedHTTPMethod (405), RequestEntityTooLarge (413), InvalidVersion,
// InvalidParameter (an unsupported SignatureMethod, SignatureVersion or
// Format, or invalid URL encoding) and
// InvalidSecurityToken.MismatchWithAccessKey (a security token sent with an
// AccessKey pair that is not an STS credential).
package cloudauthtest
