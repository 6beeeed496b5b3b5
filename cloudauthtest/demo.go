package cloudauthtest

import "github.com/cloudauth-go/cloudauth"

// The credentials, business scenario and tickets of NewDemoServer.
const (
	DemoAccessKeyID     = "cloudauthtest-demo-id"
	DemoAccessKeySecret = "cloudauthtest-demo-secret"
	DemoBiz             = "RPBasic"

	// DemoTicketPassed reports cloudauth.StatusPassed with a similarity
	// score of 93.12.
	DemoTicketPassed = "demo-passed"
	// DemoTicketRejected reports cloudauth.StatusRejected with a similarity
	// score of 41.5 and the audit conclusion "ID photo is blurred".
	DemoTicketRejected = "demo-rejected"
	// DemoTicketInReview reports cloudauth.StatusInReview.
	DemoTicketInReview = "demo-in-review"
)

// NewDemoServer starts a Server that accepts DemoAccessKeyID and
// DemoAccessKeySecret, serves DemoBiz and reports fixed states for the demo
// tickets, so examples run with no Alibaba Cloud account. Other tickets in
// DemoBiz report cloudauth.StatusNotSubmitted. Call Close when done.
func NewDemoServer() *Server {
	s := NewServer()
	s.AddAccessKey(DemoAccessKeyID, DemoAccessKeySecret)
	s.AddBiz(DemoBiz)
	s.SetTicket(DemoBiz, DemoTicketPassed, TicketState{
		Status:          cloudauth.StatusPassed,
		SimilarityScore: 93.12,
	})
	s.SetTicket(DemoBiz, DemoTicketRejected, TicketState{
		Status:           cloudauth.StatusRejected,
		SimilarityScore:  41.5,
		AuditConclusions: "ID photo is blurred",
	})
	s.SetTicket(DemoBiz, DemoTicketInReview, TicketState{Status: cloudauth.StatusInReview})
	return s
}
