//go:build !purego

package kernels

import (
	"github.com/klauspost/cpuid/v2"

	"smallthinker/weights/quant"
)

// level is an instruction set the kernels are compiled for.
type level int

const (
	levelGeneric    level = iota
	levelAVX2             // AVX2 + FMA + F16C
	levelAVXVNNI          // AVX2 level, quantized dots with VEX VPDPBUSD
	levelAVX512VNNI       // AVX2 level, quantized dots with EVEX VPDPBUSD (256-bit registers; 512-bit for Q4_0x4)
)

func (l level) String() string {
	return [...]string{"purego", "avx2", "avxvnni", "avx512vnni"}[l]
}

// levels lists the implementations this CPU can run, slowest first.
func levels() []level {
	c := &cpuid.CPU
	ls := []level{levelGeneric}
	if !c.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3, cpuid.F16C) {
		return ls
	}
	ls = append(ls, levelAVX2)
	if c.Supports(cpuid.AVXVNNI) {
		ls = append(ls, levelAVXVNNI)
	}
	if c.Supports(cpuid.AVX512F, cpuid.AVX512VL, cpuid.AVX512BW, cpuid.AVX512VNNI) {
		ls = append(ls, levelAVX512VNNI)
	}
	return ls
}

// active is chosen once; tests switch it to exercise every level.
var active = pick(levels())

func gemvQ4_0Q8_0(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	switch active {
	case levelAVX512VNNI:
		gemvQ4_0Q8_0AVX512VNNI(w, rowBytes, x, nb, out)
	case levelAVXVNNI:
		gemvQ4_0Q8_0AVXVNNI(w, rowBytes, x, nb, out)
	case levelAVX2:
		gemvQ4_0Q8_0AVX2(w, rowBytes, x, nb, out)
	default:
		gemvQ4_0Q8_0Generic(w, rowBytes, x, nb, out)
	}
}

func gemvQ8_0Q8_0(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	switch active {
	case levelAVX512VNNI:
		gemvQ8_0Q8_0AVX512VNNI(w, rowBytes, x, nb, out)
	case levelAVXVNNI:
		gemvQ8_0Q8_0AVXVNNI(w, rowBytes, x, nb, out)
	case levelAVX2:
		gemvQ8_0Q8_0AVX2(w, rowBytes, x, nb, out)
	default:
		gemvQ8_0Q8_0Generic(w, rowBytes, x, nb, out)
	}
}

// gemvRowsQ4_0Q8_0 sets out[r] for each listed row r; callers check the bounds.
func gemvRowsQ4_0Q8_0(w []byte, rowBytes int, x []byte, nb int, rows []int32, out []float32) {
	switch active {
	case levelAVX512VNNI:
		gemvQ4_0Q8_0RowsAVX512VNNI(w, rowBytes, x, nb, rows, out)
	case levelAVXVNNI:
		gemvQ4_0Q8_0RowsAVXVNNI(w, rowBytes, x, nb, rows, out)
	case levelAVX2:
		gemvQ4_0Q8_0RowsAVX2(w, rowBytes, x, nb, rows, out)
	default:
		gemvRowsEach(true, w, rowBytes, x, nb, rows, out)
	}
}

func gemvRowsQ8_0Q8_0(w []byte, rowBytes int, x []byte, nb int, rows []int32, out []float32) {
	switch active {
	case levelAVX512VNNI:
		gemvQ8_0Q8_0RowsAVX512VNNI(w, rowBytes, x, nb, rows, out)
	case levelAVXVNNI:
		gemvQ8_0Q8_0RowsAVXVNNI(w, rowBytes, x, nb, rows, out)
	case levelAVX2:
		gemvQ8_0Q8_0RowsAVX2(w, rowBytes, x, nb, rows, out)
	default:
		gemvRowsEach(false, w, rowBytes, x, nb, rows, out)
	}
}

// The float kernels below run 8 lanes in asm, at most maxCallElems per
// call, and finish the n%8 tail in Go.

func dotF16(w, x []byte, n int) float32 {
	if active == levelGeneric {
		return dotF16Generic(w, x, n)
	}
	s := float32(0)
	for i := 0; i+8 <= n; i += maxCallElems {
		m := min(n-i, maxCallElems) &^ 7
		s += dotF16AVX2(&w[2*i], &x[2*i], m)
	}
	t := n &^ 7
	return s + dotF16Generic(w[2*t:], x[2*t:], n-t)
}

func dotBF16(w, x []byte, n int) float32 {
	if active == levelGeneric {
		return dotBF16Generic(w, x, n)
	}
	s := float32(0)
	for i := 0; i+8 <= n; i += maxCallElems {
		m := min(n-i, maxCallElems) &^ 7
		s += dotBF16AVX2(&w[2*i], &x[2*i], m)
	}
	t := n &^ 7
	return s + dotBF16Generic(w[2*t:], x[2*t:], n-t)
}

func dotF32Bytes(w, x []byte, n int) float32 {
	if active == levelGeneric {
		return dotF32BytesGeneric(w, x, n)
	}
	s := float32(0)
	for i := 0; i+8 <= n; i += maxCallElems {
		m := min(n-i, maxCallElems) &^ 7
		s += dotF32AVX2(f32ptr(w[4*i:]), f32ptr(x[4*i:]), m)
	}
	t := n &^ 7
	return s + dotF32BytesGeneric(w[4*t:], x[4*t:], n-t)
}

// The []float32 helpers get at most maxCallElems from their callers.

func dotF32(a, b []float32) float32 {
	n := len(a) &^ 7
	if active == levelGeneric || n == 0 {
		return dotF32Generic(a, b)
	}
	return dotF32AVX2(&a[0], &b[0], n) + dotF32Generic(a[n:], b[n:])
}

func axpy(a float32, x, y []float32) {
	n := len(x) &^ 7
	if active == levelGeneric || n == 0 {
		axpyGeneric(a, x, y)
		return
	}
	axpyAVX2(a, &x[0], &y[0], n)
	axpyGeneric(a, x[n:], y[n:])
}

func scale(a float32, x []float32) {
	n := len(x) &^ 7
	if active == levelGeneric || n == 0 {
		scaleGeneric(a, x)
		return
	}
	scaleAVX2(a, &x[0], n)
	scaleGeneric(a, x[n:])
}

func toF16(dst []uint16, x []float32) {
	n := len(x) &^ 7
	if active == levelGeneric || n == 0 {
		toF16Generic(dst, x)
		return
	}
	toF16AVX2(&dst[0], &x[0], n)
	toF16Generic(dst[n:], x[n:])
}

func scaleMul(dst, x, w []float32, a float32) {
	n := len(x) &^ 7
	if active == levelGeneric || n == 0 {
		scaleMulGeneric(dst, x, w, a)
		return
	}
	scaleMulAVX2(&dst[0], &x[0], &w[0], a, n)
	scaleMulGeneric(dst[n:], x[n:], w[n:], a)
}

func quantizeQ8_0(x []float32, dst []byte) {
	if active == levelGeneric || len(x) == 0 {
		quant.QuantizeActQ8_0(x, dst)
		return
	}
	quantizeQ8_0AVX2(&x[0], &dst[0], len(x)/qk)
}

func q8_0Aux(x, aux []byte, nb int) {
	if active == levelGeneric {
		q8_0AuxGeneric(x, aux, nb)
		return
	}
	q8_0AuxAVX2(&x[0], &aux[0], nb)
}

// gemm4 sets out[j][r] = dot(row r, xs[j]) for j < 4, r0 ≤ r < r1, for Q4_0
// (q4) or Q8_0 weights; callers check the bounds.
func gemm4(q4 bool, w []byte, rowBytes int, xs [][]byte, nb int, out [][]float32, r0, r1 int, pre *gemmScratch) {
	if active == levelGeneric {
		gemm4Generic(q4, w, rowBytes, xs, nb, out, r0, r1)
		return
	}
	wp := &w[r0*rowBytes]
	x0, x1, x2, x3 := &xs[0][0], &xs[1][0], &xs[2][0], &xs[3][0]
	o0, o1, o2, o3 := &out[0][r0], &out[1][r0], &out[2][r0], &out[3][r0]
	rows := r1 - r0
	switch {
	case q4 && active == levelAVX512VNNI:
		gemm4Q4_0Q8_0AVX512VNNI(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, rows)
	case q4 && active == levelAVXVNNI:
		gemm4Q4_0Q8_0AVXVNNI(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, rows)
	case q4 && pre != nil && nb <= gemm4PreBlocks:
		gemm4Q4_0Q8_0PreAVX2(wp, rowBytes, x0, x1, x2, x3, &pre[0], nb, o0, o1, o2, o3, rows)
	case q4:
		gemm4Q4_0Q8_0AVX2(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, rows)
	case active == levelAVX512VNNI:
		gemm4Q8_0Q8_0AVX512VNNI(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, rows)
	case active == levelAVXVNNI:
		gemm4Q8_0Q8_0AVXVNNI(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, rows)
	default:
		gemm4Q8_0Q8_0AVX2(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, rows)
	}
}

// gemm4PreBlocks is the longest row, in blocks, whose per-activation scales
// and 8·Σx fit gemm4Q4_0Q8_0PreAVX2's scratch; longer rows use the plain kernel.
const gemm4PreBlocks = 128

// gemmScratch is gemm4Q4_0Q8_0PreAVX2's scratch: 144 bytes per block.
type gemmScratch [gemm4PreBlocks * 144]byte

func packedKernel() bool { return active != levelGeneric }

// pairedKernel: the AVX-512 pair kernel shares a block's activation
// broadcasts between two groups (+10-15 % from L2 and DRAM on one thread).
// AVX2's pair kernel is no faster than its one-group kernel (its sixteen
// registers push the constants to memory), and with it 2-thread decode of
// the 4B ran 12 % slower (45 against 51 tok/s), so AVX2 keeps groups apart.
func pairedKernel() bool { return active == levelAVX512VNNI }

// gemvQ4_0x4 runs the Q4_0x4 kernel on the run r of w (len(out) = 4·r.n);
// callers check the bounds.
func gemvQ4_0x4(w []byte, r q4x4Run, x, aux []byte, nb int, out []float32) {
	switch {
	case active == levelGeneric:
		gemvQ4_0x4Generic(w, r, x, nb, out)
	case r.stride == 2*quant.Q4_0x4Group:
		gemvQ4_0x4Paired(w, r, x, aux, nb, out)
	default:
		gemvQ4_0x4Groups(&w[r.off], r.stride, x, aux, nb, out, r.n, r.skip)
	}
}

// gemvQ4_0x4Groups runs the level's one-group kernel on n groups.
func gemvQ4_0x4Groups(w *byte, stride int, x, aux []byte, nb int, out []float32, n int, skip [2]int) {
	if active == levelAVX512VNNI {
		gemvQ4_0x4AVX512(w, stride, &x[0], &aux[0], nb, &out[0], n, skip[0], skip[1])
	} else {
		gemvQ4_0x4AVX2(w, stride, &x[0], &aux[0], nb, &out[0], n, skip[0], skip[1])
	}
}

// gemvQ4_0x4Paired takes a run of paired groups through the level's pair
// kernel, and a leading second half or a trailing first half of a pair
// through its one-group kernel. (AVX2 packs unpaired, see pairedKernel; its
// pair kernel serves paired matrices met at that level, as in tests: the
// one-group kernel would read each pair's blocks twice, 144 bytes apart.)
func gemvQ4_0x4Paired(w []byte, r q4x4Run, x, aux []byte, nb int, out []float32) {
	g, end := r.g0, r.g0+r.n
	pairBytes := 2 * nb * quant.Q4_0x4Group
	if g%2 == 1 {
		gemvQ4_0x4Groups(&w[r.off], r.stride, x, aux, nb, out, 1, [2]int{})
		g++
	}
	if pairs := (end - g) / 2; pairs > 0 {
		wp, o := &w[g/2*pairBytes], &out[4*(g-r.g0)]
		if active == levelAVX512VNNI {
			gemvQ4_0x4PairsAVX512(wp, &x[0], &aux[0], nb, o, pairs)
		} else {
			gemvQ4_0x4PairsAVX2(wp, &x[0], &aux[0], nb, o, pairs)
		}
		g += 2 * pairs
	}
	if g < end {
		gemvQ4_0x4Groups(&w[g/2*pairBytes], r.stride, x, aux, nb, out[4*(g-r.g0):], 1, [2]int{})
	}
}

// gemm4Q4_0x4 sets out[j][4·r.g0 : 4·(r.g0+r.n)] for j < 4 from the run r of
// w; callers check the bounds.
func gemm4Q4_0x4(w []byte, r q4x4Run, xs, auxs [][]byte, nb int, out [][]float32) {
	o := 4 * r.g0
	switch active {
	case levelAVX512VNNI:
		gemm4Q4_0x4AVX512(&w[r.off], r.stride, r.skip[0], r.skip[1], &xs[0][0], &xs[1][0], &xs[2][0], &xs[3][0], &auxs[0][0], &auxs[1][0], &auxs[2][0], &auxs[3][0],
			nb, &out[0][o], &out[1][o], &out[2][o], &out[3][o], r.n)
	case levelAVX2, levelAVXVNNI:
		gemm4Q4_0x4AVX2(&w[r.off], r.stride, r.skip[0], r.skip[1], &xs[0][0], &xs[1][0], &xs[2][0], &xs[3][0], &auxs[0][0], &auxs[1][0], &auxs[2][0], &auxs[3][0],
			nb, &out[0][o], &out[1][o], &out[2][o], &out[3][o], r.n)
	default:
		gemm4Q4_0x4Each(w, r, xs, auxs, nb, out)
	}
}
