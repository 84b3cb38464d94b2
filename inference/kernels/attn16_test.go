package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"smallthinker/weights/quant"
)

// randMixed returns floats whose magnitudes span 2^-12..2^12, so that the
// FMAs' single rounding and the summation order show in the low bits.
func randMixed(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Ldexp(rng.NormFloat64(), rng.IntN(25)-12))
	}
	return x
}

// randF16 returns finite F16 bit patterns of every exponent, subnormals
// (exponent 0) included.
func randF16(rng *rand.Rand, n int) []uint16 {
	h := make([]uint16, n)
	for i := range h {
		h[i] = uint16(rng.IntN(2))<<15 | uint16(rng.IntN(31))<<10 | uint16(rng.IntN(1<<10))
	}
	return h
}

// attnF16Want computes both kernels' results head by head with the plain-Go
// references, on copies of out and acc.
func attnF16Want(q []float32, nh, d int, kv []uint16, stride int, scale float32, out []float32, outStride int,
	acc, s []float32, sStride, n int) (wantOut, wantAcc []float32) {
	wantOut, wantAcc = append([]float32(nil), out...), append([]float32(nil), acc...)
	for h := 0; h < nh; h++ {
		attnScoresF16Go(q[h*d:(h+1)*d], kv, stride, scale, wantOut[h*outStride:h*outStride+n])
		attnAccumF16Go(wantAcc[h*d:(h+1)*d], s[h*sStride:h*sStride+n], kv, stride)
	}
	return wantOut, wantAcc
}

// The F16 kernels (assembly where available) against the plain-Go
// references, head by head, bit for bit: head sizes with and without
// assembly, head counts beyond one group of registers, runs long enough to
// be split into several calls, strides wider than a head; the entries
// between and after the written ranges stay untouched.
func TestAttnF16MatchGo(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(16, 16))
		for _, d := range []int{16, 32, 64, 128, 48, 8, 40} {
			for _, nh := range []int{1, 2, 3, 4, 5, 6, 7, 8, 13, 16} {
				for _, n := range []int{1, 2, 3, 7, 16, 33, 64, 71} {
					stride := d + rng.IntN(3)*8 + rng.IntN(2)
					kv := randF16(rng, (n-1)*stride+d)
					q := randMixed(rng, nh*d)
					outStride, sStride := n+rng.IntN(4), n+rng.IntN(4)
					out := randMixed(rng, nh*outStride+3)
					acc := randMixed(rng, nh*d+5)
					s := randMixed(rng, nh*sStride)
					const scale = 0.0883883476
					wantOut, wantAcc := attnF16Want(q, nh, d, kv, stride, scale, out, outStride, acc, s, sStride, n)
					name := fmt.Sprintf("d=%d/nh=%d/n=%d/stride=%d", d, nh, n, stride)
					// Every other case prefetches a V matrix beside k: the
					// scores must not change.
					var pf []uint16
					if n%2 == 1 {
						pf = randF16(rng, len(kv))
					}
					AttnScoresHeadsF16(q, nh, d, kv, stride, scale, out, outStride, n, pf)
					sameBits(t, name+"/scores", out, wantOut)
					AttnAccumHeadsF16(acc, nh, d, s, sStride, n, kv, stride)
					sameBits(t, name+"/accum", acc, wantAcc)
				}
			}
		}
	})
}

// The plain-Go references against their documented order, written out with
// the F32 kernels' helpers: the scores' 16 lanes are two 8-lane dots whose
// lanes are added pairwise before hsum8.
func TestAttnF16GoOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{5, 16, 48, 128} {
		q, kh := randMixed(rng, d), randF16(rng, d)
		k := make([]float32, d)
		for j, h := range kh {
			k[j] = quant.FP16ToFP32(h)
		}
		var lanes [16]float32
		np := d &^ 15
		for j := 0; j < np; j++ {
			lanes[j%16] = float32(math.FMA(float64(q[j]), float64(k[j]), float64(lanes[j%16])))
		}
		var v [8]float32
		for l := range v {
			v[l] = lanes[l] + lanes[l+8]
		}
		var want float32
		if np > 0 {
			want = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
		}
		for j := np; j < d; j++ {
			want = float32(math.FMA(float64(q[j]), float64(k[j]), float64(want)))
		}
		want *= 0.5
		got := make([]float32, 1)
		attnScoresF16Go(q, kh, d, 0.5, got)
		sameBits(t, fmt.Sprintf("d=%d", d), got, []float32{want})
	}
}

func TestAttnF16BadArguments(t *testing.T) {
	q, out, acc, s := make([]float32, 2*32), make([]float32, 2*10), make([]float32, 2*32), make([]float32, 2*10)
	kv := make([]uint16, 9*40+32)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"scores short q", func() { AttnScoresHeadsF16(q[:63], 2, 32, kv, 40, 1, out, 10, 10, nil) }},
		{"scores outStride < n", func() { AttnScoresHeadsF16(q, 2, 32, kv, 40, 1, out, 9, 10, nil) }},
		{"scores short out", func() { AttnScoresHeadsF16(q, 2, 32, kv, 40, 1, out[:19], 10, 10, nil) }},
		{"scores short k", func() { AttnScoresHeadsF16(q, 2, 32, kv[:9*40+31], 40, 1, out, 10, 10, nil) }},
		{"scores short pf", func() { AttnScoresHeadsF16(q, 2, 32, kv, 40, 1, out, 10, 10, kv[:9*40+31]) }},
		{"scores stride < d", func() { AttnScoresHeadsF16(q, 2, 32, kv, 31, 1, out, 10, 10, nil) }},
		{"accum short acc", func() { AttnAccumHeadsF16(acc[:63], 2, 32, s, 10, 10, kv, 40) }},
		{"accum sStride < n", func() { AttnAccumHeadsF16(acc, 2, 32, s, 9, 10, kv, 40) }},
		{"accum short s", func() { AttnAccumHeadsF16(acc, 2, 32, s[:19], 10, 10, kv, 40) }},
		{"accum short v", func() { AttnAccumHeadsF16(acc, 2, 32, s, 10, 10, kv[:9*40+31], 40) }},
		{"accum stride < d", func() { AttnAccumHeadsF16(acc, 2, 32, s, 10, 10, kv, 31) }},
	} {
		t.Run(c.name, func(t *testing.T) { mustPanic(t, c.f) })
	}
	// n or nh ≤ 0 is nothing to do, whatever the slices.
	AttnScoresHeadsF16(nil, 0, 32, nil, 40, 1, nil, 0, 5, nil)
	AttnAccumHeadsF16(nil, 3, 32, nil, 0, 0, nil, 40)
}

// FuzzAttnF16 checks both kernels against the plain-Go references on
// arbitrary F16 bits (NaN and infinity made finite) and shapes.
func FuzzAttnF16(f *testing.F) {
	f.Add(uint8(5), uint8(1), uint8(9), uint8(3), []byte("keys and values keys and values keys and values"))
	f.Add(uint8(0), uint8(7), uint8(0), uint8(0), make([]byte, 64))
	f.Fuzz(func(t *testing.T, nhB, dB, nB, padB uint8, data []byte) {
		nh, d, n, pad := 1+int(nhB%17), 16*(1+int(dB%8))+int(dB/8%2)*8, 1+int(nB%80), int(padB%20)
		stride := d + pad
		kv := make([]uint16, (n-1)*stride+d)
		for i := range kv {
			var b [2]byte
			if len(data) > 0 {
				b[0], b[1] = data[(2*i)%len(data)], data[(2*i+1)%len(data)]^byte(i)
			}
			h := binary.LittleEndian.Uint16(b[:])
			if h&0x7c00 == 0x7c00 {
				h &^= 0x4000 // exponent 31 (Inf/NaN) → 15
			}
			kv[i] = h
		}
		rng := rand.New(rand.NewPCG(uint64(len(data)), uint64(nhB)<<8|uint64(padB)))
		q, s := randMixed(rng, nh*d), randMixed(rng, nh*n)
		out, acc := randMixed(rng, nh*n), randMixed(rng, nh*d)
		wantOut, wantAcc := attnF16Want(q, nh, d, kv, stride, 0.125, out, n, acc, s, n, n)
		forEachLevel(t, func(t *testing.T) {
			gotOut, gotAcc := append([]float32(nil), out...), append([]float32(nil), acc...)
			AttnScoresHeadsF16(q, nh, d, kv, stride, 0.125, gotOut, n, n, nil)
			sameBits(t, "scores", gotOut, wantOut)
			AttnAccumHeadsF16(gotAcc, nh, d, s, n, n, kv, stride)
			sameBits(t, "accum", gotAcc, wantAcc)
		})
	})
}

// BenchmarkAttnF16 reports the F16 K or V bytes each kernel streams per
// second (each row read once for all heads) for the six query heads of one
// KV head of the 4B model (head dim 128, rows two KV heads wide), at every
// level this CPU has (purego is the Go reference).
func BenchmarkAttnF16(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	const d, nh = 128, 6
	// Stride 128: one KV head's contiguous rows, as the engine's head-major
	// cache holds them; 256: rows of two heads side by side.
	for _, stride := range []int{128, 256} {
		for _, n := range []int{512, 4096} {
			rng := rand.New(rand.NewPCG(5, 5))
			kv := randF16(rng, n*stride)
			for i := range kv {
				kv[i] &^= 0x4000 // |x| < 2: no overflow over long runs
			}
			q, s, acc, out := randF32(rng, nh*d, 1), randF32(rng, nh*n, 0.01), make([]float32, nh*d), make([]float32, nh*n)
			for _, l := range levels() {
				active = l
				b.Run(fmt.Sprintf("Scores/stride=%d/n=%d/%s", stride, n, l), func(b *testing.B) {
					b.SetBytes(2 * d * int64(n))
					for b.Loop() {
						AttnScoresHeadsF16(q, nh, d, kv, stride, 0.125, out, n, n, nil)
					}
				})
				b.Run(fmt.Sprintf("Accum/stride=%d/n=%d/%s", stride, n, l), func(b *testing.B) {
					b.SetBytes(2 * d * int64(n))
					for b.Loop() {
						AttnAccumHeadsF16(acc, nh, d, s, n, n, kv, stride)
					}
				})
			}
		}
	}
}
