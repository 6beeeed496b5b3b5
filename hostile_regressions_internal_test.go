package cloudauth

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// backoff must not overflow when the maximum is near math.MaxInt64, where
// doubling the 64th wait would wrap to a negative Duration and panic rand.N.
func TestBackoffNoOverflow(t *testing.T) {
	client, err := NewClient(WithEndpoint("http://127.0.0.1:1"), WithAccessKey("id", "secret"),
		WithBackoff(time.Nanosecond, time.Duration(math.MaxInt64)), WithMaxAttempts(100))
	assert.NoError(t, err)

	for attempt := 1; attempt <= 100; attempt++ {
		assert.NotPanics(t, func() { _ = client.backoff(attempt) }, "attempt %d", attempt)
	}
}

func TestNilContextRejectedByPollers(t *testing.T) {
	client, err := NewClient(WithEndpoint("http://127.0.0.1:1"), WithAccessKey("id", "secret"))
	assert.NoError(t, err)
	//lint:ignore SA1012 a nil context is the input under test
	_, err = client.WaitForVerdict(nil, &GetStatusRequest{Biz: "RPBasic", TicketID: "t"})
	assert.ErrorContains(t, err, "context is nil")
	w, err := client.NewWatcher()
	assert.NoError(t, err)
	//lint:ignore SA1012 a nil context is the input under test
	assert.ErrorContains(t, w.Run(nil), "context is nil")
}
