package inference

import (
	"math"
	"testing"
)

// TestSincosfGlibc compares with values printed by glibc 2.36's sinf/cosf on
// an x86-64 CPU with FMA (the reference engine's C library), covering each
// reduction path; some of these differ from the correctly rounded result.
// (A local run over 3.1 million inputs, all RoPE angles of 20,000 positions
// for head sizes 16/64/128 plus a sweep of float32 bit patterns, matched.)
func TestSincosfGlibc(t *testing.T) {
	for _, tc := range []struct{ x, sin, cos uint32 }{
		{0x00000000, 0x00000000, 0x3f800000},
		{0x3727c5ac, 0x3727c5ac, 0x3f800000},
		{0x3f000000, 0x3ef57744, 0x3f60a940},
		{0x3f400000, 0x3f2e7fe1, 0x3f3b4ff6},
		{0x3f800000, 0x3f576aa4, 0x3f0a5140},
		{0x40400000, 0x3e1081c3, 0xbf7d7026},
		{0x41400000, 0xbf095cd8, 0x3f5806d0},
		{0x42080000, 0x3f0771f6, 0xbf593be7},
		{0x42efcccd, 0x3efe2bff, 0x3f5e3a4d},
		{0x42f00000, 0x3f14a2ef, 0x3f506e2a},
		{0x447a0000, 0x3f53ae61, 0x3f0ff813},
		{0x45865800, 0x3f76c19d, 0x3e8857b9},
		{0x46fffe00, 0x3e4001b8, 0x3f7b759c},
		{0x49742400, 0xbeb33259, 0x3f6fcefd},
		{0xc0200000, 0xbf193578, 0xbf4d17bf},
		{0xc3960000, 0x3f7ff000, 0xbcb503f8},
		{0x3d6d6a12, 0x3d6d480b, 0x3f7f91f1},
	} {
		x := math.Float32frombits(tc.x)
		s, c := sincosfGlibc(x)
		if math.Float32bits(s) != tc.sin || math.Float32bits(c) != tc.cos {
			t.Errorf("sincosf(%g) = %08x %08x, glibc %08x %08x", x, math.Float32bits(s), math.Float32bits(c), tc.sin, tc.cos)
		}
	}
	// Far from correctly rounded would be a porting error: stay within 1 ulp of math.Sin.
	for x := float32(0); x < 5000; x += 0.37 {
		s, _ := sincosfGlibc(x)
		if want := float32(math.Sin(float64(x))); math.Abs(float64(s-want)) > 1.2e-7 {
			t.Fatalf("sinf(%g) = %g, want about %g", x, s, want)
		}
	}
}
