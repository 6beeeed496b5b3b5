//go:build !unix

package bench

import (
	"testing"
	"time"
)

// processCPUTime returns 0 where getrusage is missing, and the benchmarks
// then report no CPU time.
func processCPUTime(testing.TB) time.Duration { return 0 }
