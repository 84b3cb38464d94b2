//go:build unix

package experts

import "smallthinker/weights/hugemem"

// allocSlot maps n bytes of anonymous memory: page-aligned (as O_DIRECT
// needs), outside the Go heap (the GC neither scans nor counts it),
// returned to the system by freeSlot, and on huge pages where it spans
// whole ones (slots are streamed every time their expert is used: the
// 21B's 6 MiB slots are 3 huge pages, the 4B's 2 MiB ones nearly 1).
func allocSlot(n int64) ([]byte, error) { return hugemem.Map(int(n)) }

func freeSlot(b []byte) error { return hugemem.Unmap(b) }
