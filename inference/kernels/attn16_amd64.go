//go:build !purego

package kernels

import "unsafe"

// The assembly takes head sizes that are a multiple of 16; others use the Go
// versions.

func attnScoresHeadsF16(q []float32, nh, d int, k []uint16, stride int, scale float32, out []float32, outStride, n int, pf []uint16) bool {
	if active == levelGeneric || d == 0 || d%16 != 0 {
		return false
	}
	delta := 0
	if len(pf) > 0 {
		// The kernel prefetches pf's rows at the same offsets as k's.
		delta = int(uintptr(unsafe.Pointer(&pf[0])) - uintptr(unsafe.Pointer(&k[0])))
	}
	attnScoresHeadsF16AVX2(&q[0], nh, &k[0], stride*2, n, d*4, scale, &out[0], outStride*4, delta)
	return true
}

func attnAccumHeadsF16(acc []float32, nh, d int, s []float32, sStride int, v []uint16, stride, n, pfOff, pfEnd int) bool {
	if active == levelGeneric || d == 0 || d%16 != 0 {
		return false
	}
	if active == levelAVX512VNNI && d == 128 {
		// Whole rows, one stream (see the kernel): one layer's attention
		// of the 4B from DRAM, BenchmarkAttentionCold, 46-52 us at ctx
		// 512 (AVX2 kernel 64-65), 141 at 2048 (204-229).
		attnAccumHeadsF16AVX512(&acc[0], nh, &s[0], sStride*4, &v[0], stride*2, n)
		return true
	}
	attnAccumHeadsF16AVX2(&acc[0], nh, d*4, &s[0], sStride*4, &v[0], stride*2, n, pfOff*2, pfEnd*2)
	return true
}
