package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"smallthinker/weights/gguf"
)

var fuzzWeightTypes = []gguf.TensorType{
	gguf.Q4_0, gguf.Q4_1, gguf.Q5_0, gguf.Q5_1, gguf.Q8_0,
	gguf.Q2_K, gguf.Q3_K, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K,
}

// FuzzDequantizeRow feeds arbitrary bytes (as a file's tensor data could be)
// to every block decoder: it must never panic, and whenever the decoded
// weights are finite the reference dot must still equal decoding both
// operands and summing, so every bit pattern of scales, mins and high bits is
// read the same way by the dot and by the decoder.
func FuzzDequantizeRow(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	for i, typ := range fuzzWeightTypes {
		x := gaussian(rng, 256, 1)
		buf := make([]byte, typ.RowSize(256))
		QuantizeRow(typ, x, buf)
		f.Add(uint8(i), buf)
	}
	f.Add(uint8(7), make([]byte, 300))
	act := gaussian(rand.New(rand.NewPCG(2, 2)), 512, 1)
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		typ := fuzzWeightTypes[int(which)%len(fuzzWeightTypes)]
		n := len(data) / typ.TypeSize() * typ.BlockSize()
		n = min(n, len(act))
		n -= n % typ.BlockSize()
		if n == 0 {
			if err := DequantizeRow(typ, data, make([]float32, typ.BlockSize())); err == nil {
				t.Fatalf("%s: %d bytes accepted for one block", typ, len(data))
			}
			return
		}
		w := make([]float32, n)
		if err := DequantizeRow(typ, data, w); err != nil {
			t.Fatal(err)
		}
		vd, err := VecDotFor(typ)
		if err != nil {
			t.Fatal(err)
		}
		xq := make([]byte, vd.Act.RowSize(n))
		vd.QuantizeAct(act[:n], xq)
		xd := make([]float32, n)
		DequantizeRow(vd.Act, xq, xd)
		exact, mag := 0.0, 0.0
		for i := range w {
			if math.IsNaN(float64(w[i])) || math.IsInf(float64(w[i]), 0) {
				return
			}
			exact += float64(w[i]) * float64(xd[i])
			mag += math.Abs(float64(w[i]) * float64(xd[i]))
		}
		if vd.Act == gguf.Q8_1 {
			// The min term goes through s = fp16(d*Σq) (see TestVecDotMatchesDequantized).
			for b := 0; b < n/QK; b++ {
				m := float64(fp16At(data[b*typ.TypeSize()+2:]))
				xb := xq[b*Q8_1Bytes:]
				sum := 0.0
				for j := 0; j < QK; j++ {
					sum += float64(int8(xb[4+j]))
				}
				exact += m * (float64(fp16At(xb[2:])) - float64(fp16At(xb))*sum)
				mag += math.Abs(m * float64(fp16At(xb[2:])))
			}
		}
		got := float64(vd.Dot(data, xq, n))
		if mag > 1e30 || math.IsInf(got, 0) {
			return // float32 overflow territory: only the absence of panics matters
		}
		if math.Abs(got-exact) > 1e-5*mag+1e-30 {
			t.Fatalf("%s: dot %v, decoded operands give %v", typ, got, exact)
		}
	})
}
