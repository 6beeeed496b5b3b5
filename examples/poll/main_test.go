package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunReportsEveryTicket(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out))
	text := out.String()
	assert.Contains(t, text, "WaitForVerdict demo-passed: Passed (similarity 93.12)\n")
	assert.Contains(t, text, "ticket-01: InReview\n")
	assert.Contains(t, text, "ticket-01: InReview -> Passed (similarity 90.00)\n")
	assert.Contains(t, text, "ticket-04: InReview -> Rejected (ID photo is blurred)\n")
	assert.Contains(t, text, "progress: 20/20 final\n")
	assert.Equal(t, batchSize, strings.Count(text, "progress: "), "one progress line for each final ticket")
	assert.NotContains(t, text, "error:")
}
