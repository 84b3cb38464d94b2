// Package hugemem allocates large buffers of weights outside the Go heap,
// backed by transparent huge pages where the system offers them.
//
// Decode streams every resident weight once per token, and in a VM each 4
// KiB page crossed costs a TLB miss with a two-level page walk. The 4B's
// lm_head (131 MB) streamed by the Q4_0x4 kernels, 2 threads, 2 vCPU Zen 4
// VM, six interleaved runs: 26-31 GB/s from copy-on-write pages of the
// file mapping, 28-37 from a Go heap copy, 31-39 from a huge-page copy (one
// thread: 17-22, 19-22, 24-26).
package hugemem

import "fmt"

// hugePage is the x86-64 and arm64 (4 KiB granule) huge page size.
const hugePage = 2 << 20

// Buffer is memory from Alloc (a Map with an owner); Free gives it back.
type Buffer struct{ b []byte }

// Alloc returns n bytes of zeroed memory, 2 MiB-aligned and advised as
// huge pages where the platform supports it (else page- or heap-backed).
func Alloc(n int) (*Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("hugemem: negative size %d", n)
	}
	if n == 0 {
		return &Buffer{b: []byte{}}, nil
	}
	b, err := Map(n)
	if err != nil {
		return nil, fmt.Errorf("hugemem: %d bytes: %w", n, err)
	}
	return &Buffer{b: b}, nil
}

// Bytes is the buffer's memory; it must not be used after Free.
func (m *Buffer) Bytes() []byte { return m.b }

// Free gives the memory back; later calls do nothing.
func (m *Buffer) Free() error {
	if m == nil || m.b == nil {
		return nil
	}
	b := m.b
	m.b = nil
	return Unmap(b)
}
