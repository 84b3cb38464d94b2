//go:build unix

package hugemem

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Map maps n bytes (n > 0) of zeroed anonymous memory outside the Go heap,
// starting on a 2 MiB boundary and advised as huge pages (best effort:
// kernels without THP, or with it off, give ordinary pages). The mapping
// ends at the page after n bytes, not at a huge page: a partial huge page
// at the end gets ordinary pages, so no more than n bytes (rounded to a
// page) ever become resident. Unmap gives it back.
func Map(n int) ([]byte, error) {
	page := os.Getpagesize()
	size := (n + page - 1) / page * page
	// MmapPtr, not Mmap: x/sys/unix's Munmap takes only whole mappings it
	// made, and the slack is unmapped in parts.
	raw, err := unix.MmapPtr(-1, 0, nil, uintptr(size+hugePage), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	off := (hugePage - uintptr(raw)%hugePage) % hugePage
	if off > 0 {
		_ = unix.MunmapPtr(raw, off)
	}
	if tail := hugePage - off; tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(raw, off+uintptr(size)), tail)
	}
	b := unsafe.Slice((*byte)(unsafe.Add(raw, off)), size)
	_ = madviseHuge(b)
	return b[:n:n], nil
}

// Unmap gives back memory from Map.
func Unmap(b []byte) error {
	if cap(b) == 0 {
		return nil
	}
	page := os.Getpagesize()
	return unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr((cap(b)+page-1)/page*page))
}
