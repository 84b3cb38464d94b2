package main

import (
	"bytes"
	"testing"
)

// TestVexDPBUSDBytes compares the hand encoder with GNU as output for
// "{vex} vpdpbusd %ymm<src2>,%ymm<src1>,%ymm<dst>", covering low and high
// registers in every operand.
func TestVexDPBUSDBytes(t *testing.T) {
	tests := []struct {
		dst, src1, src2 int
		want            []byte
	}{
		{5, 4, 2, []byte{0xc4, 0xe2, 0x5d, 0x50, 0xea}},
		{11, 10, 7, []byte{0xc4, 0x62, 0x2d, 0x50, 0xdf}},
		{9, 3, 12, []byte{0xc4, 0x42, 0x65, 0x50, 0xcc}},
		{1, 15, 0, []byte{0xc4, 0xe2, 0x05, 0x50, 0xc8}},
		{14, 0, 15, []byte{0xc4, 0x42, 0x7d, 0x50, 0xf7}},
	}
	for _, tt := range tests {
		if got := vexDPBUSDBytes(tt.dst, tt.src1, tt.src2); !bytes.Equal(got, tt.want) {
			t.Errorf("vpdpbusd ymm%d, ymm%d, ymm%d = % x, want % x", tt.dst, tt.src1, tt.src2, got, tt.want)
		}
	}
}
