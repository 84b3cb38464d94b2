//go:build !unix

package hugemem

// alloc falls back to the Go heap.
func alloc(n int) (base, b []byte, err error) { return nil, make([]byte, n), nil }

func free([]byte) error { return nil }
