package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

var kTypes = []gguf.TensorType{gguf.Q4_K, gguf.Q5_K, gguf.Q6_K}

// kScaleOffsets are the byte offsets of a super-block's fp16 scales.
func kScaleOffsets(t gguf.TensorType) []int {
	if t == gguf.Q6_K {
		return []int{208}
	}
	return []int{0, 2}
}

// fixKScales overwrites each super-block's fp16 scales with finite values of
// a realistic size (random bytes elsewhere are all valid K-quant data).
func fixKScales(r *rand.Rand, t gguf.TensorType, w []byte) {
	bw := kBlockBytes(t)
	for b := 0; b+bw <= len(w); b += bw {
		for _, o := range kScaleOffsets(t) {
			binary.LittleEndian.PutUint16(w[b+o:], quant.FP32ToFP16(float32(r.NormFloat64()*0.01)))
		}
	}
}

// kRows returns rows of t: random bytes (fixed scales) or, when real, the
// quantizer's output for Gaussian weights.
func kRows(r *rand.Rand, t gguf.TensorType, rows, n int, real bool) []byte {
	w := make([]byte, rows*t.RowSize(n))
	if real {
		f := make([]float32, n)
		for i := 0; i < rows; i++ {
			for j := range f {
				f[j] = float32(r.NormFloat64() * 0.02)
			}
			if err := quant.QuantizeRow(t, f, w[i*t.RowSize(n):]); err != nil {
				panic(err)
			}
		}
		return w
	}
	for i := range w {
		w[i] = byte(r.UintN(256))
	}
	fixKScales(r, t, w)
	return w
}

// q8K quantizes random activations of varying magnitude to Q8_K.
func q8K(r *rand.Rand, n int) []byte {
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(r.NormFloat64() * math.Exp(r.NormFloat64()))
	}
	x := make([]byte, n/quant.QKK*quant.Q8_KBytes)
	quant.QuantizeRowQ8_K(f, x)
	return x
}

func TestGemvKQuantsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, typ := range kTypes {
		vd, _ := quant.VecDotFor(typ)
		for _, n := range []int{256, 512, 1536} {
			for _, real := range []bool{false, true} {
				const rows = 9
				rb := typ.RowSize(n) + 16 // a stride past the row, as in sliced tensors
				packed := kRows(r, typ, rows, n, real)
				w := make([]byte, rows*rb)
				for i := 0; i < rows; i++ {
					copy(w[i*rb:], packed[i*typ.RowSize(n):(i+1)*typ.RowSize(n)])
				}
				x := q8K(r, n)
				want := make([]float32, rows)
				for i := range want {
					want[i] = vd.Dot(w[i*rb:], x, n)
				}
				forEachLevel(t, func(t *testing.T) {
					got := make([]float32, rows)
					Gemv(typ, w, rb, x, n, got)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Errorf("%s n=%d real=%v row %d: %g, reference %g", typ, n, real, i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

func TestGemvKQuantsBadLengthsPanic(t *testing.T) {
	w := make([]byte, 2*quant.Q4_KBytes)
	x := make([]byte, quant.Q8_KBytes)
	out := make([]float32, 2)
	for name, f := range map[string]func(){
		"n not a multiple of 256": func() { Gemv(gguf.Q4_K, w, quant.Q4_KBytes, x, 128, out) },
		"short activation":        func() { Gemv(gguf.Q4_K, w, quant.Q4_KBytes, x[:100], 256, out) },
		"short weights":           func() { Gemv(gguf.Q4_K, w[:200], quant.Q4_KBytes, x, 256, out) },
		"stride below a row":      func() { Gemv(gguf.Q6_K, w, 100, x, 256, out[:1]) },
	} {
		t.Run(name, func(t *testing.T) { mustPanic(t, f) })
	}
}

// FuzzGemvKQuants checks the K-quant kernels on arbitrary weight bytes
// (scales made finite) against the references, bit for bit.
func FuzzGemvKQuants(f *testing.F) {
	f.Add(make([]byte, 300), []byte("activations"), uint8(0))
	f.Add([]byte("weights weights weights"), make([]byte, 64), uint8(2))
	f.Fuzz(func(t *testing.T, wdata, xdata []byte, which uint8) {
		typ := kTypes[int(which)%len(kTypes)]
		n := quant.QKK * (1 + len(wdata)%3)
		w := make([]byte, 2*typ.RowSize(n))
		for i := range w {
			if len(wdata) > 0 {
				w[i] = wdata[i%len(wdata)] ^ byte(i/len(wdata))
			}
		}
		for b := 0; b < len(w); b += kBlockBytes(typ) {
			for _, o := range kScaleOffsets(typ) {
				w[b+o+1] &^= 0x40 // finite fp16
			}
		}
		xf := make([]float32, n)
		for i := range xf {
			if len(xdata) > 0 {
				xf[i] = float32(int8(xdata[i%len(xdata)])) * float32(i%5+1)
			}
		}
		x := make([]byte, n/quant.QKK*quant.Q8_KBytes)
		quant.QuantizeRowQ8_K(xf, x)
		vd, _ := quant.VecDotFor(typ)
		forEachLevel(t, func(t *testing.T) {
			got := make([]float32, 2)
			Gemv(typ, w, typ.RowSize(n), x, n, got)
			for r := range got {
				want := vd.Dot(w[r*typ.RowSize(n):], x, n)
				if math.Float32bits(got[r]) != math.Float32bits(want) && !(math.IsNaN(float64(got[r])) && math.IsNaN(float64(want))) {
					t.Fatalf("%s row %d: %g, reference %g", typ, r, got[r], want)
				}
			}
		})
	})
}
