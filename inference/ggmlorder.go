package inference

// The reference engine (llama.cpp's CPU backend built for AVX2+FMA) rounds
// its float32 sums in a fixed order. Quantized matmuls first quantize their
// activation rows (Q8_0, Q8_K), and a value one ulp away from a rounding
// boundary flips a quantized integer; from then on the token's keys and
// values differ and so does every later logit. The helpers here therefore
// repeat ggml's order of float operations exactly, lane by lane:
//
//   - vecDot*: ggml_vec_dot_f32/_f16 (4 accumulators of 8 lanes over blocks
//     of 32, reduced (0+2)+(1+3), then lo+hi and two horizontal adds) and
//     ggml_vec_dot_bf16 (the same accumulators, reduced by hsum8);
//   - sgemmDot*: llamafile's tinyBLAS, used by mul_mat for 2+ activation rows
//     with a contiguous right operand: one 8-lane FMA accumulator, hsum8;
//   - expf8: ggml_v_expf, the SIMD exponential of ggml_vec_soft_max_f32.
//
// fma32 is a*b+c rounded once, as VFMADD does; Go code must never let the
// compiler fuse the other operations (an explicit float32() conversion
// prevents fusion, per the Go spec).

import (
	"encoding/binary"
	"math"
	"unsafe"

	"smallthinker/inference/kernels"
	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// fma32 is a*b+c rounded once to float32 (VFMADD), shared with quant's
// AVX2-order reference dots.
func fma32(a, b, c float32) float32 { return quant.FMA32(a, b, c) }

// hsum8 is the horizontal sum of one 8-lane register as ggml's AVX2 code and
// tinyBLAS do it: lo+hi, then movehl, then movehdup.
func hsum8(v *[8]float32) float32 { return quant.Hsum8(v) }

// reduceF32x8 is GGML_F32_VEC_REDUCE over four 8-lane accumulators (acc[8*j+l]
// is lane l of accumulator j): (0+2)+(1+3), lo+hi, then two _mm_hadd_ps.
func reduceF32x8(acc *[32]float32) float32 {
	var v [8]float32
	for l := range v {
		v[l] = float32(acc[l]+acc[16+l]) + float32(acc[8+l]+acc[24+l])
	}
	t0, t1, t2, t3 := float32(v[0]+v[4]), float32(v[1]+v[5]), float32(v[2]+v[6]), float32(v[3]+v[7])
	return float32(t0+t1) + float32(t2+t3)
}

// reduceBF16 is ggml_vec_dot_bf16's reduction: (c1+c3)+(c2+c4), then hsum8.
func reduceBF16(acc *[32]float32) float32 {
	var v [8]float32
	for l := range v {
		v[l] = float32(acc[l]+acc[16+l]) + float32(acc[8+l]+acc[24+l])
	}
	return hsum8(&v)
}

// vecDotF32 is ggml_vec_dot_f32 (AVX2 build): blocks of 32 in four FMA
// accumulators, then the leftovers added one by one in float32 (GCC
// contracts that scalar loop into FMAs).
func vecDotF32(x, y []float32) float32 {
	if s, ok := kernels.DotF32GGML(x, y); ok {
		return s
	}
	n := len(x)
	np := n &^ 31
	var s float32
	if np > 0 {
		s = vecDotF32Blocks(x[:np], y[:np])
	}
	for i := np; i < n; i++ {
		s = fma32(x[i], y[i], s)
	}
	return s
}

var bf16Fused = true

func vecDotF32Blocks(x, y []float32) float32 {
	var acc [32]float32
	for i := 0; i+32 <= len(x); i += 32 {
		for j := 0; j < 32; j++ {
			acc[j] = fma32(x[i+j], y[i+j], acc[j])
		}
	}
	return reduceF32x8(&acc)
}

// sgemmDotF32 is one output of tinyBLAS (len(x) % 8 == 0): a single 8-lane
// FMA accumulator, then hsum8.
func sgemmDotF32(x, y []float32) float32 {
	if s, ok := kernels.SgemmDotF32(x, y); ok {
		return s
	}
	var acc [8]float32
	for i := 0; i+8 <= len(x); i += 8 {
		for l := 0; l < 8; l++ {
			acc[l] = fma32(x[i+l], y[i+l], acc[l])
		}
	}
	return hsum8(&acc)
}

// halfDot computes ggml_vec_dot_f16 (bf16 false) or ggml_vec_dot_bf16 (bf16
// true) over n 16-bit values at w and x: blocks of 32 in four accumulators,
// the sum kept in float64 (ggml_float) with the leftovers' products.
func halfDot(w, x []byte, n int, bf16 bool) float32 {
	conv := quant.FP16ToFP32
	if bf16 {
		conv = quant.BF16ToFP32
	}
	at := func(b []byte, i int) float32 { return conv(binary.LittleEndian.Uint16(b[2*i:])) }
	np := n &^ 31
	var acc [32]float32
	for i := 0; i < np; i += 32 {
		for j := 0; j < 32; j++ {
			if bf16 && !bf16Fused {
				acc[j] = float32(at(w, i+j)*at(x, i+j)) + acc[j]
			} else {
				acc[j] = fma32(at(w, i+j), at(x, i+j), acc[j])
			}
		}
	}
	var sum float64
	if np > 0 {
		if bf16 {
			sum = float64(reduceBF16(&acc))
		} else {
			sum = float64(reduceF32x8(&acc))
		}
	}
	for i := np; i < n; i++ {
		sum += float64(float32(at(w, i) * at(x, i)))
	}
	return float32(sum)
}

// sgemmHalfDot is tinyBLAS over F16 or BF16 rows (n % 8 == 0).
func sgemmHalfDot(w, x []byte, n int, bf16 bool) float32 {
	conv := quant.FP16ToFP32
	if bf16 {
		conv = quant.BF16ToFP32
	}
	var acc [8]float32
	for i := 0; i+8 <= n; i += 8 {
		for l := 0; l < 8; l++ {
			acc[l] = fma32(conv(binary.LittleEndian.Uint16(w[2*(i+l):])), conv(binary.LittleEndian.Uint16(x[2*(i+l):])), acc[l])
		}
	}
	return hsum8(&acc)
}

// f32s views little-endian float32 bytes as a slice (amd64/arm64 are little-endian).
func f32s(b []byte, n int) []float32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
}

// gemvGGML is kernels.Gemv with ggml's float order for float weight types:
// sgemm selects tinyBLAS (mul_mat over 2+ rows), otherwise the vec_dot
// functions (one row, and every mul_mat_id). Quantized types go to kernels.Gemv,
// whose block sums already match ggml's.
func gemvGGML(t gguf.TensorType, w []byte, rowBytes int, x []byte, n int, out []float32, sgemm bool) {
	sgemm = sgemm && n%8 == 0
	switch t {
	case gguf.F32:
		xf := f32s(x, n)
		for r := range out {
			wf := f32s(w[r*rowBytes:], n)
			if sgemm {
				out[r] = sgemmDotF32(wf, xf)
			} else {
				out[r] = vecDotF32(wf, xf)
			}
		}
	case gguf.F16, gguf.BF16:
		bf := t == gguf.BF16
		for r := range out {
			wr := w[r*rowBytes:]
			if sgemm {
				out[r] = sgemmHalfDot(wr, x, n, bf)
			} else {
				out[r] = halfDot(wr, x, n, bf)
			}
		}
	default:
		kernels.Gemv(t, w, rowBytes, x, n, out)
	}
}

// expf8 is ggml_v_expf (AVX2+FMA) for one lane.
func expf8(x float32) float32 {
	const (
		r   = float32(0x1.8p23)
		l2e = float32(0x1.715476p+0)
		ln1 = float32(0x1.62e4p-1)
		ln2 = float32(0x1.7f7d1cp-20)
	)
	z := fma32(x, l2e, r)
	n := float32(z - r)
	b := fma32(-n, ln2, fma32(-n, ln1, x))
	e := math.Float32bits(z) << 23
	k := math.Float32frombits(e + math.Float32bits(1))
	u := float32(b * b)
	j := fma32(fma32(fma32(0x1.0e4020p-7, b, 0x1.573e2ep-5), u, fma32(0x1.555e66p-3, b, 0x1.fffdb6p-2)), u, float32(0x1.ffffecp-1*b))
	an := float32(math.Abs(float64(n)))
	if !(an > 126) {
		return fma32(k, j, k)
	}
	var g uint32
	if n <= 0 {
		g = 0x82000000
	}
	s1 := math.Float32frombits(g + 0x7f000000)
	s2 := math.Float32frombits(e - g)
	if an > 192 {
		return float32(s1 * s1)
	}
	return float32(fma32(s2, j, s2) * s1)
}

// softmaxGGML is ggml_compute_forward_soft_max_f32 for one row whose entries
// sit at absolute KV positions first.. (first+len(x)-1): every other cell of
// the reference's padded row is masked to exp = 0. Exponentials are taken
// 8 cells at a time (cells aligned to multiples of 8, as the padded row is),
// each group summed by hsum8 and added in float64; then x is scaled by 1/sum.
func softmaxGGML(x []float32, first int) {
	if len(x) == 0 {
		return
	}
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	softmaxExp(x, first, m)
}

func softmaxExp(x []float32, first int, m float32) {
	sum := 0.0
	last := first + len(x)
	g := first &^ 7
	// A partial group at either end goes through an 8-cell buffer whose
	// masked cells are -Inf (exp = 0), like the reference's masked cells.
	partial := func(g int) {
		var v [8]float32
		for l := range v {
			if p := g + l; p >= first && p < last {
				v[l] = x[p-first]
			} else {
				v[l] = float32(math.Inf(-1))
			}
		}
		sum = expGroups(v[:], m, sum)
		for l := range v {
			if p := g + l; p >= first && p < last {
				x[p-first] = v[l]
			}
		}
	}
	if g < first || g+8 > last {
		partial(g)
		g += 8
	}
	if full := (last - g) &^ 7; full > 0 {
		sum = expGroups(x[g-first:g-first+full], m, sum)
		g += full
	}
	if g < last {
		partial(g)
	}
	kernels.Scale(float32(1/sum), x)
}

// expGroups replaces x (a multiple of 8 long) by ggml_v_expf(x-m), adding
// each 8-group's hsum8 to sum in float64.
func expGroups(x []float32, m float32, sum float64) float64 {
	if s, ok := kernels.SoftmaxGroups(x, m, sum); ok {
		return s
	}
	return expGroupsGo(x, m, sum)
}

func expGroupsGo(x []float32, m float32, sum float64) float64 {
	for g := 0; g+8 <= len(x); g += 8 {
		var v [8]float32
		for l := range v {
			v[l] = expf8(float32(x[g+l] - m))
			x[g+l] = v[l]
		}
		sum += float64(hsum8(&v))
	}
	return sum
}

// softmaxRow is softmax over a whole row (no mask, cells from 0): the gating
// softmax. Rows that are not a multiple of 8 finish with expf like ggml.
func softmaxRow(x []float32) {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	n8 := len(x) &^ 7
	sum := expGroups(x[:n8], m, 0)
	for i := n8; i < len(x); i++ {
		e := float32(math.Exp(float64(float32(x[i] - m))))
		x[i] = e
		sum += float64(e)
	}
	kernels.Scale(float32(1/sum), x)
}

// sigmoidGGML is ggml's op_sigmoid: 1.f / (1.f + expf(-x)), each step in float32.
func sigmoidGGML(x float32) float32 {
	e := float32(math.Exp(float64(-x)))
	return 1 / float32(1+e)
}

// gemmGGML is kernels.GemmAux (rows [lo,hi) for every activation; auxs may
// be nil) with ggml's float order for float weight types; see gemvGGML for
// sgemm.
func gemmGGML(t gguf.TensorType, w []byte, rowBytes int, xs, auxs [][]byte, n int, out [][]float32, lo, hi int, sgemm bool) {
	switch t {
	case gguf.F32, gguf.F16, gguf.BF16:
		for i, x := range xs {
			gemvGGML(t, w[lo*rowBytes:], rowBytes, x, n, out[i][lo:hi], sgemm)
		}
	default:
		kernels.GemmAux(t, w, rowBytes, xs, auxs, n, out, lo, hi)
	}
}

// topKGGML is ggml_top_k: ggml's argsort (descending, its exchange sort) cut
// to len(sel); sel comes out in that order, the reference's expert slot order.
func topKGGML(probs []float32, sel []int, idx []int) {
	for i := range idx {
		idx[i] = i
	}
	for j := range idx {
		for k := j + 1; k < len(idx); k++ {
			if probs[idx[j]] < probs[idx[k]] {
				idx[j], idx[k] = idx[k], idx[j]
			}
		}
	}
	copy(sel, idx[:len(sel)])
}

// sumRowsGGML is ggml_vec_sum_f32: a float64 sum rounded to float32.
func sumRowsGGML(x []float32) float32 {
	s := 0.0
	for _, v := range x {
		s += float64(v)
	}
	return float32(s)
}

// addExpert stores token tok's weighted expert output w·y for routing slot
// slot; sumSlots adds them in slot order, as the reference's chain of
// ggml_add over ggml_mul(experts, weights) does.
func (s *state) addExpert(tok, slot int, w float32, y []float32) {
	k := s.m.Config.ExpertsUsed
	if s.slotOut == nil {
		s.slotOut = make([][]float32, s.B*k)
	}
	dst := s.slotOut[tok*k+slot]
	if dst == nil {
		dst = make([]float32, len(y))
		s.slotOut[tok*k+slot] = dst
	}
	copy(dst, y)
	kernels.Scale(w, dst) // each v·w rounded once, as the loop would
}

// sumSlots sets s.moe[t] to Σ_slot (w·y) in slot order for the first T tokens.
func (s *state) sumSlots(T int) {
	k := s.m.Config.ExpertsUsed
	for t := 0; t < T; t++ {
		moe := s.moe[t]
		copy(moe, s.slotOut[t*k])
		for j := 1; j < k; j++ {
			kernels.Axpy(1, s.slotOut[t*k+j], moe) // 1·v is exact: moe[i]+v rounded once
		}
	}
}
