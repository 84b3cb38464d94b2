package inference

import "math"

// sinf and cosf as glibc (2.28+, x86-64 FMA variant) computes them: ggml's
// RoPE takes its angles' cosines and sines from the C library, and glibc's
// float versions differ from the correctly rounded result for about 2% of
// the angles RoPE uses; an ulp there flips the reference's Q8 quantization
// of a later activation now and then. The algorithm (Arm's optimized
// routines): reduce to [-π/4, π/4] in float64, a short polynomial in float64
// with fused multiply-adds, round to float32.

// sincosfCoef is one set of polynomial coefficients; the second set computes
// -cos (and the matching sin) for odd half-turn quadrants.
type sincosfCoef struct{ c0, c1, c2, c3, c4, s1, s2, s3 float64 }

var sincosfTable = [2]sincosfCoef{
	{0x1p0, -0x1.ffffffd0c621cp-2, 0x1.55553e1068f19p-5, -0x1.6c087e89a359dp-10, 0x1.99343027bf8c3p-16,
		-0x1.555545995a603p-3, 0x1.1107605230bc4p-7, -0x1.994eb3774cf24p-13},
	{-0x1p0, 0x1.ffffffd0c621cp-2, -0x1.55553e1068f19p-5, 0x1.6c087e89a359dp-10, -0x1.99343027bf8c3p-16,
		-0x1.555545995a603p-3, 0x1.1107605230bc4p-7, -0x1.994eb3774cf24p-13},
}

var quadrantSign = [4]float64{1, -1, -1, 1}

// invPio4 holds 4/π to 192 bits, 8 new bits per entry.
var invPio4 = [24]uint32{
	0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e,
	0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
	0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1,
	0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
	0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599,
	0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
}

const (
	hpiInv24 = 0x1.45F306DC9C883p+23 // 2/π scaled by 2^24
	hpi      = 0x1.921FB54442D18p0   // π/2
	pi63     = 0x1.921FB54442D18p-62 // π/2 · 2^-62
)

// abstop12 is the exponent field and top mantissa bits the thresholds test.
func abstop12(x float32) uint32 { return (math.Float32bits(x) >> 20) & 0x7ff }

// sinfPoly evaluates sin (cos when n is odd) of the reduced x with x2 = x·x.
func sinfPoly(x, x2 float64, p *sincosfCoef, n int) float32 {
	if n&1 == 0 {
		x3 := x * x2
		s1 := math.FMA(x2, p.s3, p.s2)
		x7 := x3 * x2
		s := math.FMA(x3, p.s1, x)
		return float32(math.FMA(x7, s1, s))
	}
	x4 := x2 * x2
	c2 := math.FMA(x2, p.c4, p.c3)
	c1 := math.FMA(x2, p.c1, p.c0)
	x6 := x4 * x2
	c := math.FMA(x4, p.c2, c1)
	return float32(math.FMA(x6, c2, c))
}

// reduceFast reduces |x| < 120 by a multiple n of π/2.
func reduceFast(x float64) (float64, int) {
	r := x * hpiInv24
	n := int((int32(r) + 0x800000) >> 24)
	return math.FMA(-float64(n), hpi, x), n
}

// reduceLarge reduces larger |x| with the 4/π table in fixed point.
func reduceLarge(xi uint32) (float64, int) {
	arr := invPio4[(xi>>26)&15:]
	shift := (xi >> 23) & 7
	xi = (xi & 0xffffff) | 0x800000
	xi <<= shift
	res0 := uint64(xi * arr[0])
	res1 := uint64(xi) * uint64(arr[4])
	res2 := uint64(xi) * uint64(arr[8])
	res0 = (res2 >> 32) | (res0 << 32)
	res0 += res1
	n := (res0 + (1 << 61)) >> 62
	res0 -= n << 62
	return float64(int64(res0)) * pi63, int(n)
}

// sincosfGlibc returns sinf(y) and cosf(y) as glibc computes them (finite y).
func sincosfGlibc(y float32) (sin, cos float32) {
	x := float64(y)
	p := &sincosfTable[0]
	switch t := abstop12(y); {
	case t < abstop12(0x1.921FB6p-1):
		x2 := x * x
		if t < abstop12(0x1p-12) {
			return y, 1
		}
		return sinfPoly(x, x2, p, 0), sinfPoly(x, x2, p, 1)
	case t < abstop12(120):
		r, n := reduceFast(x)
		s := quadrantSign[n&3]
		if n&2 != 0 {
			p = &sincosfTable[1]
		}
		return sinfPoly(r*s, r*r, p, n), sinfPoly(r*s, r*r, p, n^1)
	case t < abstop12(float32(math.Inf(1))):
		xi := math.Float32bits(y)
		sign := int(xi >> 31)
		r, n := reduceLarge(xi)
		s := quadrantSign[(n+sign)&3]
		if (n+sign)&2 != 0 {
			p = &sincosfTable[1]
		}
		return sinfPoly(r*s, r*r, p, n), sinfPoly(r*s, r*r, p, n^1)
	}
	nan := float32(math.NaN())
	return nan, nan
}
