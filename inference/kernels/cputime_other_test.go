//go:build !linux

package kernels

import "testing"

func reportCPURate(b *testing.B, bytes int64, f func()) {
	for b.Loop() {
		f()
	}
}
