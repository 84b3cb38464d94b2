package quant

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestFP16Conversions(t *testing.T) {
	tests := []struct {
		f    float32
		bits uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},                 // largest finite half
		{65520, 0x7c00},                 // rounds up to +inf
		{float32(math.Inf(-1)), 0xfc00}, //
		{5.960464477539063e-08, 0x0001}, // smallest subnormal
		{2.9e-08, 0x0000},               // below half of it: flushes to zero
		{1.0009765625, 0x3c01},          // 1 + 2^-10 exactly
		{1.00048828125, 0x3c00},         // tie between 0x3c00 and 0x3c01: to even
		{1.00146484375, 0x3c02},         // tie between 0x3c01 and 0x3c02: to even
	}
	for _, tc := range tests {
		if got := FP32ToFP16(tc.f); got != tc.bits {
			t.Errorf("FP32ToFP16(%v) = %#04x, want %#04x", tc.f, got, tc.bits)
		}
		if back := FP16ToFP32(tc.bits); tc.bits&0x7c00 != 0x7c00 && math.Abs(float64(back-tc.f)) > math.Abs(float64(tc.f))*1e-3+6e-8 {
			t.Errorf("FP16ToFP32(%#04x) = %v, want about %v", tc.bits, back, tc.f)
		}
	}
	if h := FP32ToFP16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN became %#04x, want a half NaN", h)
	}
	for h := 0; h < 1<<16; h++ { // every finite half survives a round trip
		if uint16(h)&0x7c00 == 0x7c00 {
			continue
		}
		if back := FP32ToFP16(FP16ToFP32(uint16(h))); back != uint16(h) {
			t.Fatalf("half %#04x → %v → %#04x", h, FP16ToFP32(uint16(h)), back)
		}
	}
}

func TestBF16Conversions(t *testing.T) {
	tests := []struct {
		bits32 uint32
		want   uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f80ffff, 0x3f81}, // above the tie
		{0x7f7fffff, 0x7f80}, // max float rounds to +inf
		{0x7f800000, 0x7f80}, // +inf
		{0x7f800001, 0x7fc0}, // signalling NaN is quieted: (u>>16)|64
		{0xffc00001, 0xffc0}, // negative quiet NaN keeps its sign
	}
	for _, tc := range tests {
		if got := FP32ToBF16(math.Float32frombits(tc.bits32)); got != tc.want {
			t.Errorf("FP32ToBF16(%#08x) = %#04x, want %#04x", tc.bits32, got, tc.want)
		}
	}
	if got := BF16ToFP32(0xc0a0); got != -5 {
		t.Errorf("BF16ToFP32(0xc0a0) = %v, want -5", got)
	}
}

func block(vals ...float32) []float32 {
	x := make([]float32, QK)
	copy(x, vals)
	return x
}

func TestQ4_0Block(t *testing.T) {
	// Zeros: d = 0/-8 = -0 (fp16 0x8000, as the C reference computes it) and every code is 8 (value 0).
	b := make([]byte, Q4_0Bytes)
	QuantizeRowQ4_0(block(), b)
	if binary.LittleEndian.Uint16(b) != 0x8000 {
		t.Fatalf("zero block: d bits %#04x", binary.LittleEndian.Uint16(b))
	}
	for j := 2; j < Q4_0Bytes; j++ {
		if b[j] != 0x88 {
			t.Fatalf("zero block: qs[%d] = %#02x, want 0x88", j-2, b[j])
		}
	}
	// The signed maximum sets d = max/-8: here max = 8 at element 0, d = -1,
	// so 8 → code 0 and -7 → code 15 (clamped from 15.5), element 16 (high nibble of byte 0) = 3 → code 5.
	x := block(8, -7, 0, 1)
	x[16] = 3
	QuantizeRowQ4_0(x, b)
	if d := FP16ToFP32(binary.LittleEndian.Uint16(b)); d != -1 {
		t.Fatalf("d = %v, want -1", d)
	}
	if b[2]&0x0f != 0 || b[3]&0x0f != 15 || b[2]>>4 != 5 {
		t.Fatalf("codes %#02x %#02x", b[2], b[3])
	}
	y := make([]float32, QK)
	DequantizeRowQ4_0(b, y)
	for j, want := range map[int]float32{0: 8, 1: -7, 2: 0, 3: 1, 16: 3} {
		if y[j] != want {
			t.Errorf("y[%d] = %v, want %v", j, y[j], want)
		}
	}
	// Ties on |x|: the first maximum keeps its sign (strict '<' in the reference).
	QuantizeRowQ4_0(block(-4, 4), b)
	if d := FP16ToFP32(binary.LittleEndian.Uint16(b)); d != 0.5 {
		t.Fatalf("d = %v, want 0.5 (from -4/-8)", d)
	}
}

func TestQ8_0Block(t *testing.T) {
	b := make([]byte, Q8_0Bytes)
	QuantizeRowQ8_0(block(), b)
	for j, v := range b {
		if v != 0 {
			t.Fatalf("zero block byte %d = %d", j, v)
		}
	}
	// amax 127 → d = 1; roundf rounds halves away from zero: 2.5 → 3, -2.5 → -3.
	x := block(127, -127, 2.5, -2.5, 0.49)
	QuantizeRowQ8_0(x, b)
	if d := FP16ToFP32(binary.LittleEndian.Uint16(b)); d != 1 {
		t.Fatalf("d = %v, want 1", d)
	}
	want := []int8{127, -127, 3, -3, 0}
	for j, w := range want {
		if int8(b[2+j]) != w {
			t.Errorf("q[%d] = %d, want %d", j, int8(b[2+j]), w)
		}
	}
	y := make([]float32, QK)
	DequantizeRowQ8_0(b, y)
	if y[0] != 127 || y[1] != -127 || y[2] != 3 {
		t.Errorf("dequantized %v", y[:4])
	}
	// The activation quantizer is the reference one (the golden outputs need it).
	a := make([]byte, Q8_0Bytes)
	QuantizeActQ8_0(x, a)
	for j := range a {
		if a[j] != b[j] {
			t.Fatalf("QuantizeActQ8_0 differs from QuantizeRowQ8_0 at byte %d", j)
		}
	}
}

func TestReferenceDots(t *testing.T) {
	x := make([]float32, 64)
	w := make([]float32, 64)
	for i := range x {
		x[i] = float32(i%7) - 3
		w[i] = float32(i%5) - 2
	}
	xq := make([]byte, 2*Q8_0Bytes)
	QuantizeRowQ8_0(x, xq)
	w4 := make([]byte, 2*Q4_0Bytes)
	QuantizeRowQ4_0(w, w4)
	w8 := make([]byte, 2*Q8_0Bytes)
	QuantizeRowQ8_0(w, w8)
	wd, xd := make([]float32, 64), make([]float32, 64)
	DequantizeRowQ4_0(w4, wd)
	DequantizeRowQ8_0(xq, xd)
	want := 0.0
	for i := range wd {
		want += float64(wd[i]) * float64(xd[i])
	}
	if got := DotQ4_0Q8_0(w4, xq, 64); math.Abs(float64(got)-want) > 1e-4*math.Abs(want)+1e-4 {
		t.Errorf("DotQ4_0Q8_0 = %v, want %v", got, want)
	}
	DequantizeRowQ8_0(w8, wd)
	want = 0
	for i := range wd {
		want += float64(wd[i]) * float64(xd[i])
	}
	if got := DotQ8_0Q8_0(w8, xq, 64); math.Abs(float64(got)-want) > 1e-4*math.Abs(want)+1e-4 {
		t.Errorf("DotQ8_0Q8_0 = %v, want %v", got, want)
	}
}
