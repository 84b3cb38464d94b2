//go:build unix

package gguf

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// mmapFile maps the file copy-on-write: pages stay the page cache's until
// written, and a write (the engine repacks weights in place for its kernels)
// changes only this process's copy, never the file.
func mmapFile(fh *os.File, size int64) ([]byte, error) {
	if size == 0 {
		return []byte{}, nil
	}
	return syscall.Mmap(int(fh.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
}

func unmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return syscall.Munmap(b)
}

// dropPrivate discards this process's copies of the pages of b (page-aligned),
// which then read as the file again.
func dropPrivate(b []byte) error { return unix.Madvise(b, unix.MADV_DONTNEED) }
