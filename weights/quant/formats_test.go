package quant

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"smallthinker/weights/gguf"
)

// blockTypes are the block formats this package encodes, with the relative
// RMS round-trip error each must reach on Gaussian data (about 1.3x what the
// reference algorithms achieve; a broken scale search or packing is far worse).
var blockTypes = []struct {
	t      gguf.TensorType
	maxRel float64
}{
	{gguf.Q8_0, 0.006},
	{gguf.Q8_1, 0.006},
	{gguf.Q8_K, 0.009}, // one scale per 256 values
	{gguf.Q6_K, 0.025}, // at scale 1e-3 the fp16 super-block scale is subnormal
	{gguf.Q5_1, 0.045},
	{gguf.Q5_K, 0.04},
	{gguf.Q5_0, 0.05},
	{gguf.Q4_1, 0.09},
	{gguf.Q4_K, 0.08},
	{gguf.Q4_0, 0.11},
	{gguf.Q3_K, 0.17},
	{gguf.Q2_K, 0.33},
}

func gaussian(rng *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * scale
	}
	return x
}

func roundTrip(t *testing.T, typ gguf.TensorType, x []float32) []float32 {
	t.Helper()
	buf := make([]byte, typ.RowSize(len(x)))
	if err := QuantizeRow(typ, x, buf); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(x))
	if err := DequantizeRow(typ, buf, y); err != nil {
		t.Fatal(err)
	}
	for i, v := range y {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("%s: element %d decodes to %v", typ, i, v)
		}
	}
	return y
}

func TestRoundTripGaussian(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bt := range blockTypes {
		t.Run(bt.t.String(), func(t *testing.T) {
			for _, scale := range []float32{1e-3, 1, 30} {
				x := gaussian(rng, 4096, scale)
				if e := relRMS(roundTrip(t, bt.t, x), x); e > bt.maxRel {
					t.Errorf("scale %g: relative RMS error %.4f > %.4f", scale, e, bt.maxRel)
				}
			}
		})
	}
}

func TestRoundTripEdgeCases(t *testing.T) {
	n := 512
	cases := map[string]func() []float32{
		"zeros": func() []float32 { return make([]float32, n) },
		"single large positive": func() []float32 {
			x := make([]float32, n)
			x[37] = 1000
			return x
		},
		"single large negative": func() []float32 {
			x := make([]float32, n)
			x[300] = -1000
			return x
		},
		"all negative": func() []float32 {
			x := gaussian(rand.New(rand.NewPCG(3, 4)), n, 1)
			for i := range x {
				x[i] = -1 - abs32(x[i])
			}
			return x
		},
		"constant": func() []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = 0.75
			}
			return x
		},
		"outlier in noise": func() []float32 {
			x := gaussian(rand.New(rand.NewPCG(5, 6)), n, 0.01)
			x[129] = 5
			return x
		},
	}
	for _, bt := range blockTypes {
		for name, gen := range cases {
			t.Run(bt.t.String()+"/"+name, func(t *testing.T) {
				x := gen()
				y := roundTrip(t, bt.t, x)
				amax := float32(0)
				for _, v := range x {
					amax = max(amax, abs32(v))
				}
				if amax == 0 {
					for i, v := range y {
						if v != 0 {
							t.Fatalf("zeros decode to %v at %d", v, i)
						}
					}
					return
				}
				// Every element within 25% of its block's range for the
				// coarsest types, far tighter for the rest; the largest
				// element, which sets the scale, within a few percent.
				tol := 0.25 * amax
				if bt.maxRel < 0.1 {
					tol = 0.08 * amax
				}
				big := 0
				for i := range x {
					if abs32(x[i]) > abs32(x[big]) {
						big = i
					}
					if d := abs32(y[i] - x[i]); d > tol {
						t.Fatalf("element %d: %v decodes to %v (tolerance %v)", i, x[i], y[i], tol)
					}
				}
				bigTol := float32(0.03)
				if bt.maxRel > 0.1 {
					bigTol = 0.1 // 2-3 bit fits trade the extreme for the bulk
				}
				if d := abs32(y[big] - x[big]); d > bigTol*abs32(x[big]) {
					t.Errorf("largest element %v decodes to %v", x[big], y[big])
				}
			})
		}
	}
}

// Q5_0, Q5_1 (no test file uses it), Q8_1 and Q8_K built by hand from the
// ggml-common.h layouts, so the decoders are checked independently of our
// encoders.
func TestHandBuiltBlocks(t *testing.T) {
	fp16 := func(b []byte, v float32) { binary.LittleEndian.PutUint16(b, FP32ToFP16(v)) }
	// Quant i for element i: low nibbles j|j<<4, 5th bit set for elements 16..31.
	fiveBit := func(qh, qs []byte) {
		binary.LittleEndian.PutUint32(qh, 0xffff0000)
		for j := 0; j < 16; j++ {
			qs[j] = byte(j) | byte(j)<<4
		}
	}
	t.Run("Q5_0", func(t *testing.T) {
		b := make([]byte, Q5_0Bytes)
		fp16(b, 0.5)
		fiveBit(b[2:6], b[6:22])
		y := make([]float32, 32)
		DequantizeRowQ5_0(b, y)
		for i, v := range y {
			if want := 0.5 * float32(i-16); v != want {
				t.Fatalf("y[%d] = %v, want %v", i, v, want)
			}
		}
	})
	t.Run("Q5_1", func(t *testing.T) {
		b := make([]byte, Q5_1Bytes)
		fp16(b, 0.25)
		fp16(b[2:], -3)
		fiveBit(b[4:8], b[8:24])
		y := make([]float32, 32)
		DequantizeRowQ5_1(b, y)
		for i, v := range y {
			if want := 0.25*float32(i) - 3; v != want {
				t.Fatalf("y[%d] = %v, want %v", i, v, want)
			}
		}
	})
	t.Run("Q8_1", func(t *testing.T) {
		b := make([]byte, Q8_1Bytes)
		fp16(b, 0.125)
		fp16(b[2:], 99) // s is redundant for decoding
		for i := 0; i < 32; i++ {
			b[4+i] = byte(int8(i - 20))
		}
		y := make([]float32, 32)
		DequantizeRowQ8_1(b, y)
		for i, v := range y {
			if want := 0.125 * float32(i-20); v != want {
				t.Fatalf("y[%d] = %v, want %v", i, v, want)
			}
		}
	})
	t.Run("Q8_K", func(t *testing.T) {
		b := make([]byte, Q8_KBytes)
		binary.LittleEndian.PutUint32(b, math.Float32bits(-0.5))
		for i := 0; i < QKK; i++ {
			b[4+i] = byte(int8(i - 128))
		}
		y := make([]float32, QKK)
		DequantizeRowQ8_K(b, y)
		for i, v := range y {
			if want := -0.5 * float32(i-128); v != want {
				t.Fatalf("y[%d] = %v, want %v", i, v, want)
			}
		}
	})
}

func TestNearestIntRoundsHalfToEven(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want int32
	}{{0, 0}, {0.49, 0}, {0.5, 0}, {1.5, 2}, {2.5, 2}, {-2.5, -2}, {-3.5, -4}, {126.6, 127}, {-127.2, -127}, {4194303, 4194303}} {
		if got := nearestInt(c.in); got != c.want {
			t.Errorf("nearestInt(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

// ggml's Q8_K: iscale = -127/max with max the signed value of largest
// magnitude, so d is negative when that value is positive; bsums are the
// exact sums of each 16 quants.
func TestQ8_KMatchesGGML(t *testing.T) {
	x := gaussian(rand.New(rand.NewPCG(7, 8)), 2*QKK, 1)
	x[10] = 4    // block 0: positive extreme
	x[300] = -6  // block 1: negative extreme
	x[301] = 2.5 // exact tie candidate: 2.5*127/6 is not a tie, still checked below
	buf := make([]byte, 2*Q8_KBytes)
	QuantizeRowQ8_K(x, buf)
	for b, extreme := range []float32{4, -6} {
		blk := buf[b*Q8_KBytes:]
		d := math.Float32frombits(binary.LittleEndian.Uint32(blk))
		iscale := -127 / extreme
		if want := 1 / iscale; d != want {
			t.Errorf("block %d: d = %v, want %v", b, d, want)
		}
		for j := 0; j < QKK; j++ {
			want := int8(min(127, nearestInt(iscale*x[b*QKK+j])))
			if got := int8(blk[4+j]); got != want {
				t.Fatalf("block %d q[%d] = %d, want %d", b, j, got, want)
			}
		}
		for g := 0; g < 16; g++ {
			s := int32(0)
			for j := 0; j < 16; j++ {
				s += int32(int8(blk[4+16*g+j]))
			}
			if got := bsum(blk[4+QKK:], g); got != s {
				t.Errorf("block %d bsums[%d] = %d, want %d", b, g, got, s)
			}
		}
	}
}

func TestQ8_1Sum(t *testing.T) {
	x := gaussian(rand.New(rand.NewPCG(9, 10)), 64, 2)
	for _, quantize := range []func([]float32, []byte){QuantizeRowQ8_1, QuantizeActQ8_1} {
		buf := make([]byte, 2*Q8_1Bytes)
		quantize(x, buf)
		for b := 0; b < 2; b++ {
			blk := buf[b*Q8_1Bytes:]
			amax := float32(0)
			sum := int32(0)
			for j := 0; j < 32; j++ {
				amax = max(amax, abs32(x[32*b+j]))
				sum += int32(int8(blk[4+j]))
			}
			if got, want := binary.LittleEndian.Uint16(blk[2:]), FP32ToFP16(float32(sum)*(amax/127)); got != want {
				t.Errorf("block %d: s = %#04x, want %#04x", b, got, want)
			}
		}
	}
}

// Every registered dot must agree with decoding both operands and summing in
// float64: the integer parts are exact, so only float32 rounding remains.
// Against the unquantized activation it must agree within the activation
// quantization error.
func TestVecDotMatchesDequantized(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n = 2048
	for _, wt := range []gguf.TensorType{gguf.Q4_0, gguf.Q4_1, gguf.Q5_0, gguf.Q5_1, gguf.Q8_0, gguf.Q2_K, gguf.Q3_K, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K} {
		t.Run(wt.String(), func(t *testing.T) {
			vd, err := VecDotFor(wt)
			if err != nil {
				t.Fatal(err)
			}
			wantAct := map[gguf.TensorType]gguf.TensorType{gguf.Q4_1: gguf.Q8_1, gguf.Q5_1: gguf.Q8_1, gguf.Q4_0: gguf.Q8_0, gguf.Q5_0: gguf.Q8_0, gguf.Q8_0: gguf.Q8_0}[wt]
			if wantAct == 0 {
				wantAct = gguf.Q8_K
			}
			if vd.Act != wantAct {
				t.Fatalf("activation type %s, ggml uses %s", vd.Act, wantAct)
			}
			for trial := 0; trial < 4; trial++ {
				w := gaussian(rng, n, 0.05)
				x := gaussian(rng, n, 3)
				if trial == 3 {
					for i := range x { // all-positive activations stress the min/bsums terms
						x[i] = abs32(x[i])
					}
				}
				wq := make([]byte, wt.RowSize(n))
				xq := make([]byte, vd.Act.RowSize(n))
				if err := QuantizeRow(wt, w, wq); err != nil {
					t.Fatal(err)
				}
				vd.QuantizeAct(x, xq)
				wd, xd := make([]float32, n), make([]float32, n)
				DequantizeRow(wt, wq, wd)
				DequantizeRow(vd.Act, xq, xd)
				exact, full, mag, wn, xn := 0.0, 0.0, 0.0, 0.0, 0.0
				for i := range wd {
					exact += float64(wd[i]) * float64(xd[i])
					full += float64(wd[i]) * float64(x[i])
					mag += math.Abs(float64(wd[i]) * float64(xd[i]))
					wn += float64(wd[i]) * float64(wd[i])
					xn += float64(x[i]) * float64(x[i])
				}
				if vd.Act == gguf.Q8_1 {
					// The min term uses s = fp16(d*Σq), not Σ of the decoded
					// activations; account for that rounding exactly.
					for b := 0; b < n/QK; b++ {
						m := float64(fp16At(wq[b*wt.TypeSize()+2:]))
						xb := xq[b*Q8_1Bytes:]
						sum := 0.0
						for j := 0; j < QK; j++ {
							sum += float64(int8(xb[4+j]))
						}
						exact += m * (float64(fp16At(xb[2:])) - float64(fp16At(xb))*sum)
					}
				}
				got := float64(vd.Dot(wq, xq, n))
				if math.Abs(got-exact) > 1e-5*mag {
					t.Errorf("trial %d: dot %v, dequantized operands give %v", trial, got, exact)
				}
				if math.Abs(got-full) > 0.01*math.Sqrt(wn*xn) {
					t.Errorf("trial %d: dot %v, unquantized activation gives %v", trial, got, full)
				}
			}
			zero := make([]byte, vd.Act.RowSize(n))
			vd.QuantizeAct(make([]float32, n), zero)
			wq := make([]byte, wt.RowSize(n))
			QuantizeRow(wt, gaussian(rng, n, 1), wq)
			if got := vd.Dot(wq, zero, n); got != 0 {
				t.Errorf("dot with a zero activation = %v", got)
			}
		})
	}
}

func TestUnsupportedTypesNameTheType(t *testing.T) {
	for _, typ := range []gguf.TensorType{gguf.IQ2_XXS, gguf.IQ4_NL, gguf.IQ4_XS, gguf.IQ1_M, gguf.TQ1_0, gguf.TQ2_0, gguf.I8} {
		n := max(typ.BlockSize(), 1) * 2
		var ue *UnsupportedError
		err := DequantizeRow(typ, make([]byte, max(typ.RowSize(n), 1)), make([]float32, n))
		if !errors.As(err, &ue) || ue.Type != typ || !strings.Contains(err.Error(), typ.String()) {
			t.Errorf("DequantizeRow(%s): %v", typ, err)
		}
		if err := QuantizeRow(typ, make([]float32, n), make([]byte, max(typ.RowSize(n), 1))); !errors.As(err, &ue) {
			t.Errorf("QuantizeRow(%s): %v", typ, err)
		}
		if _, err := VecDotFor(typ); !errors.As(err, &ue) {
			t.Errorf("VecDotFor(%s): %v", typ, err)
		}
		if Supported(typ) {
			t.Errorf("Supported(%s) = true", typ)
		}
	}
}

func TestShortOrMisalignedRowsAreErrors(t *testing.T) {
	for _, bt := range blockTypes {
		bs := bt.t.BlockSize()
		if err := DequantizeRow(bt.t, make([]byte, bt.t.RowSize(bs)-1), make([]float32, bs)); err == nil {
			t.Errorf("%s: short source accepted", bt.t)
		}
		if err := DequantizeRow(bt.t, make([]byte, 4*bt.t.TypeSize()), make([]float32, bs+1)); err == nil {
			t.Errorf("%s: partial block accepted", bt.t)
		}
		if err := QuantizeRow(bt.t, make([]float32, bs), make([]byte, bt.t.RowSize(bs)-1)); err == nil {
			t.Errorf("%s: short destination accepted", bt.t)
		}
	}
}

func TestTypeByName(t *testing.T) {
	for name, want := range map[string]gguf.TensorType{
		"q4_k": gguf.Q4_K, "Q4_K": gguf.Q4_K, " q8_0 ": gguf.Q8_0, "q2_k": gguf.Q2_K, "q3_k": gguf.Q3_K,
		"q5_k": gguf.Q5_K, "q6_k": gguf.Q6_K, "q4_1": gguf.Q4_1, "q5_0": gguf.Q5_0, "q5_1": gguf.Q5_1,
		"q4_0": gguf.Q4_0, "f16": gguf.F16, "bf16": gguf.BF16, "f32": gguf.F32,
	} {
		if got, err := TypeByName(name); err != nil || got != want {
			t.Errorf("TypeByName(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"iq2_xxs", "q8_k", "q8_1", "q4_k_m", "", "tq1_0"} {
		_, err := TypeByName(name)
		if err == nil || !strings.Contains(err.Error(), "q4_k") {
			t.Errorf("TypeByName(%q) = %v; want an error listing the supported types", name, err)
		}
	}
	names := WritableTypeNames()
	if len(names) != 13 || names[0] != "f32" {
		t.Errorf("WritableTypeNames() = %v", names)
	}
}
