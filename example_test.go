package cloudauth_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudauth-go/cloudauth"
	"github.com/cloudauth-go/cloudauth/cloudauthtest"
)

// This example builds a client for a fake endpoint. In production, pass
// WithAccessKey or WithCredentials and leave the endpoint at its default.
func ExampleNewClient() {
	srv := cloudauthtest.NewDemoServer()
	defer srv.Close()

	client, err := cloudauth.NewClient(
		cloudauth.WithEndpoint(srv.URL),
		cloudauth.WithAccessKey(cloudauthtest.DemoAccessKeyID, cloudauthtest.DemoAccessKeySecret),
		cloudauth.WithMaxAttempts(5),
	)
	fmt.Println(client != nil, err)

	_, err = cloudauth.NewClient(cloudauth.WithMaxAttempts(0))
	fmt.Println(err)
	// Output:
	// true <nil>
	// cloudauth: NewClient: WithMaxAttempts(0): the number of attempts must be from 1 (no retries) to 100
}

func ExampleClient_GetStatus() {
	srv := cloudauthtest.NewDemoServer()
	defer srv.Close()
	client, err := cloudauth.NewClient(
		cloudauth.WithEndpoint(srv.URL),
		cloudauth.WithAccessKey(cloudauthtest.DemoAccessKeyID, cloudauthtest.DemoAccessKeySecret),
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	resp, err := client.GetStatus(context.Background(), &cloudauth.GetStatusRequest{
		Biz:      "RPBasic",
		TicketID: cloudauthtest.DemoTicketRejected,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, resp.StatusCode.IsFinal())
	fmt.Println(resp.SimilarityScore, resp.AuditConclusions)
	// Output:
	// Rejected true
	// 41.5 ID photo is blurred
}

func ExampleAPIError() {
	srv := cloudauthtest.NewDemoServer()
	defer srv.Close()
	client, err := cloudauth.NewClient(
		cloudauth.WithEndpoint(srv.URL),
		cloudauth.WithAccessKey(cloudauthtest.DemoAccessKeyID, cloudauthtest.DemoAccessKeySecret),
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	_, err = client.GetStatus(context.Background(), &cloudauth.GetStatusRequest{
		Biz:      "NoSuchScenario",
		TicketID: "ticket-1",
	})
	var apiErr *cloudauth.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.HTTPStatusCode, apiErr.Code)
	}
	fmt.Println(errors.Is(err, cloudauth.ErrInvalidBiz))

	_, err = client.GetStatus(context.Background(), &cloudauth.GetStatusRequest{Biz: "RPBasic"})
	fmt.Println(errors.Is(err, cloudauth.ErrParamMissing))
	// Output:
	// 400 InvalidParam.InvalidBiz
	// true
	// true
}

// This example tests code that uses the client against cloudauthtest, with
// a ticket state of the test's choosing and one injected failure.
func Example_testingWithCloudauthtest() {
	srv := cloudauthtest.NewServer()
	defer srv.Close()
	srv.AddAccessKey("test-id", "test-secret")
	srv.SetTicket("RPBasic", "ticket-7", cloudauthtest.TicketState{
		Status:          cloudauth.StatusPassed,
		SimilarityScore: 88.5,
	})
	srv.FailNext(1, cloudauthtest.ServiceUnavailableFailure())

	client, err := cloudauth.NewClient(
		cloudauth.WithEndpoint(srv.URL),
		cloudauth.WithAccessKey("test-id", "test-secret"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := client.GetStatus(context.Background(), &cloudauth.GetStatusRequest{
		Biz:      "RPBasic",
		TicketID: "ticket-7",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, resp.SimilarityScore, srv.Requests())
	// Output:
	// Passed 88.5 2
}
