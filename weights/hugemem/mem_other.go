//go:build !unix

package hugemem

// Map falls back to the Go heap (no alignment, no huge pages).
func Map(n int) ([]byte, error) { return make([]byte, n), nil }

// Unmap does nothing for Go heap memory.
func Unmap([]byte) error { return nil }
