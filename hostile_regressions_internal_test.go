package cloudauth

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// backoff doubles the wait without checking for overflow. With a maximum
// near math.MaxInt64 the 64th wait wraps to a negative Duration and
// rand.N panics. It is latent: reaching attempt 64 takes centuries of
// sleeping, but one clamp before doubling removes it.
func TestFaultBackoffOverflowPanics(t *testing.T) {
	client, err := NewClient(WithEndpoint("http://127.0.0.1:1"), WithAccessKey("id", "secret"),
		WithBackoff(time.Nanosecond, time.Duration(math.MaxInt64)), WithMaxAttempts(100))
	assert.NoError(t, err)

	for attempt := 1; attempt <= 100; attempt++ {
		assert.NotPanics(t, func() { _ = client.backoff(attempt) }, "attempt %d", attempt)
	}
}
