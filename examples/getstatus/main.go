// Command getstatus prints the verification status of one ticket.
//
//	go run ./examples/getstatus -biz RPBasic -ticket demo-passed
//
// When the default credential chain finds credentials (for example
// ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET), it calls
// the real service, or the URL given with -endpoint. Otherwise it starts the
// in-process fake endpoint of package cloudauthtest with demo tickets
// (demo-passed, demo-rejected, demo-in-review) and reports that on stderr.
//
// The chain's ECS instance RAM role step is skipped unless -ecs is given,
// so that a run on a laptop never contacts the ECS metadata address.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cloudauth-go/cloudauth"
	"github.com/cloudauth-go/cloudauth/cloudauthtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	biz      string
	ticket   string
	endpoint string
	asJSON   bool
	useECS   bool
	verbose  bool
	timeout  time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opts options
	flags := flag.NewFlagSet("getstatus", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&opts.biz, "biz", cloudauthtest.DemoBiz, "business scenario from the console")
	flags.StringVar(&opts.ticket, "ticket", "", "ticket id to look up (required)")
	flags.StringVar(&opts.endpoint, "endpoint", "", "service URL when credentials are found (default "+cloudauth.DefaultEndpoint+")")
	flags.BoolVar(&opts.asJSON, "json", false, "print the result as JSON")
	flags.BoolVar(&opts.useECS, "ecs", false, "let the credential chain ask the ECS instance metadata service")
	flags.BoolVar(&opts.verbose, "v", false, "say which credential sources were tried when none was found")
	flags.DurationVar(&opts.timeout, "timeout", 15*time.Second, "deadline for the whole call, retries included")
	if err := flags.Parse(args); err != nil {
		return opts, err
	}
	if opts.ticket == "" {
		flags.Usage()
		return opts, errors.New("-ticket is required, for example -ticket " + cloudauthtest.DemoTicketPassed)
	}
	return opts, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "getstatus:", err)
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()

	clientOpts, cleanup, err := chooseEndpoint(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "getstatus:", err)
		return 1
	}
	defer cleanup()

	client, err := cloudauth.NewClient(clientOpts...)
	if err != nil {
		fmt.Fprintln(stderr, "getstatus:", err)
		return 1
	}
	resp, err := client.GetStatus(ctx, &cloudauth.GetStatusRequest{Biz: opts.biz, TicketID: opts.ticket})
	if err != nil {
		fmt.Fprintln(stderr, "getstatus:", describeError(err))
		return 1
	}

	if opts.asJSON {
		err = printJSON(stdout, opts, resp)
	} else {
		err = printText(stdout, opts, resp)
	}
	if err != nil {
		fmt.Fprintln(stderr, "getstatus: writing the result:", err)
		return 1
	}
	return 0
}

// chooseEndpoint returns the client options for the real service when the
// credential chain finds credentials, and for an in-process fake endpoint
// otherwise. cleanup stops the fake endpoint.
func chooseEndpoint(ctx context.Context, opts options, stderr io.Writer) ([]cloudauth.Option, func(), error) {
	if !opts.useECS && os.Getenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED") == "" {
		if err := os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"); err != nil {
			return nil, nil, err
		}
	}
	provider, err := cloudauth.NewDefaultCredentialsProvider()
	if err != nil {
		return nil, nil, err
	}
	_, retrieveErr := provider.Retrieve(ctx)
	if retrieveErr == nil {
		clientOpts := []cloudauth.Option{cloudauth.WithCredentials(provider)}
		if opts.endpoint != "" {
			clientOpts = append(clientOpts, cloudauth.WithEndpoint(opts.endpoint))
		}
		return clientOpts, func() {}, nil
	}

	fake := cloudauthtest.NewDemoServer()
	if opts.verbose {
		fmt.Fprintf(stderr, "getstatus: %+v\n", retrieveErr)
	}
	fmt.Fprintf(stderr, "getstatus: no Alibaba Cloud credentials found (-v lists the sources tried), "+
		"so using the in-process fake endpoint at %s\n", fake.URL)
	fmt.Fprintf(stderr, "getstatus: its demo tickets are %s, %s and %s in Biz %s\n",
		cloudauthtest.DemoTicketPassed, cloudauthtest.DemoTicketRejected, cloudauthtest.DemoTicketInReview,
		cloudauthtest.DemoBiz)
	clientOpts := []cloudauth.Option{
		cloudauth.WithEndpoint(fake.URL),
		cloudauth.WithAccessKey(cloudauthtest.DemoAccessKeyID, cloudauthtest.DemoAccessKeySecret),
	}
	return clientOpts, fake.Close, nil
}

// describeError adds what to do next to the errors a user can fix.
func describeError(err error) string {
	switch {
	case errors.Is(err, cloudauth.ErrInvalidBiz):
		return err.Error() + "\nCheck -biz against the business scenarios in the ID Verification console."
	case errors.Is(err, cloudauth.ErrNoPermission):
		return err.Error() + "\nEnable the ID Verification service for this account, or grant the RAM user access."
	case errors.Is(err, context.DeadlineExceeded):
		return err.Error() + "\nRaise -timeout, or check the network path to the endpoint."
	case errors.Is(err, cloudauth.ErrAttemptTimeout):
		return err.Error() + "\nThe endpoint is slow to respond; check the network path to it."
	}
	return err.Error()
}

func printText(w io.Writer, opts options, resp *cloudauth.GetStatusResponse) error {
	verdict := "not final, ask again later"
	if resp.StatusCode.IsFinal() {
		verdict = "final"
	}
	conclusions := resp.AuditConclusions
	if conclusions == "" {
		conclusions = "-"
	}
	_, err := fmt.Fprintf(w, "ticket:      %s (biz %s)\nstatus:      %s (%d), %s\nsimilarity:  %.2f\nconclusions: %s\nrequest id:  %s\n",
		opts.ticket, opts.biz, resp.StatusCode, int(resp.StatusCode), verdict,
		resp.SimilarityScore, conclusions, resp.RequestID)
	return err
}

func printJSON(w io.Writer, opts options, resp *cloudauth.GetStatusResponse) error {
	encoder := json.NewEncoder(w)
	encoder.SetIndent("", "  ")
	return encoder.Encode(map[string]any{
		"biz":              opts.biz,
		"ticketId":         opts.ticket,
		"status":           resp.StatusCode.String(),
		"statusCode":       int(resp.StatusCode),
		"final":            resp.StatusCode.IsFinal(),
		"similarityScore":  resp.SimilarityScore,
		"auditConclusions": resp.AuditConclusions,
		"requestId":        resp.RequestID,
	})
}
