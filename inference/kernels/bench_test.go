package kernels

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"smallthinker/inference/parallel"
	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// Shapes of SmallThinker-4B: an expert's gate/up projection (768 rows of
// 1536) and the output projection (151936 vocabulary rows of 1536).
var gemvShapes = []struct {
	name       string
	rows, cols int
}{
	{"768x1536", 768, 1536},
	{"151936x1536", 151936, 1536},
}

var (
	benchWeightsOnce sync.Once
	benchWeights     []byte // large enough for the biggest shape in any format
)

// benchMatrix returns rows×cols weights of type t: random bytes with sane
// block scales (for Q4_0/Q8_0/K-quants) or random values (float types).
func benchMatrix(t gguf.TensorType, rows, cols int) []byte {
	benchWeightsOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 1))
		benchWeights = make([]byte, gguf.Q8_0.RowSize(1536)*151936) // the biggest matrix benchmarked
		for i := 0; i+8 <= len(benchWeights); i += 8 {
			binary.LittleEndian.PutUint64(benchWeights[i:], r.Uint64())
		}
	})
	rb := t.RowSize(cols)
	w := benchWeights[:rows*rb]
	scale := quant.FP32ToFP16(0.01)
	switch t {
	case gguf.Q4_0, gguf.Q8_0:
		for i := 0; i < len(w); i += t.TypeSize() {
			binary.LittleEndian.PutUint16(w[i:], scale)
		}
	case gguf.Q4_K, gguf.Q5_K, gguf.Q6_K:
		fixKScales(rand.New(rand.NewPCG(5, 5)), t, w)
	case gguf.F16, gguf.BF16:
		for i := 0; i < len(w); i += 2 {
			w[i+1] &= 0x3f // small finite values
		}
	case gguf.F32:
		for i := 0; i < len(w); i += 4 {
			w[i+3] &= 0x3f
		}
	}
	return w
}

func benchAct(t gguf.TensorType, cols int) []byte {
	vd, err := quant.VecDotFor(t)
	if err != nil {
		panic(err)
	}
	x := make([]byte, vd.Act.RowSize(cols))
	vd.QuantizeAct(randFloats(rand.New(rand.NewPCG(2, 2)), cols), x)
	return x
}

// BenchmarkGemv reports weight bytes per second (MB/s = GB/s × 1000) for
// each type, shape, implementation and thread count.
func BenchmarkGemv(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	types := []gguf.TensorType{gguf.Q4_0, gguf.Q8_0, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K, gguf.F16, gguf.BF16, gguf.F32}
	for _, typ := range types {
		for _, sh := range gemvShapes {
			if typ != gguf.Q4_0 && typ != gguf.Q8_0 && typ != gguf.Q6_K && sh.rows > 768 {
				continue // float weights are not used for big matrices (Q4_K_M's output is Q6_K)
			}
			for _, l := range levels() {
				if l == levelGeneric && sh.rows > 768 {
					continue // minutes per run
				}
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/%s/%s/threads=%d", typ, sh.name, l, threads), func(b *testing.B) {
						active = l
						p := parallel.NewPool(threads)
						defer p.Close()
						w := benchMatrix(typ, sh.rows, sh.cols)
						task := &GemvTask{Type: typ, W: w, RowBytes: typ.RowSize(sh.cols), X: benchAct(typ, sh.cols), N: sh.cols, Out: make([]float32, sh.rows)}
						b.SetBytes(int64(len(w)))
						b.ReportAllocs()
						if threads == 1 {
							// One thread: also report weight bytes per CPU-second.
							reportCPURate(b, int64(len(w)), func() { task.Run(0, 0, sh.rows) })
							return
						}
						for b.Loop() {
							p.For(sh.rows, 64, task)
						}
					})
				}
			}
		}
	}
}

func BenchmarkQuantizeQ8_0(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	for _, n := range []int{1536, 2560} {
		x := randFloats(rand.New(rand.NewPCG(3, 3)), n)
		dst := make([]byte, n/qk*q8_0Bytes)
		for _, l := range levels() {
			b.Run(fmt.Sprintf("n=%d/%s", n, l), func(b *testing.B) {
				active = l
				b.SetBytes(int64(4 * n))
				reportCPURate(b, int64(4*n), func() { QuantizeQ8_0(x, dst) })
			})
		}
	}
}

func BenchmarkVectorHelpers(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	for _, n := range []int{128, 1536} {
		r := rand.New(rand.NewPCG(4, 4))
		x, y := randFloats(r, n), randFloats(r, n)
		for _, l := range levels() {
			active = l
			b.Run(fmt.Sprintf("Dot/n=%d/%s", n, l), func(b *testing.B) {
				b.SetBytes(int64(8 * n))
				for b.Loop() {
					Dot(x, y)
				}
			})
			b.Run(fmt.Sprintf("Axpy/n=%d/%s", n, l), func(b *testing.B) {
				b.SetBytes(int64(8 * n))
				for b.Loop() {
					Axpy(1e-3, x, y)
				}
			})
			b.Run(fmt.Sprintf("Scale/n=%d/%s", n, l), func(b *testing.B) {
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					Scale(1.0001, y)
				}
			})
			b.Run(fmt.Sprintf("ScaleMul/n=%d/%s", n, l), func(b *testing.B) {
				b.SetBytes(int64(8 * n))
				for b.Loop() {
					ScaleMul(y, x, x, 0.5)
				}
			})
		}
	}
}
