package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// GetStatusRequest names the verification ticket to look up. The url tags
// are the query parameter names, as go-querystring would encode them.
type GetStatusRequest struct {
	// Biz is the business scenario created in the console, such as "RPBasic".
	Biz string `url:"Biz"`
	// TicketID is the verification task id, the same id that was used to
	// request the verification token.
	TicketID string `url:"TicketId"`
}

// validate rejects a request that the service would reject as
// InvalidParam.ParamMissing, so that nothing is sent for it.
func (r *GetStatusRequest) validate() error {
	if r == nil {
		return fmt.Errorf("cloudauth: GetStatus: the request is nil; pass a *GetStatusRequest with Biz and TicketID: %w",
			ErrParamMissing)
	}
	if strings.TrimSpace(r.Biz) == "" {
		return fmt.Errorf("cloudauth: GetStatus: Biz %q is empty; set it to a business scenario from the console, such as \"RPBasic\": %w",
			r.Biz, ErrParamMissing)
	}
	if strings.TrimSpace(r.TicketID) == "" {
		return fmt.Errorf("cloudauth: GetStatus: TicketID %q is empty; set it to the ticket id used to request the verification token: %w",
			r.TicketID, ErrParamMissing)
	}
	return nil
}

// appendParams appends the request's query parameters, the same ones that
// go-querystring encodes from the url tags. Writing them out spares every
// call go-querystring's reflection and url.Values map (1.6 us and 11
// allocations), and a test checks that both agree.
func (r *GetStatusRequest) appendParams(dst []queryParam) []queryParam {
	return append(dst, queryParam{"Biz", r.Biz}, queryParam{"TicketId", r.TicketID})
}

// GetStatusResponse is the verification state of one ticket.
type GetStatusResponse struct {
	// RequestID identifies the request to Alibaba Cloud support.
	RequestID string
	// StatusCode is the ticket's verification state.
	StatusCode StatusCode
	// SimilarityScore is the similarity, from 0 to 100, between the face
	// photo and the ID card's portrait. It is meaningful only when the
	// submission had both pictures, and is 0 when the response left it out.
	SimilarityScore float64
	// AuditConclusions explains why a rejected submission failed, such as a
	// blurred ID photo.
	AuditConclusions string
}

// getStatusData is the Data element of a GetStatus response.
type getStatusData struct {
	StatusCode       flexInt    `json:"StatusCode" xml:"StatusCode"`
	SimilarityScore  flexFloat  `json:"SimilarityScore" xml:"SimilarityScore"`
	AuditConclusions flexString `json:"AuditConclusions" xml:"AuditConclusions"`
}

var errNoStatusCode = errors.New("the Data element has no StatusCode")

// check rejects Data without a StatusCode, which carries no verdict, and
// a SimilarityScore outside the documented range of 0 to 100.
func (d *getStatusData) check() error {
	if !d.StatusCode.set {
		return errNoStatusCode
	}
	if d.StatusCode.value < math.MinInt32 || d.StatusCode.value > math.MaxInt32 {
		return fmt.Errorf("StatusCode %d is out of range", d.StatusCode.value)
	}
	// NOTE: the reference documents 0 to 100 and no sentinel value. If the
	// service ever sends one, such as -1, this check must admit it.
	if score := d.SimilarityScore.value; score < 0 || score > 100 {
		return fmt.Errorf("SimilarityScore %v is outside the documented range 0 to 100", score)
	}
	return nil
}

// GetStatus returns the verification state of req's ticket. It retries
// transport failures, 5xx responses and throttling as the client's options
// set, and stops when ctx ends.
//
// A nil request or an empty Biz or TicketID is rejected before anything is
// sent, with an error that satisfies errors.Is(err, ErrParamMissing). An
// response the service marks as failed is an *APIError; a 2xx response the
// client cannot decode is a *ResponseError.
func (c *Client) GetStatus(ctx context.Context, req *GetStatusRequest) (*GetStatusResponse, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var storage [2]queryParam
	params := req.appendParams(storage[:0])

	var env envelope[getStatusData]
	if err := invoke(ctx, c, "GetStatus", params, &env); err != nil {
		return nil, err
	}

	data := env.Data
	return &GetStatusResponse{
		RequestID:        string(env.RequestID),
		StatusCode:       StatusCode(data.StatusCode.value),
		SimilarityScore:  data.SimilarityScore.value,
		AuditConclusions: string(data.AuditConclusions),
	}, nil
}
