package cloudauth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cloudauth-go/cloudauth"
	"github.com/cloudauth-go/cloudauth/cloudauthtest"
)

// These tests poll the cloudauthtest fake over real HTTP on 127.0.0.1, so
// signing, the fake's own signature checks and the polling loops all run.

const (
	pollKeyID  = "poll-test-id"
	pollSecret = "poll-test-secret"
	fakeBiz    = "RPBasic"
)

// newPollFake starts a fake with the test key and Biz, closed when the test ends.
func newPollFake(t *testing.T) *cloudauthtest.Server {
	t.Helper()
	srv := cloudauthtest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddAccessKey(pollKeyID, pollSecret)
	srv.AddBiz(fakeBiz)
	return srv
}

// newPollClient returns a client of srv with fast retries. It sends through
// srv.Client, whose idle connections srv.Close closes, so no connection
// goroutine outlives a test.
func newPollClient(t *testing.T, srv *cloudauthtest.Server, opts ...cloudauth.Option) *cloudauth.Client {
	t.Helper()
	base := []cloudauth.Option{
		cloudauth.WithEndpoint(srv.URL),
		cloudauth.WithAccessKey(pollKeyID, pollSecret),
		cloudauth.WithHTTPClient(srv.Client()),
		cloudauth.WithBackoff(time.Millisecond, 2*time.Millisecond),
	}
	client, err := cloudauth.NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return client
}

// inReviewThen scripts a ticket that is in review for the first polls polls
// and reports final from then on.
func inReviewThen(srv *cloudauthtest.Server, ticketID string, polls int, final cloudauth.StatusCode) {
	srv.ScriptTicket(fakeBiz, ticketID,
		cloudauthtest.Step{State: cloudauthtest.TicketState{Status: cloudauth.StatusInReview}, Polls: polls},
		cloudauthtest.Step{State: cloudauthtest.TicketState{Status: final, SimilarityScore: 88.5}})
}

var fastFakePolls = cloudauth.WithPollInterval(time.Millisecond, 5*time.Millisecond)

func TestFakeWaitForVerdict(t *testing.T) {
	tests := []struct {
		name  string
		final cloudauth.StatusCode
	}{
		{"passed", cloudauth.StatusPassed},
		{"rejected", cloudauth.StatusRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newPollFake(t)
			inReviewThen(srv, "t1", 2, tt.final)
			req := &cloudauth.GetStatusRequest{Biz: fakeBiz, TicketID: "t1"}
			resp, err := newPollClient(t, srv).WaitForVerdict(context.Background(), req, fastFakePolls)
			require.NoError(t, err)
			assert.Equal(t, tt.final, resp.StatusCode)
			assert.Equal(t, 88.5, resp.SimilarityScore)
			assert.Equal(t, 3, srv.TicketPolls(fakeBiz, "t1"))
		})
	}
}

func TestFakeWaitForVerdictTransientFailures(t *testing.T) {
	tests := []struct {
		name    string
		failure cloudauthtest.Failure
	}{
		{"service unavailable", cloudauthtest.ServiceUnavailableFailure()},
		{"throttling", cloudauthtest.ThrottlingFailure(5 * time.Millisecond)},
		{"bad gateway page", cloudauthtest.BadGatewayHTML()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newPollFake(t)
			inReviewThen(srv, "t1", 1, cloudauth.StatusPassed)
			srv.FailNext(3, tt.failure)
			client := newPollClient(t, srv, cloudauth.WithMaxAttempts(1))
			req := &cloudauth.GetStatusRequest{Biz: fakeBiz, TicketID: "t1"}
			resp, err := client.WaitForVerdict(context.Background(), req, fastFakePolls)
			require.NoError(t, err)
			assert.Equal(t, cloudauth.StatusPassed, resp.StatusCode)
			assert.Equal(t, 5, srv.Requests(), "three failures, one review, one verdict")
		})
	}
}

func TestFakeWaitForVerdictPermanentErrors(t *testing.T) {
	tests := []struct {
		name     string
		biz      string
		keyID    string
		secret   string
		wantCode string
	}{
		{"invalid biz", "NoSuchBiz", pollKeyID, pollSecret, "InvalidParam.InvalidBiz"},
		{"wrong secret", fakeBiz, pollKeyID, "wrong-secret", "SignatureDoesNotMatch"},
		{"unknown key", fakeBiz, "unknown-id", pollSecret, "InvalidAccessKeyId.NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newPollFake(t)
			client, err := cloudauth.NewClient(cloudauth.WithEndpoint(srv.URL),
				cloudauth.WithAccessKey(tt.keyID, tt.secret), cloudauth.WithHTTPClient(srv.Client()))
			require.NoError(t, err)
			req := &cloudauth.GetStatusRequest{Biz: tt.biz, TicketID: "t1"}
			resp, err := client.WaitForVerdict(context.Background(), req, fastFakePolls)
			assert.Nil(t, resp)
			var apiErr *cloudauth.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantCode, apiErr.Code)
			assert.Equal(t, 1, srv.Requests())
		})
	}
}

func TestFakeWaitForVerdictMaxWait(t *testing.T) {
	srv := newPollFake(t)
	srv.SetTicket(fakeBiz, "t1", cloudauthtest.TicketState{Status: cloudauth.StatusInReview})
	req := &cloudauth.GetStatusRequest{Biz: fakeBiz, TicketID: "t1"}
	resp, err := newPollClient(t, srv).WaitForVerdict(context.Background(), req,
		fastFakePolls, cloudauth.WithMaxWait(40*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, resp)
	assert.Equal(t, cloudauth.StatusInReview, resp.StatusCode)
}

func TestFakeWatcherBatch(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newPollFake(t)
	defer srv.Close()
	const tickets = 20
	want := map[string]cloudauth.StatusCode{}
	for i := range tickets {
		id := fmt.Sprintf("batch-%02d", i)
		want[id] = cloudauth.StatusPassed
		if i%3 == 0 {
			want[id] = cloudauth.StatusRejected
		}
		inReviewThen(srv, id, 1+i%3, want[id])
	}
	client := newPollClient(t, srv)
	w, err := client.NewWatcher(fastFakePolls, cloudauth.WithConcurrency(4),
		cloudauth.WithRateLimit(500, 5), cloudauth.WithStopWhenIdle())
	require.NoError(t, err)
	for id := range want {
		require.True(t, w.Add(cloudauth.GetStatusRequest{Biz: fakeBiz, TicketID: id}))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	finals := map[string]cloudauth.StatusCode{}
	for update := range w.Updates() {
		require.NoError(t, update.Err, update.Ticket.TicketID)
		if update.Final {
			finals[update.Ticket.TicketID] = update.Response.StatusCode
		}
	}
	require.NoError(t, <-runErr)
	assert.Equal(t, want, finals)
	for i := range tickets {
		id := fmt.Sprintf("batch-%02d", i)
		assert.Equal(t, 2+i%3, srv.TicketPolls(fakeBiz, id), id)
	}
}

func TestFakeWatcherStaysUnderServerRateLimit(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newPollFake(t)
	defer srv.Close()
	// The fake allows four times the watcher's rate and a burst of 10, so
	// only a scheduling stall of about 100 ms could bunch enough requests
	// to be throttled.
	srv.SetRateLimit(100, 10)
	const tickets = 5
	for i := range tickets {
		inReviewThen(srv, fmt.Sprintf("t%d", i), 2, cloudauth.StatusPassed)
	}
	client := newPollClient(t, srv, cloudauth.WithMaxAttempts(1))
	w, err := client.NewWatcher(fastFakePolls, cloudauth.WithConcurrency(tickets),
		cloudauth.WithRateLimit(25, 1), cloudauth.WithStopWhenIdle())
	require.NoError(t, err)
	for i := range tickets {
		require.True(t, w.Add(cloudauth.GetStatusRequest{Biz: fakeBiz, TicketID: fmt.Sprintf("t%d", i)}))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	throttled := 0
	for update := range w.Updates() {
		var apiErr *cloudauth.APIError
		if errors.As(update.Err, &apiErr) && apiErr.Throttled() {
			throttled++
		}
	}
	require.NoError(t, <-runErr)
	assert.Equal(t, 0, throttled)
	assert.Equal(t, 3*tickets, srv.Requests())
}

func TestFakeWatcherPermanentErrorIsFinal(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newPollFake(t)
	defer srv.Close()
	inReviewThen(srv, "good", 1, cloudauth.StatusPassed)
	client := newPollClient(t, srv)
	w, err := client.NewWatcher(fastFakePolls, cloudauth.WithStopWhenIdle())
	require.NoError(t, err)
	require.True(t, w.Add(cloudauth.GetStatusRequest{Biz: "NoSuchBiz", TicketID: "bad"}))
	require.True(t, w.Add(cloudauth.GetStatusRequest{Biz: fakeBiz, TicketID: "good"}))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	var bad []cloudauth.Update
	for update := range w.Updates() {
		if update.Ticket.TicketID == "bad" {
			bad = append(bad, update)
		}
	}
	require.NoError(t, <-runErr)
	require.Len(t, bad, 1)
	assert.ErrorIs(t, bad[0].Err, cloudauth.ErrInvalidBiz)
	assert.True(t, bad[0].Final)
	assert.Equal(t, 2, srv.TicketPolls(fakeBiz, "good"))
}
