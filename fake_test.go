package cloudauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudauth-go/cloudauth"
	"github.com/cloudauth-go/cloudauth/cloudauthtest"
)

const (
	fakeKeyID  = "fake-key-id"
	fakeSecret = "fake-key-secret-0123456789"
	fakeToken  = "STS.fake-security-token-0123456789"
)

// newFake starts a fake endpoint with one AccessKey, one STS key and the
// Biz RPBasic, and stops it when the test ends.
func newFake(t *testing.T) *cloudauthtest.Server {
	t.Helper()
	srv := cloudauthtest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddAccessKey(fakeKeyID, fakeSecret)
	srv.AddSTSCredentials("sts-"+fakeKeyID, fakeSecret, fakeToken)
	srv.AddBiz("RPBasic")
	return srv
}

// newFakeClient returns a client of srv with fast retries. It signs with
// the fake's AccessKey unless opts set credentials.
func newFakeClient(t *testing.T, srv *cloudauthtest.Server, opts ...cloudauth.Option) *cloudauth.Client {
	t.Helper()
	return newFakeClientWith(t, srv, cloudauth.WithAccessKey(fakeKeyID, fakeSecret), opts...)
}

func newFakeClientWith(t *testing.T, srv *cloudauthtest.Server, credentials cloudauth.Option,
	opts ...cloudauth.Option) *cloudauth.Client {
	t.Helper()
	base := []cloudauth.Option{
		cloudauth.WithEndpoint(srv.URL),
		credentials,
		cloudauth.WithBackoff(time.Millisecond, 100*time.Millisecond),
	}
	client, err := cloudauth.NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return client
}

var fakeRequest = &cloudauth.GetStatusRequest{Biz: "RPBasic", TicketID: "ticket-1"}

func TestFakeEndToEndSignaturesAndFormats(t *testing.T) {
	credentials := map[string]cloudauth.Option{
		"AccessKey": cloudauth.WithAccessKey(fakeKeyID, fakeSecret),
		"STS": cloudauth.WithCredentials(cloudauth.NewStaticCredentialsProvider(
			"sts-"+fakeKeyID, fakeSecret, fakeToken)),
	}
	for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
		for _, format := range []cloudauth.Format{cloudauth.FormatJSON, cloudauth.FormatXML} {
			for credName, credOption := range credentials {
				t.Run(fmt.Sprintf("%v %s %s", version, format, credName), func(t *testing.T) {
					srv := newFake(t)
					srv.SetTicket("RPBasic", "ticket with spaces+*~/身份", cloudauthtest.TicketState{
						Status: cloudauth.StatusPassed, SimilarityScore: 93.12, AuditConclusions: "审核通过 & <ok>",
					})
					client, err := cloudauth.NewClient(cloudauth.WithEndpoint(srv.URL), credOption,
						cloudauth.WithSignatureVersion(version), cloudauth.WithFormat(format), cloudauth.WithMaxAttempts(1))
					require.NoError(t, err)

					resp, err := client.GetStatus(context.Background(), &cloudauth.GetStatusRequest{
						Biz: "RPBasic", TicketID: "ticket with spaces+*~/身份",
					})
					require.NoError(t, err)
					assert.Equal(t, cloudauth.StatusPassed, resp.StatusCode)
					assert.Equal(t, 93.12, resp.SimilarityScore)
					assert.Equal(t, "审核通过 & <ok>", resp.AuditConclusions)
					assert.NotEmpty(t, resp.RequestID)
					assert.Equal(t, string(format), srv.LastRequest().Query.Get("Format"))
				})
			}
		}
	}
}

func TestFakeRejectsWrongSecret(t *testing.T) {
	for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
		t.Run(version.String(), func(t *testing.T) {
			srv := newFake(t)
			client := newFakeClientWith(t, srv, cloudauth.WithAccessKey(fakeKeyID, "wrong-secret-value"),
				cloudauth.WithSignatureVersion(version))
			_, err := client.GetStatus(context.Background(), fakeRequest)
			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "SignatureDoesNotMatch", apiErr.Code)
			assert.Equal(t, 1, srv.Requests(), "a signature error is not retried")
			assert.NotContains(t, err.Error(), "wrong-secret-value")
		})
	}
}

func TestFakeSTSTokenNeverLeaks(t *testing.T) {
	for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
		t.Run(version.String(), func(t *testing.T) {
			srv := newFake(t)
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			// The fake registers this key as an STS key, so the wrong secret is
			// rejected and the message repeats what was signed.
			client := newFakeClientWith(t, srv, cloudauth.WithCredentials(
				cloudauth.NewStaticCredentialsProvider("sts-"+fakeKeyID, "wrong-secret-value", fakeToken)),
				cloudauth.WithSignatureVersion(version), cloudauth.WithLogger(logger))
			_, err := client.GetStatus(context.Background(), fakeRequest)
			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "SignatureDoesNotMatch", apiErr.Code)
			require.NotEmpty(t, logs.String(), "the final failure is logged")

			signature := srv.LastRequest().Query.Get("Signature")
			if version == cloudauth.SignatureV3 {
				authorization := srv.LastRequest().Header.Get("Authorization")
				signature = authorization[strings.LastIndex(authorization, "=")+1:]
			}
			require.NotEmpty(t, signature)
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), logs.String()} {
				assert.NotContains(t, text, fakeToken)
				assert.NotContains(t, text, "wrong-secret-value")
				assert.NotContains(t, text, signature)
			}
		})
	}
}

func TestFakeUnknownKeyAndBiz(t *testing.T) {
	srv := newFake(t)
	_, err := newFakeClientWith(t, srv, cloudauth.WithAccessKey("other-id", "other-secret")).
		GetStatus(context.Background(), fakeRequest)
	var apiErr *cloudauth.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "InvalidAccessKeyId.NotFound", apiErr.Code)

	_, err = newFakeClient(t, srv).GetStatus(context.Background(),
		&cloudauth.GetStatusRequest{Biz: "Unknown", TicketID: "t"})
	assert.ErrorIs(t, err, cloudauth.ErrInvalidBiz)

	resp, err := newFakeClient(t, srv).GetStatus(context.Background(), fakeRequest)
	require.NoError(t, err)
	assert.Equal(t, cloudauth.StatusNotSubmitted, resp.StatusCode, "an unknown ticket was never submitted")
}

func TestFakeClockSkewCorrected(t *testing.T) {
	for _, skew := range []time.Duration{-3 * time.Hour, 40 * time.Minute} {
		for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
			t.Run(fmt.Sprintf("%v %v", skew, version), func(t *testing.T) {
				srv := newFake(t)
				srv.SetClockSkew(skew)
				client := newFakeClient(t, srv, cloudauth.WithMaxAttempts(1), cloudauth.WithSignatureVersion(version))

				_, err := client.GetStatus(context.Background(), fakeRequest)
				require.NoError(t, err)
				assert.Equal(t, 2, srv.Requests(), "the rejected attempt and one corrected retry")
				assert.Equal(t, 1, srv.Stats().Rejected["InvalidTimeStamp.Expired"])

				_, err = client.GetStatus(context.Background(), fakeRequest)
				require.NoError(t, err)
				assert.Equal(t, 3, srv.Requests(), "later calls are signed with the corrected time")
			})
		}
	}
}

func TestFakeInjectedFailuresAreRetried(t *testing.T) {
	tests := []struct {
		name    string
		failure cloudauthtest.Failure
	}{
		{"throttling", cloudauthtest.ThrottlingFailure(20 * time.Millisecond)},
		{"service unavailable", cloudauthtest.ServiceUnavailableFailure()},
		{"HTML bad gateway", cloudauthtest.BadGatewayHTML()},
	}
	for _, tt := range tests {
		for _, version := range []cloudauth.SignatureVersion{cloudauth.SignatureV1, cloudauth.SignatureV3} {
			t.Run(tt.name+" "+version.String(), func(t *testing.T) {
				srv := newFake(t)
				srv.SetTicket("RPBasic", "ticket-1", cloudauthtest.TicketState{Status: cloudauth.StatusRejected})
				srv.FailNext(2, tt.failure)
				resp, err := newFakeClient(t, srv, cloudauth.WithSignatureVersion(version)).
					GetStatus(context.Background(), fakeRequest)
				require.NoError(t, err)
				assert.Equal(t, cloudauth.StatusRejected, resp.StatusCode)
				assert.Equal(t, 3, srv.Requests())
			})
		}
	}
}

func TestFakeFailuresExhaustAttempts(t *testing.T) {
	srv := newFake(t)
	srv.FailNext(5, cloudauthtest.BadGatewayHTML())
	_, err := newFakeClient(t, srv, cloudauth.WithMaxAttempts(4)).GetStatus(context.Background(), fakeRequest)
	var apiErr *cloudauth.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 502, apiErr.HTTPStatusCode)
	assert.NotContains(t, apiErr.Message, "<")
	assert.Contains(t, err.Error(), "failed after 4 attempts")
	assert.Equal(t, 4, srv.Requests())
}

func TestFakeSlowAnswerHitsAttemptTimeout(t *testing.T) {
	srv := newFake(t)
	srv.FailNext(1, cloudauthtest.SlowAnswer(time.Minute))
	client := newFakeClient(t, srv, cloudauth.WithAttemptTimeout(50*time.Millisecond))
	resp, err := client.GetStatus(context.Background(), fakeRequest)
	require.NoError(t, err)
	assert.Equal(t, cloudauth.StatusNotSubmitted, resp.StatusCode)
	assert.Equal(t, 2, srv.Requests())
}

func TestFakeSlowAnswerHitsDeadline(t *testing.T) {
	srv := newFake(t)
	srv.FailNext(1, cloudauthtest.SlowAnswer(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := newFakeClient(t, srv).GetStatus(ctx, fakeRequest)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

func TestFakeRateLimitThrottles(t *testing.T) {
	srv := newFake(t)
	srv.SetRateLimit(50, 1)
	client := newFakeClient(t, srv, cloudauth.WithBackoff(time.Millisecond, time.Second), cloudauth.WithMaxAttempts(10))
	for i := 0; i < 5; i++ {
		_, err := client.GetStatus(context.Background(), fakeRequest)
		require.NoError(t, err, "TimeLeft waits let every call through")
	}
	assert.GreaterOrEqual(t, srv.Requests(), 5)
}

func TestFakeClockSkewConcurrentCalls(t *testing.T) {
	srv := newFake(t)
	srv.SetClockSkew(-2 * time.Hour)
	client := newFakeClient(t, srv, cloudauth.WithMaxAttempts(1))

	const calls = 16
	start := make(chan struct{})
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		go func() {
			<-start
			_, err := client.GetStatus(context.Background(), fakeRequest)
			errs <- err
		}()
	}
	close(start)
	for i := 0; i < calls; i++ {
		assert.NoError(t, <-errs, "every call signed before the correction retries once")
	}
}
