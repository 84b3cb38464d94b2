package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"smallthinker/weights/gguf"
)

// atEnd returns a size-byte slice that ends where its memory does (a
// guard page follows where the OS allows, see rows_linux_test.go), so a
// kernel reading past the last row faults instead of reading neighbours.
var atEnd = func(t testing.TB, size int) []byte {
	b := make([]byte, size)
	return b[:size:size]
}

// rowsCase builds a rows×n matrix of type typ (rows rowBytes apart, the
// last row flush with the end of its memory) and a Q8_0 activation.
func rowsCase(t testing.TB, r *rand.Rand, typ gguf.TensorType, rows, n, pad int) (w []byte, rowBytes int, x []byte) {
	rowNeed := typ.RowSize(n)
	rowBytes = rowNeed + pad
	var dense []byte
	if typ == gguf.Q4_0 {
		dense = randQ4_0(r, rows, n)
	} else {
		dense = randQ8_0(r, rows, n)
	}
	w = atEnd(t, (rows-1)*rowBytes+rowNeed)
	for i := 0; i < rows; i++ {
		copy(w[i*rowBytes:], dense[i*rowNeed:(i+1)*rowNeed])
	}
	return w, rowBytes, randQ8_0(r, 1, n)
}

// checkGemvRows runs GemvRows on list and compares every listed entry bit
// for bit with Gemv over the whole matrix; unlisted entries must stay NaN.
func checkGemvRows(t *testing.T, typ gguf.TensorType, w []byte, rowBytes int, x []byte, n, rows int, list []int32) {
	t.Helper()
	want := make([]float32, rows)
	Gemv(typ, w, rowBytes, x, n, want)
	got := make([]float32, rows)
	for i := range got {
		got[i] = float32(math.NaN())
	}
	GemvRows(typ, w, rowBytes, x, n, list, got)
	listed := make([]bool, rows)
	for _, r := range list {
		listed[r] = true
	}
	for r := range got {
		if !listed[r] {
			if !math.IsNaN(float64(got[r])) {
				t.Fatalf("rows %v: unlisted row %d was written (%g)", list, r, got[r])
			}
			continue
		}
		if math.Float32bits(got[r]) != math.Float32bits(want[r]) {
			t.Fatalf("rows %v: row %d = %g, Gemv gives %g (must be bit-identical)", list, r, got[r], want[r])
		}
	}
}

// rowLists returns lists of every length up to 13 over rows rows: random
// (unsorted, with repeats), sorted distinct subsets and lists that end
// with the matrix's last row, plus one list long enough to span several
// kernel calls.
func rowLists(r *rand.Rand, rows, rowBytes int) [][]int32 {
	var lists [][]int32
	for length := 0; length <= 13; length++ {
		random := make([]int32, length)
		for i := range random {
			random[i] = int32(r.IntN(rows))
		}
		lists = append(lists, random)
		if length <= rows {
			sub := make([]int32, 0, length)
			for _, p := range r.Perm(rows)[:length] {
				sub = append(sub, int32(p))
			}
			slices.Sort(sub)
			lists = append(lists, sub)
		}
		if length > 0 {
			last := slices.Clone(random)
			last[length-1] = int32(rows - 1)
			last[r.IntN(length)] = int32(rows - 1)
			lists = append(lists, last)
		}
	}
	long := make([]int32, 3*maxCallBytes/rowBytes+5)
	for i := range long {
		long[i] = int32(r.IntN(rows))
	}
	long[len(long)-1] = int32(rows - 1)
	return append(lists, long)
}

func TestGemvRows(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		for _, typ := range []gguf.TensorType{gguf.Q4_0, gguf.Q8_0} {
			for _, tc := range []struct{ rows, n, pad int }{
				{1, 32, 0}, {3, 64, 0}, {5, 96, 7}, {16, 160, 0}, {37, 1536, 0}, {9, 2048, 18}, {40, 2048, 0}, {23, 736, 0}, {6, 8224, 0},
			} {
				t.Run(fmt.Sprintf("%s/rows=%d/n=%d/pad=%d", typ, tc.rows, tc.n, tc.pad), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(tc.rows), uint64(tc.n)))
					w, rowBytes, x := rowsCase(t, r, typ, tc.rows, tc.n, tc.pad)
					for _, list := range rowLists(r, tc.rows, rowBytes) {
						checkGemvRows(t, typ, w, rowBytes, x, tc.n, tc.rows, list)
					}
				})
			}
		}
	})
}

// TestGemvRowsExtremes: fp16 scales at the extremes (±65504, subnormals,
// zero) on weights and activation, nibbles and activation values at their
// ends, for every list length up to 13 (1-3 rows left after the quads).
func TestGemvRowsExtremes(t *testing.T) {
	scales := []uint16{0x7bff, 0xfbff, 0x0001, 0x83ff, 0x0000, 0x3c00, 0x0400}
	forEachLevel(t, func(t *testing.T) {
		for _, typ := range []gguf.TensorType{gguf.Q4_0, gguf.Q8_0} {
			r := rand.New(rand.NewPCG(9, uint64(typ)))
			const rows, n = 11, 256
			w, rowBytes, x := rowsCase(t, r, typ, rows, n, 0)
			block := typ.RowSize(qk)
			for i := 0; i < len(w); i += block {
				binary.LittleEndian.PutUint16(w[i:], scales[r.IntN(len(scales))])
				for j := i + 2; j < i+block; j++ {
					switch r.IntN(3) {
					case 0:
						w[j] = 0x00
					case 1:
						w[j] = 0xff
					}
				}
			}
			for i := 0; i < len(x); i += q8_0Bytes {
				binary.LittleEndian.PutUint16(x[i:], scales[r.IntN(len(scales))])
				for j := i + 2; j < i+q8_0Bytes; j++ {
					x[j] = []byte{0x7f, 0x81, 0x00, byte(r.IntN(255) - 127)}[r.IntN(4)] // Q8_0 activations are in [-127, 127]
				}
			}
			for _, list := range rowLists(r, rows, rowBytes) {
				checkGemvRows(t, typ, w, rowBytes, x, n, rows, list)
			}
		}
	})
}

// TestGemvRowsOtherTypes covers the row-by-row fallback.
func TestGemvRowsOtherTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const rows, n = 9, 256
	for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.Q6_K} {
		w := benchMatrix(typ, rows, n)
		x := benchAct(typ, n)
		for _, list := range rowLists(r, rows, typ.RowSize(n))[:20] {
			checkGemvRows(t, typ, w, typ.RowSize(n), x, n, rows, list)
		}
	}
}

func FuzzGemvRows(f *testing.F) {
	f.Add(uint8(3), uint8(7), false, []byte{0, 1, 2, 6, 6, 5, 0})
	f.Add(uint8(47), uint8(13), true, []byte{12, 12, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, blocks, rows uint8, q4 bool, idx []byte) {
		n, nr := (int(blocks)%64+1)*qk, int(rows)%40+1
		typ := gguf.Q8_0
		if q4 {
			typ = gguf.Q4_0
		}
		r := rand.New(rand.NewPCG(uint64(blocks), uint64(rows)))
		w, rowBytes, x := rowsCase(t, r, typ, nr, n, 0)
		list := make([]int32, len(idx))
		for i, b := range idx {
			list[i] = int32(int(b) % nr)
		}
		forEachLevel(t, func(t *testing.T) {
			checkGemvRows(t, typ, w, rowBytes, x, n, nr, list)
		})
	})
}

func TestGemvRowsPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	w, rowBytes, x := rowsCase(t, r, gguf.Q4_0, 4, 64, 0)
	out := make([]float32, 4)
	tests := []struct {
		name string
		call func()
	}{
		{"row past the matrix", func() { GemvRows(gguf.Q4_0, w[:3*rowBytes], rowBytes, x, 64, []int32{0, 3}, out) }},
		{"negative row", func() { GemvRows(gguf.Q4_0, w, rowBytes, x, 64, []int32{1, -1}, out) }},
		{"row past out", func() { GemvRows(gguf.Q4_0, w, rowBytes, x, 64, []int32{3}, out[:3]) }},
		{"short activation", func() { GemvRows(gguf.Q4_0, w, rowBytes, x[:40], 64, []int32{0}, out) }},
		{"n not a block multiple", func() { GemvRows(gguf.Q4_0, w, rowBytes, x, 48, []int32{0}, out) }},
		{"stride shorter than a row", func() { GemvRows(gguf.Q8_0, w, rowBytes, x, 64, []int32{0}, out) }},
		{"float row past the matrix", func() { GemvRows(gguf.F32, w, 64, x, 16, []int32{2}, out) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPanic(t, tt.call)
		})
	}
}

func TestGemvRowsNoAllocations(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	w, rowBytes, x := rowsCase(t, r, gguf.Q4_0, 16, 256, 0)
	out := make([]float32, 16)
	list := []int32{0, 3, 4, 9, 10, 15, 2}
	if a := testing.AllocsPerRun(100, func() { GemvRows(gguf.Q4_0, w, rowBytes, x, 256, list, out) }); a != 0 {
		t.Fatalf("%.1f allocations per call", a)
	}
}

// BenchmarkGemvRows: a SmallThinker-4B expert's up projection (768×1536
// Q4_0) with a random half of the rows active, as ReGLU leaves it, from
// DRAM (256 matrices cycled, far more than the L3 holds). "rows" is one
// GemvRows call, "runs" one Gemv per run of consecutive rows (the engine's
// way before GemvRows), "dense" Gemv over all rows for reference. Bytes are
// the weights read (the listed rows' for rows and runs).
func BenchmarkGemvRows(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	const rows, cols, mats = 768, 1536, 256
	typ := gguf.Q4_0
	rowBytes := typ.RowSize(cols)
	one := benchMatrix(typ, rows, cols)
	ws := make([][]byte, mats)
	for i := range ws {
		ws[i] = slices.Clone(one)
	}
	x := benchAct(typ, cols)
	r := rand.New(rand.NewPCG(8, 8))
	var list []int32
	for i := 0; i < rows; i++ {
		if r.IntN(2) == 0 {
			list = append(list, int32(i))
		}
	}
	var runs [][2]int // [lo, hi)
	for i := 0; i < len(list); {
		j := i + 1
		for j < len(list) && list[j] == list[j-1]+1 {
			j++
		}
		runs = append(runs, [2]int{int(list[i]), int(list[j-1]) + 1})
		i = j
	}
	out := make([]float32, rows)
	for _, l := range levels() {
		b.Run(fmt.Sprintf("rows/%s", l), func(b *testing.B) {
			active = l
			b.SetBytes(int64(len(list) * rowBytes))
			i := 0
			for b.Loop() {
				GemvRows(typ, ws[i%mats], rowBytes, x, cols, list, out)
				i++
			}
		})
		b.Run(fmt.Sprintf("rows-cached/%s", l), func(b *testing.B) {
			active = l
			b.SetBytes(int64(len(list) * rowBytes))
			for b.Loop() {
				GemvRows(typ, one, rowBytes, x, cols, list, out)
			}
		})
		b.Run(fmt.Sprintf("runs/%s", l), func(b *testing.B) {
			active = l
			b.SetBytes(int64(len(list) * rowBytes))
			i := 0
			for b.Loop() {
				w := ws[i%mats]
				for _, run := range runs {
					Gemv(typ, w[run[0]*rowBytes:], rowBytes, x, cols, out[run[0]:run[1]])
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("dense/%s", l), func(b *testing.B) {
			active = l
			b.SetBytes(int64(rows * rowBytes))
			i := 0
			for b.Loop() {
				Gemv(typ, ws[i%mats], rowBytes, x, cols, out)
				i++
			}
		})
	}
}
