//go:build unix

package hugemem

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// alloc maps n bytes rounded up to whole huge pages, plus one for
// alignment, and advises the aligned part (best effort: kernels without
// THP, or with it off, give ordinary pages).
func alloc(n int) (base, b []byte, err error) {
	size := (n + hugePage - 1) / hugePage * hugePage
	base, err = unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	off := (hugePage - int(uintptr(unsafe.Pointer(&base[0]))%hugePage)) % hugePage
	b = base[off : off+size]
	_ = madviseHuge(b)
	return base, b[:n:n], nil
}

func free(base []byte) error { return unix.Munmap(base) }
