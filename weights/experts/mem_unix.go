//go:build unix

package experts

import "golang.org/x/sys/unix"

// allocSlot maps n bytes of anonymous memory: page-aligned (as O_DIRECT
// needs), outside the Go heap (the GC neither scans nor counts it) and
// returned to the system by freeSlot.
func allocSlot(n int64) ([]byte, error) {
	return unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
}

func freeSlot(b []byte) error { return unix.Munmap(b) }
