// Command poll watches a batch of demo tickets until each has a verdict and
// prints every status change as it arrives, with the batch's progress.
//
// It runs against an in-process cloudauthtest server that scripts each
// ticket to stay in review for a few polls and then pass or be rejected, so
// it needs no Alibaba Cloud account and sends nothing off the machine:
//
//	go run ./examples/poll
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cloudauth-go/cloudauth"
	"github.com/cloudauth-go/cloudauth/cloudauthtest"
)

// batchSize is the number of tickets the Watcher polls.
const batchSize = 20

// Polling settings short enough for the demo to end in a few seconds. A
// real service would keep the defaults, which start at one second.
const (
	firstInterval = 100 * time.Millisecond
	maxInterval   = 400 * time.Millisecond
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "poll:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	srv := cloudauthtest.NewDemoServer()
	defer srv.Close()
	tickets := scriptBatch(srv, batchSize)

	client, err := cloudauth.NewClient(
		cloudauth.WithEndpoint(srv.URL),
		cloudauth.WithAccessKey(cloudauthtest.DemoAccessKeyID, cloudauthtest.DemoAccessKeySecret),
		cloudauth.WithHTTPClient(srv.Client()),
	)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := waitForOne(ctx, out, client); err != nil {
		return err
	}
	start := time.Now()
	if err := watchBatch(ctx, out, client, tickets); err != nil {
		return err
	}
	fmt.Fprintf(out, "all %d tickets final in %v; the server received %d requests in all\n",
		len(tickets), time.Since(start).Round(10*time.Millisecond), srv.Requests())
	return nil
}

// scriptBatch scripts n tickets on srv: each stays in review for two to
// four polls, then every fourth is rejected and the others pass. It
// returns the tickets in order.
func scriptBatch(srv *cloudauthtest.Server, n int) []cloudauth.GetStatusRequest {
	tickets := make([]cloudauth.GetStatusRequest, n)
	for i := range tickets {
		id := fmt.Sprintf("ticket-%02d", i+1)
		verdict := cloudauthtest.TicketState{Status: cloudauth.StatusPassed, SimilarityScore: 90 + float64(i%10)}
		if i%4 == 3 {
			verdict = cloudauthtest.TicketState{Status: cloudauth.StatusRejected, AuditConclusions: "ID photo is blurred"}
		}
		srv.ScriptTicket(cloudauthtest.DemoBiz, id,
			cloudauthtest.Step{State: cloudauthtest.TicketState{Status: cloudauth.StatusInReview}, Polls: 2 + i%3},
			cloudauthtest.Step{State: verdict})
		tickets[i] = cloudauth.GetStatusRequest{Biz: cloudauthtest.DemoBiz, TicketID: id}
	}
	return tickets
}

// waitForOne waits for the verdict of one demo ticket with WaitForVerdict.
func waitForOne(ctx context.Context, out io.Writer, client *cloudauth.Client) error {
	req := &cloudauth.GetStatusRequest{Biz: cloudauthtest.DemoBiz, TicketID: cloudauthtest.DemoTicketPassed}
	resp, err := client.WaitForVerdict(ctx, req,
		cloudauth.WithPollInterval(firstInterval, maxInterval), cloudauth.WithMaxWait(10*time.Second))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "WaitForVerdict %s: %s (similarity %.2f)\n", req.TicketID, resp.StatusCode, resp.SimilarityScore)
	return nil
}

// watchBatch watches tickets with a Watcher and prints each update until
// every ticket is final.
func watchBatch(ctx context.Context, out io.Writer, client *cloudauth.Client, tickets []cloudauth.GetStatusRequest) error {
	watcher, err := client.NewWatcher(
		cloudauth.WithPollInterval(firstInterval, maxInterval),
		cloudauth.WithConcurrency(4),
		cloudauth.WithRateLimit(50, 5),
		cloudauth.WithStopWhenIdle(),
	)
	if err != nil {
		return err
	}
	for _, ticket := range tickets {
		watcher.Add(ticket)
	}

	runErr := make(chan error, 1)
	go func() { runErr <- watcher.Run(ctx) }()

	final := 0
	for update := range watcher.Updates() {
		printUpdate(out, update)
		if update.Final {
			final++
			fmt.Fprintf(out, "progress: %d/%d final\n", final, len(tickets))
		}
	}
	return <-runErr
}

// printUpdate prints one line for update.
func printUpdate(out io.Writer, update cloudauth.Update) {
	id := update.Ticket.TicketID
	switch {
	case update.Err != nil:
		fmt.Fprintf(out, "%s: error: %v\n", id, update.Err)
	case update.First:
		fmt.Fprintf(out, "%s: %s\n", id, update.Response.StatusCode)
	case update.Response.StatusCode == cloudauth.StatusRejected:
		fmt.Fprintf(out, "%s: %s -> %s (%s)\n", id, update.Previous, update.Response.StatusCode,
			update.Response.AuditConclusions)
	default:
		fmt.Fprintf(out, "%s: %s -> %s (similarity %.2f)\n", id, update.Previous, update.Response.StatusCode,
			update.Response.SimilarityScore)
	}
}
