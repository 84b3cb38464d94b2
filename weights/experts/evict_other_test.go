//go:build !linux

package experts

import "testing"

// evictFile is a no-op where posix_fadvise is not used.
func evictFile(t testing.TB, path string) {}
