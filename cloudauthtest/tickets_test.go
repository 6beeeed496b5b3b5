package cloudauthtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/cloudauth-go/cloudauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	inReview = TicketState{Status: cloudauth.StatusInReview}
	rejected = TicketState{Status: cloudauth.StatusRejected, SimilarityScore: 40, AuditConclusions: "blurred"}
	passed   = TicketState{Status: cloudauth.StatusPassed, SimilarityScore: 95}
)

// pollStatuses polls the test ticket n times with requests signed at the
// server's clock and returns the StatusCode of each response.
func pollStatuses(t *testing.T, srv *Server, n int) []int {
	t.Helper()
	statuses := make([]int, n)
	for i := range statuses {
		params := v1Params(testKeyID, testBiz, testTicket)
		params.Set("Timestamp", srv.Now().UTC().Format(timestampLayout))
		signV1(http.MethodGet, testSecret, params)
		statuses[i] = send(t, newV1Request(t, srv, http.MethodGet, params)).statusCode(t)
	}
	return statuses
}

func TestScriptTicketByPolls(t *testing.T) {
	srv := newTestServer(t)
	srv.ScriptTicket(testBiz, testTicket,
		Step{State: inReview, Polls: 2},
		Step{State: rejected, Polls: 1},
		Step{State: passed})

	statuses := pollStatuses(t, srv, 5)

	assert.Equal(t, []int{0, 0, 2, 1, 1}, statuses)
	assert.Equal(t, 5, srv.TicketPolls(testBiz, testTicket))
}

func TestScriptTicketReportsStepFields(t *testing.T) {
	srv := newTestServer(t)
	srv.ScriptTicket(testBiz, testTicket, Step{State: rejected, Polls: 1}, Step{State: passed})

	first := getStatusV1(t, srv, testBiz, testTicket).jsonSuccess(t)
	second := getStatusV1(t, srv, testBiz, testTicket).jsonSuccess(t)

	require.NotNil(t, first.Data.AuditConclusions)
	assert.Equal(t, "blurred", *first.Data.AuditConclusions)
	require.NotNil(t, second.Data.SimilarityScore)
	assert.Equal(t, 95.0, *second.Data.SimilarityScore)
	assert.Nil(t, second.Data.AuditConclusions)
}

func TestScriptTicketByTime(t *testing.T) {
	srv := newTestServer(t)
	start := srv.Now()
	srv.ScriptTicket(testBiz, testTicket,
		Step{State: inReview, Until: start.Add(time.Hour)},
		Step{State: rejected, Until: start.Add(2 * time.Hour)},
		Step{State: passed})

	before := pollStatuses(t, srv, 2)
	srv.SetClockSkew(90 * time.Minute)
	middle := pollStatuses(t, srv, 1)
	srv.SetClockSkew(3 * time.Hour)
	after := pollStatuses(t, srv, 1)

	assert.Equal(t, []int{0, 0}, before)
	assert.Equal(t, []int{2}, middle)
	assert.Equal(t, []int{1}, after)
}

func TestScriptTicketPollsOrTimeFirst(t *testing.T) {
	srv := newTestServer(t)
	srv.ScriptTicket(testBiz, testTicket,
		Step{State: inReview, Polls: 3, Until: srv.Now().Add(time.Hour)},
		Step{State: passed})

	early := pollStatuses(t, srv, 1)
	srv.SetClockSkew(2 * time.Hour)
	late := pollStatuses(t, srv, 1)

	assert.Equal(t, []int{0}, early)
	assert.Equal(t, []int{1}, late, "the time limit ends the step before its polls run out")
}

func TestScriptTicketSkipsPastSteps(t *testing.T) {
	srv := newTestServer(t)
	srv.ScriptTicket(testBiz, testTicket,
		Step{State: inReview, Until: srv.Now().Add(-time.Minute)},
		Step{State: passed})

	assert.Equal(t, []int{1}, pollStatuses(t, srv, 1))
}

func TestScriptTicketRestarts(t *testing.T) {
	srv := newTestServer(t)
	srv.ScriptTicket(testBiz, testTicket, Step{State: inReview, Polls: 1}, Step{State: passed})
	first := pollStatuses(t, srv, 2)

	srv.ScriptTicket(testBiz, testTicket, Step{State: inReview, Polls: 1}, Step{State: rejected})
	second := pollStatuses(t, srv, 2)
	srv.SetTicket(testBiz, testTicket, passed)
	third := pollStatuses(t, srv, 1)

	assert.Equal(t, []int{0, 1}, first)
	assert.Equal(t, []int{0, 2}, second)
	assert.Equal(t, []int{1}, third)
	assert.Equal(t, 5, srv.TicketPolls(testBiz, testTicket), "a new script keeps the poll count")
}

func TestUnknownTicketNotSubmitted(t *testing.T) {
	srv := newTestServer(t)

	statuses := pollStatuses(t, srv, 2)

	assert.Equal(t, []int{-1, -1}, statuses)
	assert.Equal(t, 2, srv.TicketPolls(testBiz, testTicket))
	assert.Equal(t, 0, srv.TicketPolls(testBiz, "never-polled"))
}

func TestSetTicketAddsBiz(t *testing.T) {
	srv := newTestServer(t)
	srv.SetTicket("OtherBiz", testTicket, passed)

	resp := getStatusV1(t, srv, "OtherBiz", testTicket)

	assert.Equal(t, 1, resp.statusCode(t))
	assert.Equal(t, 0, srv.TicketPolls(testBiz, testTicket), "tickets are kept per Biz")
}

func TestScriptTicketRejectsInvalidSteps(t *testing.T) {
	tests := []struct {
		name  string
		steps []Step
	}{
		{"no steps", nil},
		{"negative polls", []Step{{State: passed, Polls: -1}}},
		{"unbounded step before last", []Step{{State: inReview}, {State: passed}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t)
			assert.Panics(t, func() { srv.ScriptTicket(testBiz, testTicket, tt.steps...) })
		})
	}
}
