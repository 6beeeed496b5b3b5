package cloudauthtest

import (
	"fmt"
	"time"

	"github.com/cloudauth-go/cloudauth"
)

// TicketState is the verification state GetStatus reports for a ticket. A
// zero SimilarityScore and an empty AuditConclusions are left out of the
// response.
type TicketState struct {
	Status           cloudauth.StatusCode
	SimilarityScore  float64
	AuditConclusions string
}

// Step is one stage of a scripted ticket. The server reports State for
// Polls successful GetStatus calls of the ticket, or until its clock reaches
// Until, whichever comes first. A zero Polls or zero Until sets no limit of
// that kind, and the last step of a script lasts forever.
type Step struct {
	State TicketState
	Polls int
	Until time.Time
}

// ticketKey identifies a ticket within a business scenario.
type ticketKey struct {
	biz, ticketID string
}

// ticket is the script and poll count of one ticket.
type ticket struct {
	steps       []Step // nil for a ticket that was polled but never set
	current     int    // index of the step being served
	pollsInStep int    // polls served from steps[current]
	polls       int    // polls served in total
}

// SetTicket makes GetStatus report state for the ticket until it is set or
// scripted again. It also adds biz, as AddBiz does. A ticket that was never
// set reports cloudauth.StatusNotSubmitted.
func (s *Server) SetTicket(biz, ticketID string, state TicketState) {
	s.ScriptTicket(biz, ticketID, Step{State: state})
}

// ScriptTicket makes GetStatus report the states of steps in order, each
// for as many polls or as long as the step sets, and the last one from then
// on. It also adds biz, as AddBiz does, and restarts the script of a ticket
// that had one. ScriptTicket panics when steps is empty, when a Polls is
// negative, or when a step other than the last sets neither Polls nor Until,
// because the steps after it could never be reached.
func (s *Server) ScriptTicket(biz, ticketID string, steps ...Step) {
	if len(steps) == 0 {
		panic("cloudauthtest: ScriptTicket needs at least one step")
	}
	for i, step := range steps {
		if step.Polls < 0 {
			panic(fmt.Sprintf("cloudauthtest: ScriptTicket step %d has negative Polls %d", i, step.Polls))
		}
		if i < len(steps)-1 && step.Polls == 0 && step.Until.IsZero() {
			panic(fmt.Sprintf("cloudauthtest: ScriptTicket step %d sets neither Polls nor Until, "+
				"so the steps after it could never be reached", i))
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	s.bizs[biz] = true
	key := ticketKey{biz, ticketID}
	t := s.tickets[key]
	if t == nil {
		t = &ticket{}
		s.tickets[key] = t
	}
	t.steps = append([]Step(nil), steps...)
	t.current = 0
	t.pollsInStep = 0
}

// TicketPolls returns how many GetStatus calls for the ticket the server
// served with success, whether or not the ticket was set.
func (s *Server) TicketPolls(biz, ticketID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	if t := s.tickets[ticketKey{biz, ticketID}]; t != nil {
		return t.polls
	}
	return 0
}

// poll advances the ticket's script to the step that is current at now,
// counts one poll, and returns the state to report. The caller holds s.mu.
func (s *Server) poll(biz, ticketID string, now time.Time) TicketState {
	key := ticketKey{biz, ticketID}
	t := s.tickets[key]
	if t == nil {
		t = &ticket{}
		s.tickets[key] = t
	}
	t.polls++
	if len(t.steps) == 0 {
		return TicketState{Status: cloudauth.StatusNotSubmitted}
	}

	for t.current < len(t.steps)-1 {
		step := t.steps[t.current]
		pollsUsed := step.Polls > 0 && t.pollsInStep >= step.Polls
		timeUp := !step.Until.IsZero() && !now.Before(step.Until)
		if !pollsUsed && !timeUp {
			break
		}
		t.current++
		t.pollsInStep = 0
	}
	t.pollsInStep++
	return t.steps[t.current].State
}
