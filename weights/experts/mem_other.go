//go:build !unix

package experts

import "unsafe"

// allocSlot falls back to the Go heap where anonymous mmap is unavailable,
// slicing a page-aligned window out of a slightly larger buffer.
func allocSlot(n int64) ([]byte, error) {
	b := make([]byte, n+pageSize)
	skip := (pageSize - int(uintptr(unsafe.Pointer(&b[0]))%pageSize)) % pageSize
	return b[skip : skip+int(n) : skip+int(n)], nil
}

func freeSlot(b []byte) error { return nil }
