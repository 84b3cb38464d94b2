// Package quant holds the ggml tensor block formats: encode and decode of
// F32, F16, BF16, Q8_0, Q4_0 (and more), exactly as llama.cpp's reference
// (ggml-quants.c) does them, rounding included, plus plain-Go reference dot
// products that the SIMD kernels are tested against.
package quant

import "math"

// FP16ToFP32 converts IEEE binary16 bits to float32 (exact).
func FP16ToFP32(h uint16) float32 { return fp16Table[h] }

var fp16Table = func() (t [65536]float32) {
	for i := range t {
		t[i] = fp16ToFP32Slow(uint16(i))
	}
	return
}()

func fp16ToFP32Slow(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf / nan
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: value = mant * 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// FP32ToFP16 converts float32 to binary16 with round-to-nearest-even
// (what F16C's VCVTPS2PH and ggml's fallback do).
func FP32ToFP16(f float32) uint16 {
	x := math.Float32bits(f)
	sign := uint16(x>>16) & 0x8000
	exp := int32(x>>23) & 0xff
	mant := x & 0x7fffff
	if exp == 0xff { // inf or nan
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is correct (rounds up to inf at the top)
	}
	return sign | uint16(r)
}

// BF16ToFP32 widens bfloat16 bits.
func BF16ToFP32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// FP32ToBF16 is ggml's GGML_FP32_TO_BF16: NaNs are quieted, others round to nearest even.
func FP32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + ((u >> 16) & 1))) >> 16)
}

// RoundF16 returns f rounded through binary16 (how ggml feeds F16 matmuls).
func RoundF16(f float32) float32 { return FP16ToFP32(FP32ToFP16(f)) }

// RoundBF16 returns f rounded through bfloat16.
func RoundBF16(f float32) float32 { return BF16ToFP32(FP32ToBF16(f)) }
