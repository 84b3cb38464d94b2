package kernels

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// TestGemmQ4_0x4 checks the packed kernels bit for bit against the plain-Go
// kernel on the unpacked matrix, at every level this CPU runs, for odd and
// even group counts, short and long rows, one and several activations
// (batches of 1..9 through the four-activation kernels and the rest).
func TestGemmQ4_0x4(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 9))
		cases := []struct{ rows, nb, acts, lo, hi int }{
			{4, 1, 1, 0, 4}, {8, 2, 1, 0, 8}, {12, 3, 1, 4, 12}, {20, 48, 1, 0, 20},
			{24, 24, 3, 8, 24}, {36, 128, 2, 0, 36}, {16, 200, 1, 0, 16}, {4096, 48, 1, 0, 4096},
			{8, 48, 5, 0, 8},
		}
		// Prompt batches: 1..9 activations (four at a time, the rest one by
		// one), odd group counts, long rows (one group per tile) and many tiles.
		for acts := 1; acts <= 9; acts++ {
			cases = append(cases, []struct{ rows, nb, acts, lo, hi int }{
				{12, 3, acts, 0, 12}, {28, 40, acts, 4, 24}, {12, 700, acts, 0, 12}, {1200, 48, acts, 36, 1196},
			}...)
		}
		for _, tc := range cases {
			for _, paired := range []bool{false, true} {
				n := tc.nb * qk
				rowBytes := tc.nb * q4_0Bytes
				plain := randQ4_0(r, tc.rows, n)
				packed := bytes.Clone(plain)
				if err := quant.PackQ4_0x4(packed, tc.rows, rowBytes, paired); err != nil {
					t.Fatal(err)
				}
				xs, auxs, out := make([][]byte, tc.acts), make([][]byte, tc.acts), make([][]float32, tc.acts)
				for j := range xs {
					xs[j] = randQ8_0(r, 1, n)
					auxs[j] = make([]byte, Q8_0AuxSize(n))
					Q8_0Aux(xs[j], n, auxs[j])
					out[j] = make([]float32, tc.rows)
					for i := range out[j] {
						out[j][i] = float32(math.NaN()) // rows outside [lo, hi) must stay untouched
					}
				}
				GemmQ4_0x4(packed, tc.rows, rowBytes, paired, xs, auxs, n, out, tc.lo, tc.hi)
				for j := range xs {
					want := make([]float32, tc.rows)
					gemvQ4_0Q8_0Generic(plain, rowBytes, xs[j], tc.nb, want)
					for i := range want {
						got := out[j][i]
						if i < tc.lo || i >= tc.hi {
							if !math.IsNaN(float64(got)) {
								t.Fatalf("%+v paired=%v: row %d outside the range was written", tc, paired, i)
							}
							continue
						}
						if math.Float32bits(got) != math.Float32bits(want[i]) {
							t.Fatalf("%+v paired=%v: activation %d row %d = %v, want %v (bit-identical)", tc, paired, j, i, got, want[i])
						}
					}
				}
			}
		}
	})
}

func TestGemmQ4_0x4Panics(t *testing.T) {
	n, rows := 64, 8
	rowBytes := n / qk * q4_0Bytes
	w := make([]byte, rows*rowBytes)
	x := [][]byte{make([]byte, n/qk*q8_0Bytes)}
	aux := [][]byte{make([]byte, Q8_0AuxSize(n))}
	out := [][]float32{make([]float32, rows)}
	for _, tc := range []struct {
		name   string
		lo, hi int
		n      int
		w      []byte
		aux    [][]byte
	}{
		{"unaligned lo", 2, 8, n, w, aux},
		{"unaligned hi", 0, 6, n, w, aux},
		{"too many rows", 0, 12, n, w, aux},
		{"short aux", 0, 8, n, w, [][]byte{make([]byte, 10)}},
		{"padded rows", 0, 8, n - 32, w, aux},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustPanic(t, func() { GemmQ4_0x4(tc.w, rows, rowBytes, true, x, tc.aux, tc.n, out, tc.lo, tc.hi) })
		})
	}
}

// BenchmarkGemvQ4_0x4 reports weight bytes per second of the packed kernel
// next to BenchmarkGemv's plain-layout figures.
// packedBenchMatrix is benchMatrix's Q4_0 rows×cols matrix packed as
// Q4_0x4, and its row size.
func packedBenchMatrix(b *testing.B, rows, cols int) (rowBytes int, w []byte) {
	rowBytes = cols / qk * q4_0Bytes
	w = bytes.Clone(benchMatrix(gguf.Q4_0, rows, cols))
	if err := quant.PackQ4_0x4(w, rows, rowBytes, PairsQ4_0()); err != nil {
		b.Fatal(err)
	}
	return rowBytes, w
}

func BenchmarkGemvQ4_0x4(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	for _, sh := range gemvShapes {
		for _, l := range levels() {
			if l == levelGeneric {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", sh.name, l), func(b *testing.B) {
				active = l
				n := sh.cols
				rowBytes, w := packedBenchMatrix(b, sh.rows, n)
				x := [][]byte{benchAct(gguf.Q4_0, n)}
				aux := [][]byte{make([]byte, Q8_0AuxSize(n))}
				Q8_0Aux(x[0], n, aux[0])
				out := [][]float32{make([]float32, sh.rows)}
				b.SetBytes(int64(len(w)))
				b.ReportAllocs()
				reportCPURate(b, int64(len(w)), func() { GemmQ4_0x4(w, sh.rows, rowBytes, PairsQ4_0(), x, aux, n, out, 0, sh.rows) })
			})
		}
	}
}

// TestQ8_0AuxExtremes runs Q8_0Aux on every int8 value in every position and
// scales from subnormal to infinite, against the plain-Go version.
func TestQ8_0AuxExtremes(t *testing.T) {
	const nb = 40
	x := make([]byte, nb*q8_0Bytes)
	scales := []uint16{0x0000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0x7c00, 0xfc00, 0x8000}
	for b := 0; b < nb; b++ {
		binary.LittleEndian.PutUint16(x[b*q8_0Bytes:], scales[b%len(scales)])
		for i := 0; i < qk; i++ {
			x[b*q8_0Bytes+2+i] = byte(b*qk + i*7)
		}
	}
	x[2+5], x[2+6] = 0x80, 0x80 // -128 twice in one group
	want := make([]byte, nb*Q8AuxBytes)
	q8_0AuxGeneric(x, want, nb)
	forEachLevel(t, func(t *testing.T) {
		for _, n := range []int{1, 3, nb} {
			got := make([]byte, nb*Q8AuxBytes)
			Q8_0Aux(x, n*qk, got)
			if !bytes.Equal(got[:n*Q8AuxBytes], want[:n*Q8AuxBytes]) || !bytes.Equal(got[n*Q8AuxBytes:], make([]byte, (nb-n)*Q8AuxBytes)) {
				t.Fatalf("%d blocks: got %x, want %x", n, got, want[:n*Q8AuxBytes])
			}
		}
	})
}

func BenchmarkQ8_0Aux(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	const n = 1536
	x := benchAct(gguf.Q4_0, n)
	aux := make([]byte, Q8_0AuxSize(n))
	for _, l := range levels() {
		b.Run(l.String(), func(b *testing.B) {
			active = l
			b.SetBytes(int64(len(x)))
			for b.Loop() {
				Q8_0Aux(x, n, aux)
			}
		})
	}
}

// BenchmarkGemmQ4_0x4 is a prompt batch through the packed kernel: SetBytes
// counts the weight bytes once per call (MB/s is weight GB/s ×1000), and
// Gmac/s counts activations × weights (multiply-adds per second).
func BenchmarkGemmQ4_0x4(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	for _, sh := range []struct{ rows, cols int }{{768, 1536}, {1536, 1536}} {
		for _, acts := range []int{4, 16, 64} {
			for _, l := range levels() {
				if l == levelGeneric {
					continue
				}
				b.Run(fmt.Sprintf("%dx%d/%d/%s", sh.rows, sh.cols, acts, l), func(b *testing.B) {
					active = l
					n := sh.cols
					rowBytes, w := packedBenchMatrix(b, sh.rows, n)
					xs, auxs, out := make([][]byte, acts), make([][]byte, acts), make([][]float32, acts)
					r := rand.New(rand.NewPCG(1, 2))
					for j := range xs {
						xs[j] = randQ8_0(r, 1, n)
						auxs[j] = make([]byte, Q8_0AuxSize(n))
						Q8_0Aux(xs[j], n, auxs[j])
						out[j] = make([]float32, sh.rows)
					}
					b.SetBytes(int64(len(w)))
					b.ReportAllocs()
					for b.Loop() {
						GemmQ4_0x4(w, sh.rows, rowBytes, PairsQ4_0(), xs, auxs, n, out, 0, sh.rows)
					}
					b.ReportMetric(float64(acts)*float64(sh.rows*sh.cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gmac/s")
				})
			}
		}
	}
}
