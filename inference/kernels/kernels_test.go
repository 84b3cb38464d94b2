package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// forEachLevel runs f once per implementation this CPU can execute.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	saved := active
	defer func() { active = saved }()
	for _, l := range levels() {
		active = l
		t.Run(l.String(), f)
	}
}

// u is float32's unit roundoff.
const u = 1.0 / (1 << 24)

// sumTolerance bounds |a-b| for two float32 sums of the same k terms taken
// in different orders (and with or without FMA): each order is within
// (k+1)·u·Σ|term| of the exact sum (the classic recursive-summation bound),
// so two of them differ by at most twice that. absSum is Σ|term|.
func sumTolerance(k int, absSum float64) float64 { return 2*float64(k+1)*u*absSum + 1e-30 }

// quantTolerance bounds |asm - reference| for a quantized dot of nb blocks.
// The integer block sums are exact in both; what differs is float rounding:
// the reference adds nb terms d·s in block order, the asm adds 8 lane terms
// d·s_lane per block (lanes of one block can cancel, so their magnitudes are
// bounded by Σ|w·x| rather than |s|) into 2×8 lanes plus a final tree of 16.
// Each side is within (k+1)·u·Σ|w·x|·|d| of the exact value (k its number of
// terms: nb and 8·nb), hence the sum of both bounds.
func quantTolerance(nb int, absProducts float64) float64 {
	return float64(9*nb+2)*u*absProducts + 1e-30
}

func abs(v int) int { return max(v, -v) }

// randQ4_0 returns rows of random Q4_0 blocks with scales like real weights.
func randQ4_0(r *rand.Rand, rows, n int) []byte {
	b := make([]byte, rows*n/qk*q4_0Bytes)
	for i := 0; i < len(b); i += q4_0Bytes {
		binary.LittleEndian.PutUint16(b[i:], quant.FP32ToFP16(float32(r.NormFloat64()*0.01)))
		for j := 2; j < q4_0Bytes; j++ {
			b[i+j] = byte(r.UintN(256))
		}
	}
	return b
}

// randQ8_0 quantizes random floats of varying magnitude the way the engine does.
func randQ8_0(r *rand.Rand, rows, n int) []byte {
	x := randFloats(r, rows*n)
	b := make([]byte, rows*n/qk*q8_0Bytes)
	quant.QuantizeActQ8_0(x, b)
	return b
}

func randFloats(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Exp2(float64(r.IntN(8)-4)))
	}
	return x
}

// absQuantTerms is Σ_blocks |d_w·d_x|·Σ|w·x| of a quantized dot, in float64.
func absQuantTerms(w, x []byte, n int, q4 bool) float64 {
	wb := q8_0Bytes
	if q4 {
		wb = q4_0Bytes
	}
	s := 0.0
	for b := 0; b < n/qk; b++ {
		wq, xq := w[b*wb:], x[b*q8_0Bytes:]
		d := float64(quant.FP16ToFP32(binary.LittleEndian.Uint16(wq)) * quant.FP16ToFP32(binary.LittleEndian.Uint16(xq)))
		sum := 0
		for j := 0; j < qk; j++ {
			var wv int
			switch {
			case !q4:
				wv = int(int8(wq[2+j]))
			case j < 16:
				wv = int(wq[2+j]&0xf) - 8
			default:
				wv = int(wq[2+j-16]>>4) - 8
			}
			sum += abs(wv * int(int8(xq[2+j])))
		}
		s += math.Abs(d) * float64(sum)
	}
	return s
}

func TestGemvQuantized(t *testing.T) {
	type kind struct {
		name   string
		q4     bool
		blockW int
		gemv   func(w []byte, rowBytes int, x []byte, n int, out []float32)
		dot    func(w, x []byte, n int) float32
		ref    func(w, x []byte, n int) float32
		weight func(r *rand.Rand, rows, n int) []byte
	}
	kinds := []kind{
		{"Q4_0", true, q4_0Bytes, GemvQ4_0Q8_0, DotQ4_0Q8_0, quant.DotQ4_0Q8_0, randQ4_0},
		{"Q8_0", false, q8_0Bytes, GemvQ8_0Q8_0, DotQ8_0Q8_0, quant.DotQ8_0Q8_0, randQ8_0},
	}
	forEachLevel(t, func(t *testing.T) {
		for _, k := range kinds {
			for _, tc := range []struct{ n, rows, pad int }{
				{32, 1, 0}, {64, 3, 0}, {96, 2, 7}, {160, 5, 32}, {1536, 7, 0}, {2560, 4, 18}, {768, 300, 0},
			} {
				t.Run(fmt.Sprintf("%s/n=%d/rows=%d/pad=%d", k.name, tc.n, tc.rows, tc.pad), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.rows)))
					rowNeed := tc.n / qk * k.blockW
					rowBytes := rowNeed + tc.pad
					dense := k.weight(r, tc.rows, tc.n)
					w := make([]byte, (tc.rows-1)*rowBytes+rowNeed)
					for i := 0; i < tc.rows; i++ {
						copy(w[i*rowBytes:], dense[i*rowNeed:(i+1)*rowNeed])
					}
					x := randQ8_0(r, 1, tc.n)
					// Guard values around out catch stray stores.
					buf := make([]float32, tc.rows+2)
					buf[0], buf[tc.rows+1] = 12345, -12345
					out := buf[1 : tc.rows+1]
					k.gemv(w, rowBytes, x, tc.n, out)
					if buf[0] != 12345 || buf[tc.rows+1] != -12345 {
						t.Fatalf("guard values overwritten: %v %v", buf[0], buf[tc.rows+1])
					}
					for i := range out {
						row := w[i*rowBytes:]
						want := k.ref(row, x, tc.n)
						tol := quantTolerance(tc.n/qk, absQuantTerms(row, x, tc.n, k.q4))
						if math.Abs(float64(out[i]-want)) > tol {
							t.Fatalf("row %d: got %g, want %g (tolerance %g)", i, out[i], want, tol)
						}
						if d := k.dot(row, x, tc.n); d != out[i] {
							t.Fatalf("row %d: Dot %g differs from Gemv %g", i, d, out[i])
						}
					}
				})
			}
		}
	})
}

// TestQuantizedExtremes uses the largest magnitudes each format allows, where
// a saturating 16-bit pair sum would show.
func TestQuantizedExtremes(t *testing.T) {
	const n = 256
	one := quant.FP32ToFP16(1)
	x := make([]byte, n/qk*q8_0Bytes)
	w4 := make([]byte, n/qk*q4_0Bytes)
	w8 := make([]byte, n/qk*q8_0Bytes)
	forEachLevel(t, func(t *testing.T) {
		for _, sign := range []int{1, -1} {
			for b := 0; b < n/qk; b++ {
				binary.LittleEndian.PutUint16(x[b*q8_0Bytes:], one)
				binary.LittleEndian.PutUint16(w4[b*q4_0Bytes:], one)
				binary.LittleEndian.PutUint16(w8[b*q8_0Bytes:], one)
				for j := 0; j < qk; j++ {
					x[b*q8_0Bytes+2+j] = byte(int8(127 * sign))
					w8[b*q8_0Bytes+2+j] = byte(int8(-127 * sign))
				}
				for j := 0; j < 16; j++ {
					w4[b*q4_0Bytes+2+j] = 0x00 // every element -8
				}
			}
			if got, want := DotQ4_0Q8_0(w4, x, n), float32(-8*127*n*sign); got != want {
				t.Errorf("Q4_0 sign %d: got %g, want %g", sign, got, want)
			}
			if got, want := DotQ8_0Q8_0(w8, x, n), float32(-127*127*n); got != want {
				t.Errorf("Q8_0 sign %d: got %g, want %g", sign, got, want)
			}
		}
	})
}

func TestQuantizeQ8_0(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := map[string][]float32{
		"random":   randFloats(r, 1536),
		"zeros":    make([]float32, 64),
		"negative": {-4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, -127},
		"tiny":     slices.Repeat([]float32{1e-30, -3e-31}, 16),
		"huge":     slices.Repeat([]float32{3e38, -1e38, 5, 0}, 8),
	}
	// Ties: amax 127 makes id exactly 1, so k+0.5 sits exactly between two
	// integers and must round away from zero like C's roundf (2.5 → 3, -0.5 → -1).
	ties := make([]float32, 64)
	for i := range ties {
		ties[i] = float32(i%32-16) + 0.5
	}
	ties[0], ties[32] = 127, -127
	cases["ties"] = ties
	// Long rows cross the per-call block limit.
	cases["long"] = randFloats(r, 4*maxCallElems+96)
	forEachLevel(t, func(t *testing.T) {
		for name, x := range cases {
			want := make([]byte, len(x)/qk*q8_0Bytes)
			quant.QuantizeActQ8_0(x, want)
			got := make([]byte, len(want)+3)
			got[len(want)], got[len(want)+1], got[len(want)+2] = 0xa5, 0x5a, 0xa5
			QuantizeQ8_0(x, got)
			if !slices.Equal(got[:len(want)], want) {
				i := 0
				for got[i] == want[i] {
					i++
				}
				t.Errorf("%s: first difference at byte %d (block %d): got %#x, want %#x", name, i, i/q8_0Bytes, got[i], want[i])
			}
			if got[len(want)] != 0xa5 || got[len(want)+1] != 0x5a || got[len(want)+2] != 0xa5 {
				t.Errorf("%s: wrote past the end", name)
			}
		}
	})
}

func TestFloatDots(t *testing.T) {
	type kind struct {
		name   string
		size   int
		encode func(x []float32, dst []byte)
		decode func(b []byte) float32
		dot    func(w, x []byte, n int) float32
		gemv   func(w []byte, rowBytes int, x []byte, n int, out []float32)
		ref    func(w, x []byte, n int) float32
	}
	kinds := []kind{
		{"F16", 2, quant.QuantizeRowF16, func(b []byte) float32 { return quant.FP16ToFP32(binary.LittleEndian.Uint16(b)) }, DotF16, GemvF16, quant.DotF16},
		{"BF16", 2, quant.QuantizeRowBF16, func(b []byte) float32 { return quant.BF16ToFP32(binary.LittleEndian.Uint16(b)) }, DotBF16, GemvBF16, quant.DotBF16},
		{"F32", 4, quant.QuantizeRowF32, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }, DotF32, GemvF32, quant.DotF32},
	}
	r := rand.New(rand.NewPCG(3, 4))
	forEachLevel(t, func(t *testing.T) {
		for _, k := range kinds {
			for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 100, 1536, maxCallElems + 13} {
				const rows = 3
				wf, xf := randFloats(r, rows*n), randFloats(r, n)
				w, x := make([]byte, rows*n*k.size), make([]byte, n*k.size)
				k.encode(wf, w)
				k.encode(xf, x)
				out := make([]float32, rows)
				k.gemv(w, n*k.size, x, n, out)
				for i := range out {
					row := w[i*n*k.size:]
					want := k.ref(row, x, n)
					abs := 0.0
					for j := 0; j < n; j++ {
						abs += math.Abs(float64(k.decode(row[j*k.size:]) * k.decode(x[j*k.size:])))
					}
					// The reference sums in float64; the kernel's own error bound suffices.
					if tol := sumTolerance(n, abs) / 2; math.Abs(float64(out[i]-want)) > tol {
						t.Fatalf("%s n=%d row %d: got %g, want %g (tolerance %g)", k.name, n, i, out[i], want, tol)
					}
					if d := k.dot(row, x, n); d != out[i] {
						t.Fatalf("%s n=%d row %d: Dot %g differs from Gemv %g", k.name, n, i, d, out[i])
					}
				}
			}
		}
	})
}

func TestVectorHelpers(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	forEachLevel(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 5, 8, 13, 64, 100, 1536, 2*maxCallElems + 3} {
			a, b := randFloats(r, n), randFloats(r, n)

			want, abs := 0.0, 0.0
			for i := range a {
				want += float64(a[i]) * float64(b[i])
				abs += math.Abs(float64(a[i]) * float64(b[i]))
			}
			if got := Dot(a, b); math.Abs(float64(got)-want) > sumTolerance(n, abs)/2 {
				t.Errorf("Dot n=%d: got %g, want %g", n, got, want)
			}

			// Axpy may fuse multiply and add: at most one extra rounding of a·x.
			y := slices.Clone(b)
			alpha := float32(r.NormFloat64())
			Axpy(alpha, a, y)
			for i := range y {
				exact := float64(alpha)*float64(a[i]) + float64(b[i])
				if tol := 2 * u * (math.Abs(float64(alpha*a[i])) + math.Abs(float64(b[i]))); math.Abs(float64(y[i])-exact) > tol {
					t.Fatalf("Axpy n=%d [%d]: got %g, want %g", n, i, y[i], exact)
				}
			}

			// Scale and ScaleMul round exactly like the Go expressions.
			s := slices.Clone(a)
			Scale(alpha, s)
			dst := make([]float32, n)
			ScaleMul(dst, a, b, alpha)
			for i := range s {
				if s[i] != a[i]*alpha {
					t.Fatalf("Scale n=%d [%d]: got %g, want %g", n, i, s[i], a[i]*alpha)
				}
				if want := a[i] * alpha * b[i]; dst[i] != want {
					t.Fatalf("ScaleMul n=%d [%d]: got %g, want %g", n, i, dst[i], want)
				}
			}
		}
	})
}

func TestGemvDispatch(t *testing.T) {
	const n, rows = 128, 4
	r := rand.New(rand.NewPCG(7, 8))
	xf := randFloats(r, n)
	for _, typ := range []gguf.TensorType{gguf.Q4_0, gguf.Q8_0, gguf.F16, gguf.BF16, gguf.F32} {
		vd, err := quant.VecDotFor(typ)
		if err != nil {
			t.Fatal(err)
		}
		wf := randFloats(r, rows*n)
		rowBytes := typ.RowSize(n)
		w := make([]byte, rows*rowBytes)
		if err := quant.QuantizeRow(typ, wf, w); err != nil {
			t.Fatal(err)
		}
		x := make([]byte, vd.Act.RowSize(n))
		vd.QuantizeAct(xf, x)
		out := make([]float32, rows)
		Gemv(typ, w, rowBytes, x, n, out)
		for i := range out {
			want := vd.Dot(w[i*rowBytes:], x, n)
			if math.Abs(float64(out[i]-want)) > 1e-4*math.Max(1, math.Abs(float64(want))) {
				t.Errorf("%s row %d: got %g, want %g", typ, i, out[i], want)
			}
		}
	}
}

func TestBadLengthsPanic(t *testing.T) {
	q4 := make([]byte, 2*q4_0Bytes)
	q8 := make([]byte, 2*q8_0Bytes)
	f := make([]float32, 64)
	tests := []struct {
		name string
		call func()
	}{
		{"n not a block multiple", func() { DotQ4_0Q8_0(q4, q8, 48) }},
		{"short weights", func() { DotQ4_0Q8_0(q4[:30], q8, 64) }},
		{"short activations", func() { DotQ8_0Q8_0(q8, q8[:40], 64) }},
		{"stride shorter than a row", func() { GemvQ4_0Q8_0(q4, 18, q8, 64, make([]float32, 1)) }},
		{"too many rows", func() { GemvQ4_0Q8_0(q4, 36, q8, 64, make([]float32, 2)) }},
		{"short F16", func() { DotF16(q4[:10], q4, 8) }},
		{"quantize odd length", func() { QuantizeQ8_0(f[:40], q8) }},
		{"quantize short dst", func() { QuantizeQ8_0(f, q8[:60]) }},
		{"Dot lengths", func() { Dot(f, f[:3]) }},
		{"Axpy lengths", func() { Axpy(1, f, f[:3]) }},
		{"ScaleMul lengths", func() { ScaleMul(f, f, f[:3], 1) }},
		{"unknown type", func() { Gemv(gguf.TensorType(1000), q4, 18, q8, 32, make([]float32, 1)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPanic(t, tt.call)
		})
	}
}

func TestNoAllocations(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	w, x := randQ4_0(r, 8, 256), randQ8_0(r, 1, 256)
	xf := randFloats(r, 256)
	out := make([]float32, 8)
	allocs := testing.AllocsPerRun(100, func() {
		DotQ4_0Q8_0(w, x, 256)
		GemvQ4_0Q8_0(w, 256/qk*q4_0Bytes, x, 256, out)
		QuantizeQ8_0(xf, x)
		Dot(xf, xf)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per call", allocs)
	}
}

func TestImplMatchesCPU(t *testing.T) {
	ls := levels()
	if Impl() != ls[len(ls)-1].String() {
		t.Fatalf("Impl() = %q, want the best available %q", Impl(), ls[len(ls)-1])
	}
	t.Logf("implementation %s; available %v", Impl(), ls)
}

// TestQuantizedLevelsAgree checks that every implementation's Q4_0/Q8_0
// dots are bit-identical to the plain-Go lane model (which mirrors AVX2).
func TestQuantizedLevelsAgree(t *testing.T) {
	const n, rows = 1536, 64
	r := rand.New(rand.NewPCG(13, 14))
	x := randQ8_0(r, 1, n)
	for _, k := range []struct {
		name string
		w    []byte
		rb   int
		gemv func(w []byte, rowBytes int, x []byte, n int, out []float32)
	}{
		{"Q4_0", randQ4_0(r, rows, n), n / qk * q4_0Bytes, GemvQ4_0Q8_0},
		{"Q8_0", randQ8_0(r, rows, n), n / qk * q8_0Bytes, GemvQ8_0Q8_0},
	} {
		saved := active
		active = levelGeneric
		want := make([]float32, rows)
		k.gemv(k.w, k.rb, x, n, want)
		active = saved
		forEachLevel(t, func(t *testing.T) {
			got := make([]float32, rows)
			k.gemv(k.w, k.rb, x, n, got)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s row %d: %g, plain-Go lane model %g", k.name, i, got[i], want[i])
				}
			}
		})
	}
}

// mustPanic fails t unless f panics (argument checks of the exported kernels).
func mustPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	f()
}
