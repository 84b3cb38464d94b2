package quant

import (
	"math/rand/v2"
	"testing"

	"smallthinker/weights/gguf"
)

// Throughput of the plain-Go references, in bytes of weight data per second
// (what bounds a memory-bound matvec). 16384 values per row keeps the data in
// L2 so the numbers measure decoding, not DRAM.
const benchN = 16384

func benchRow(b *testing.B, typ gguf.TensorType) []byte {
	w := gaussian(rand.New(rand.NewPCG(1, 2)), benchN, 0.05)
	buf := make([]byte, typ.RowSize(benchN))
	if err := QuantizeRow(typ, w, buf); err != nil {
		b.Fatal(err)
	}
	return buf
}

func BenchmarkDequantize(b *testing.B) {
	for _, typ := range fuzzWeightTypes {
		b.Run(typ.String(), func(b *testing.B) {
			src := benchRow(b, typ)
			dst := make([]float32, benchN)
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				DequantizeRow(typ, src, dst)
			}
		})
	}
}

func BenchmarkVecDot(b *testing.B) {
	for _, typ := range fuzzWeightTypes {
		b.Run(typ.String(), func(b *testing.B) {
			w := benchRow(b, typ)
			vd, err := VecDotFor(typ)
			if err != nil {
				b.Fatal(err)
			}
			xq := make([]byte, vd.Act.RowSize(benchN))
			vd.QuantizeAct(gaussian(rand.New(rand.NewPCG(3, 4)), benchN, 1), xq)
			b.SetBytes(int64(len(w)))
			var sink float32
			for b.Loop() {
				sink += vd.Dot(w, xq, benchN)
			}
			_ = sink
		})
	}
}

func BenchmarkQuantizeAct(b *testing.B) {
	x := gaussian(rand.New(rand.NewPCG(5, 6)), benchN, 1)
	for _, c := range []struct {
		typ gguf.TensorType
		f   func([]float32, []byte)
	}{{gguf.Q8_0, QuantizeActQ8_0}, {gguf.Q8_1, QuantizeActQ8_1}, {gguf.Q8_K, QuantizeRowQ8_K}} {
		b.Run(c.typ.String(), func(b *testing.B) {
			dst := make([]byte, c.typ.RowSize(benchN))
			b.SetBytes(4 * benchN)
			for b.Loop() {
				c.f(x, dst)
			}
		})
	}
}

func BenchmarkQuantizeRow(b *testing.B) {
	x := gaussian(rand.New(rand.NewPCG(7, 8)), benchN, 1)
	for _, typ := range fuzzWeightTypes {
		b.Run(typ.String(), func(b *testing.B) {
			dst := make([]byte, typ.RowSize(benchN))
			b.SetBytes(4 * benchN)
			for b.Loop() {
				QuantizeRow(typ, x, dst)
			}
		})
	}
}
