//go:build unix

package history

import (
	"syscall"
	"time"
)

// processCPU is the user+system CPU time this process has used; benchmarks
// report it next to wall time because the shared machine's load inflates
// wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
