//go:build unix

package bench

import (
	"syscall"
	"testing"
	"time"
)

// processCPUTime returns the CPU time, user and system, that the whole
// process has used so far: the client, the loopback server and the runtime.
func processCPUTime(tb testing.TB) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		tb.Fatalf("getrusage failed: %v", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
