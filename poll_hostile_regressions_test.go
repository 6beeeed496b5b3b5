package cloudauth

import (
	"context"
	"math"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// watcherPanicChildEnv marks the copy of the test binary that
// TestWatcherConditionPanicContained starts, so that a crash ends that
// copy and not the test run.
const watcherPanicChildEnv = "CLOUDAUTH_TEST_WATCHER_PANIC_CHILD"

func TestWatcherConditionPanicContained(t *testing.T) {
	if os.Getenv(watcherPanicChildEnv) == "1" {
		runWatcherWithPanickingCondition(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestWatcherConditionPanicContained$", "-test.count=1")
	cmd.Env = append(os.Environ(), watcherPanicChildEnv+"=1")
	output, err := cmd.CombinedOutput()
	// WaitForVerdict lets the panic reach its caller, who can recover. The
	// Watcher calls the condition on its own goroutines, where no caller
	// can, so it must contain the panic itself or the program would end.
	assert.NoError(t, err, "a panicking WithCondition function crashed the process:\n%s", lastLines(output, 12))
}

// runWatcherWithPanickingCondition runs a Watcher whose condition panics and
// expects the ticket to end with a final update that carries an error.
func runWatcherWithPanickingCondition(t *testing.T) {
	service := newScriptedService(map[string][]scriptStep{"a": {stepInReview}})
	m := newMockServer(t, service.respond)
	client := newTestClient(t, m)
	w, err := client.NewWatcher(WithRateLimit(math.Inf(1), 1), WithStopWhenIdle(),
		WithCondition(func(*GetStatusResponse) bool { panic("condition bug") }))
	if err != nil {
		t.Fatal(err)
	}
	w.Add(ticket("a"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	updates, err := runAndCollect(ctx, w)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(updates) != 1 || !updates[0].Final || updates[0].Err == nil {
		t.Fatalf("expected one final update with an error, got %+v", updates)
	}
}

// lastLines returns the last n lines of output.
func lastLines(output []byte, n int) string {
	end := len(output)
	for i := len(output) - 1; i >= 0; i-- {
		if output[i] == '\n' {
			n--
			if n < 0 {
				return string(output[i+1 : end])
			}
		}
	}
	return string(output)
}
