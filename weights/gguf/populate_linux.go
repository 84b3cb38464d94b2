package gguf

import "golang.org/x/sys/unix"

// populateWrite faults in private, writable copies of the pages of b in one
// call; kernels without MADV_POPULATE_WRITE (before 5.14) refuse it, and
// the pages then fault one by one as before.
func populateWrite(b []byte) { _ = unix.Madvise(b, unix.MADV_POPULATE_WRITE) }
