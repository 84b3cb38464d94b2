package kernels

import (
	"syscall"
	"testing"
)

// On Linux the matrix ends at a PROT_NONE page: reading past it faults.
func init() {
	atEnd = func(t testing.TB, size int) []byte {
		page := syscall.Getpagesize()
		n := (size + page - 1) / page * page
		mem, err := syscall.Mmap(-1, 0, n+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mprotect(mem[n:], syscall.PROT_NONE); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Munmap(mem) })
		return mem[n-size : n : n]
	}
}
