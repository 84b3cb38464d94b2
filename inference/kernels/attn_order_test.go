package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randF32(rng *rand.Rand, n int, sd float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * sd)
	}
	return x
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

// AttnReduce (assembly where available) against the plain-Go reduction, which
// spells out ggml's order, and the plain-Go scores, which the heads test
// compares the assembly against, against DotF32GGML.
func TestAttnReduceAndScoresGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{8, 24, 32, 40, 64, 96, 128, 256} {
		for _, n := range []int{1, 2, 3, 7, 31, 32, 33, 100, 1500} {
			stride := d + 8*rng.IntN(3)
			q := randF32(rng, d, 1)
			k := randF32(rng, (n-1)*stride+d, 1)
			name := fmt.Sprintf("d=%d/n=%d", d, n)

			want := make([]float32, n)
			attnScoresGo(q, k, stride, 0.125, want)
			for i := range want {
				dot, ok := DotF32GGML(k[i*stride:i*stride+d], q)
				if ok && math.Float32bits(dot*0.125) != math.Float32bits(want[i]) {
					t.Fatalf("%s: score %d = %g, DotF32GGML gives %g", name, i, want[i], dot*0.125)
				}
			}

			s := randF32(rng, n, 0.3)
			for _, lanes := range []int{8, 32} {
				lane0 := rng.IntN(lanes)
				acc := randF32(rng, lanes*d, 1)
				attnAccumGo(acc, d, lanes, lane0, s, k, stride)
				out, outGo := make([]float32, d), make([]float32, d)
				AttnReduce(out, acc, lanes)
				attnReduceGo(outGo, acc, lanes)
				sameBits(t, fmt.Sprintf("%s/lanes=%d/reduce", name, lanes), out, outGo)
			}
		}
	}
}

// The Go reductions are the documented trees, checked here one element at a time.
func TestAttnReduceGoOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	acc := randF32(rng, 32, 1e3)
	var a [32]float32
	copy(a[:], acc)
	out := make([]float32, 1)
	attnReduceGo(out, acc, 32)
	var v [8]float32
	for l := range v {
		v[l] = (a[l] + a[16+l]) + (a[8+l] + a[24+l])
	}
	want := ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
	if out[0] != want {
		t.Fatalf("reduce32 = %g, want %g", out[0], want)
	}
	attnReduceGo(out, acc[:8], 8)
	want = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
	if out[0] != want {
		t.Fatalf("hsum8 = %g, want %g", out[0], want)
	}
}

// The multi-head kernels against the plain-Go single-head versions, head by
// head: several head counts (the 4B model's group is 6, the 21B's 7), head
// sizes, runs, strides and starting lanes.
func TestAttnHeadsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, nh := range []int{1, 2, 3, 6, 7, 8} {
		for _, d := range []int{8, 32, 40, 64, 96, 128} {
			for _, n := range []int{1, 2, 3, 7, 32, 33, 100, 257} {
				stride := d + 8*rng.IntN(3)
				q := randF32(rng, nh*d, 1)
				k := randF32(rng, (n-1)*stride+d, 1)
				name := fmt.Sprintf("nh=%d/d=%d/n=%d", nh, d, n)

				outStride := n + rng.IntN(5)
				got, want := randF32(rng, nh*outStride, 1), make([]float32, nh*outStride)
				copy(want, got) // the gaps between heads' scores stay untouched
				AttnScoresHeads(q, nh, d, k, stride, 0.125, got, outStride, n)
				for h := 0; h < nh; h++ {
					attnScoresGo(q[h*d:(h+1)*d], k, stride, 0.125, want[h*outStride:h*outStride+n])
				}
				sameBits(t, name+"/scores", got, want)

				sStride := n + rng.IntN(5)
				s := randF32(rng, nh*sStride, 0.3)
				for _, lanes := range []int{8, 32} {
					lane0 := rng.IntN(lanes)
					init := randF32(rng, nh*lanes*d+7, 1)
					acc, accGo := append([]float32(nil), init...), append([]float32(nil), init...)
					AttnAccumHeads(acc, nh, d, lanes, lane0, s, sStride, n, k, stride)
					for h := 0; h < nh; h++ {
						attnAccumGo(accGo[h*lanes*d:(h+1)*lanes*d], d, lanes, lane0, s[h*sStride:h*sStride+n], k, stride)
					}
					sameBits(t, fmt.Sprintf("%s/lanes=%d/lane0=%d/accum", name, lanes, lane0), acc, accGo)
				}
			}
		}
	}
}

// BenchmarkAttn reports the K or V cache bytes each kernel streams per second
// for the six query heads of one KV head of the 4B model (head dim 128, rows
// two KV heads wide) over 512 positions, at every level this CPU has; the
// bytes count every head's pass, as if each head read the rows itself.
func BenchmarkAttn(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	const d, stride, n = 128, 256, 512
	rng := rand.New(rand.NewPCG(5, 5))
	kv := randF32(rng, n*stride, 1)
	acc, out := randF32(rng, 32*d, 1), make([]float32, d)
	qH, sH, accH := randF32(rng, 6*d, 1), randF32(rng, 6*n, 0.1), make([]float32, 6*32*d)
	for _, l := range levels() {
		active = l
		for _, lanes := range []int{8, 32} {
			b.Run(fmt.Sprintf("AccumHeads=6/lanes=%d/%s", lanes, l), func(b *testing.B) {
				b.SetBytes(6 * 4 * d * n)
				for b.Loop() {
					// In runs of eight rows per lane, as the inference package calls it.
					for p := 0; p < n; p += 8 * lanes {
						m := min(8*lanes, n-p)
						AttnAccumHeads(accH[:6*lanes*d], 6, d, lanes, p%lanes, sH[p:], n, m, kv[p*stride:], stride)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("ScoresHeads=6/%s", l), func(b *testing.B) {
			b.SetBytes(6 * 4 * d * n)
			for b.Loop() {
				AttnScoresHeads(qH, 6, d, kv, stride, 0.125, sH, n, n)
			}
		})
		for _, lanes := range []int{8, 32} {
			b.Run(fmt.Sprintf("Reduce/lanes=%d/%s", lanes, l), func(b *testing.B) {
				b.SetBytes(int64(4 * lanes * d))
				for b.Loop() {
					AttnReduce(out, acc[:lanes*d], lanes)
				}
			})
		}
	}
}
