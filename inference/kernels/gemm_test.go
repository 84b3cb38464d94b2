package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// TestGemmMatchesGemv checks Gemm against Gemv bit for bit for every type,
// activation count (groups of four plus leftovers) and row range, and that
// rows outside [lo, hi) are left alone.
func TestGemmMatchesGemv(t *testing.T) {
	const n = 256
	r := rand.New(rand.NewPCG(11, 12))
	forEachLevel(t, func(t *testing.T) {
		for _, typ := range []gguf.TensorType{gguf.Q4_0, gguf.Q8_0, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K, gguf.F16, gguf.F32} {
			vd, _ := quant.VecDotFor(typ)
			for _, tc := range []struct{ rows, acts, lo, hi int }{
				{1, 1, 0, 1}, {5, 4, 0, 5}, {37, 5, 3, 30}, {300, 9, 0, 300}, {70, 8, 69, 70}, {10, 3, 4, 4},
				{1000, 4, 2, 1000}, // several asm calls (Q4_0 gathered rows: 128 KiB each)
			} {
				t.Run(fmt.Sprintf("%s/rows=%d/acts=%d/[%d,%d)", typ, tc.rows, tc.acts, tc.lo, tc.hi), func(t *testing.T) {
					rowBytes := typ.RowSize(n) + 4 // a gap between rows
					w := make([]byte, tc.rows*rowBytes)
					for i := 0; i < tc.rows; i++ {
						if err := quant.QuantizeRow(typ, randFloats(r, n), w[i*rowBytes:]); err != nil {
							t.Fatal(err)
						}
					}
					xs := make([][]byte, tc.acts)
					out := make([][]float32, tc.acts)
					for j := range xs {
						xs[j] = make([]byte, vd.Act.RowSize(n))
						vd.QuantizeAct(randFloats(r, n), xs[j])
						out[j] = make([]float32, tc.rows)
						for i := range out[j] {
							out[j][i] = -1e30 // untouched marker
						}
					}
					Gemm(typ, w, rowBytes, xs, n, out, tc.lo, tc.hi)
					want := make([]float32, tc.rows)
					for j := range xs {
						Gemv(typ, w, rowBytes, xs[j], n, want)
						for i := range want {
							if i < tc.lo || i >= tc.hi {
								if out[j][i] != -1e30 {
									t.Fatalf("act %d row %d outside [%d,%d) was written", j, i, tc.lo, tc.hi)
								}
							} else if out[j][i] != want[i] {
								t.Fatalf("act %d row %d: Gemm %g, Gemv %g", j, i, out[j][i], want[i])
							}
						}
					}
					if typ != gguf.Q4_0 {
						return
					}
					// GemmAux with the caller's Q8_0Aux: the same bits.
					auxs := make([][]byte, tc.acts)
					got := make([][]float32, tc.acts)
					for j := range xs {
						auxs[j] = make([]byte, Q8_0AuxSize(n))
						Q8_0Aux(xs[j], n, auxs[j])
						got[j] = make([]float32, tc.rows)
					}
					GemmAux(typ, w, rowBytes, xs, auxs, n, got, tc.lo, tc.hi)
					for j := range xs {
						for i := tc.lo; i < tc.hi; i++ {
							if math.Float32bits(got[j][i]) != math.Float32bits(out[j][i]) {
								t.Fatalf("act %d row %d: GemmAux %g, Gemm %g", j, i, got[j][i], out[j][i])
							}
						}
					}
				})
			}
		}
	})
}

func TestGemmBadArgumentsPanic(t *testing.T) {
	w := make([]byte, 4*q4_0Bytes)
	x := make([]byte, q8_0Bytes)
	out := [][]float32{make([]float32, 4)}
	tests := []struct {
		name string
		call func()
	}{
		{"count mismatch", func() { Gemm(gguf.Q4_0, w, q4_0Bytes, [][]byte{x, x}, 32, out, 0, 4) }},
		{"reversed range", func() { Gemm(gguf.Q4_0, w, q4_0Bytes, [][]byte{x}, 32, out, 3, 2) }},
		{"output too short", func() { Gemm(gguf.Q4_0, w, q4_0Bytes, [][]byte{x}, 32, out, 0, 5) }},
		{"weights too short", func() { Gemm(gguf.Q4_0, w[:50], q4_0Bytes, [][]byte{x}, 32, out, 0, 4) }},
		{"short activation", func() { Gemm(gguf.Q4_0, w, q4_0Bytes, [][]byte{x[:20]}, 32, out, 0, 4) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPanic(t, tt.call)
		})
	}
}

// BenchmarkGemm is a prompt-sized mat-mul (16 activations) of an expert
// projection; MB/s counts weight bytes × activations, comparable to Gemv's.
func BenchmarkGemm(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	const rows, cols, acts = 768, 1536, 16
	for _, typ := range []gguf.TensorType{gguf.Q4_0, gguf.Q8_0, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K} {
		w := benchMatrix(typ, rows, cols)
		xs := make([][]byte, acts)
		out := make([][]float32, acts)
		for j := range xs {
			xs[j] = benchAct(typ, cols)
			out[j] = make([]float32, rows)
		}
		for _, l := range levels()[1:] {
			b.Run(fmt.Sprintf("%s/%dx%d/acts=%d/%s", typ, rows, cols, acts, l), func(b *testing.B) {
				active = l
				b.SetBytes(int64(len(w) * acts))
				b.ReportAllocs()
				reportCPURate(b, int64(len(w)*acts), func() {
					Gemm(typ, w, typ.RowSize(cols), xs, cols, out, 0, rows)
				})
			})
		}
	}
}

// TestGemmQ4_0RowLengths covers Q4_0 rows around the amd64 kernel's scratch
// limit (4096 elements): up to it the activations' scales and 8·Σx are
// precomputed, past it the plain kernel runs; both must equal Gemv.
func TestGemmQ4_0RowLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	vd, _ := quant.VecDotFor(gguf.Q4_0)
	forEachLevel(t, func(t *testing.T) {
		for _, n := range []int{32, 4064, 4096, 4128, 8192} {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				const rows, acts = 9, 5
				rowBytes := gguf.Q4_0.RowSize(n)
				w := make([]byte, rows*rowBytes)
				for i := 0; i < rows; i++ {
					if err := quant.QuantizeRow(gguf.Q4_0, randFloats(r, n), w[i*rowBytes:]); err != nil {
						t.Fatal(err)
					}
				}
				xs := make([][]byte, acts)
				out := make([][]float32, acts)
				for j := range xs {
					xs[j] = make([]byte, vd.Act.RowSize(n))
					vd.QuantizeAct(randFloats(r, n), xs[j])
					out[j] = make([]float32, rows)
				}
				Gemm(gguf.Q4_0, w, rowBytes, xs, n, out, 0, rows)
				want := make([]float32, rows)
				for j := range xs {
					Gemv(gguf.Q4_0, w, rowBytes, xs[j], n, want)
					for i := range want {
						if out[j][i] != want[i] {
							t.Fatalf("act %d row %d: Gemm %g, Gemv %g", j, i, out[j][i], want[i])
						}
					}
				}
			})
		}
	})
}
