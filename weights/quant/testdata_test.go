package quant

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"smallthinker/weights/gguf"
)

// The kq-* files hold one set of random weights quantized by llama.cpp's own
// quantizer into each type (K-quant mixes as llama-quantize makes them), and
// kq-bf16 the same weights in BF16. Decoding a quantized tensor and comparing
// it with the BF16 copy checks our block layouts against llama.cpp's, which a
// quantize→dequantize round trip alone cannot (a layout bug made the same way
// in both directions round-trips fine).

const kqModels = "../../../shared/testdata/models"

func openKQ(t *testing.T, name string) *gguf.File {
	t.Helper()
	path := filepath.Join(kqModels, name+".gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared test data absent (%s): %v", path, err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// decodeTensor dequantizes a whole tensor, row by row.
func decodeTensor(t *testing.T, f *gguf.File, ti *gguf.TensorInfo) []float32 {
	t.Helper()
	return decodeRows(t, f, ti, int(ti.Elements()/ti.Dim(0)))
}

// decodeRows dequantizes the first rows rows of a tensor.
func decodeRows(t *testing.T, f *gguf.File, ti *gguf.TensorInfo, rows int) []float32 {
	t.Helper()
	data, err := f.TensorData(ti)
	if err != nil {
		t.Fatal(err)
	}
	rowLen := int(ti.Dim(0))
	rowBytes := ti.Type.RowSize(rowLen)
	out := make([]float32, rows*rowLen)
	for r := 0; r < rows; r++ {
		if err := DequantizeRow(ti.Type, data[r*rowBytes:(r+1)*rowBytes], out[r*rowLen:(r+1)*rowLen]); err != nil {
			t.Fatalf("%s row %d: %v", ti.Name, r, err)
		}
	}
	return out
}

// relRMS is the RMS of (got-want) over the RMS of want.
func relRMS(got, want []float32) float64 {
	var e, w float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		e += d * d
		w += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(e / w)
}

// maxRelRMS bounds each type's error relative to the weights' RMS on these
// Gaussian-like weights. Measured values (see the test log) sit at roughly
// half of each bound; a wrong scale, min or high-bit unpacking of even one
// sub-block in 16 pushes a type well past its bound.
var maxRelRMS = map[gguf.TensorType]float64{
	gguf.Q8_0: 0.008,
	gguf.Q6_K: 0.02,
	gguf.Q5_K: 0.045,
	gguf.Q5_0: 0.06,
	gguf.Q4_K: 0.09,
	gguf.Q4_1: 0.11,
	gguf.Q3_K: 0.2,
	gguf.Q2_K: 0.38,
}

func TestKQFilesMatchBF16(t *testing.T) {
	ref := openKQ(t, "kq-bf16")
	refData := map[string][]float32{} // each BF16 tensor decoded once, not once per file
	worst := map[gguf.TensorType]float64{}
	for _, name := range kqFiles {
		t.Run(name, func(t *testing.T) {
			f := openKQ(t, name)
			for i := range f.Tensors {
				ti := &f.Tensors[i]
				if ti.Type == gguf.F32 {
					continue
				}
				ri, ok := ref.Tensor(ti.Name)
				if !ok || ri.Type != gguf.BF16 || ri.Elements() != ti.Elements() {
					t.Fatalf("%s: no matching BF16 tensor in kq-bf16", ti.Name)
				}
				rows := int(ti.Elements() / ti.Dim(0))
				if raceEnabled { // the first 64 rows are plenty to catch a layout bug
					rows = min(rows, 64)
				}
				want, ok := refData[ti.Name]
				if !ok {
					want = decodeRows(t, ref, ri, rows)
					refData[ti.Name] = want
				}
				got := decodeRows(t, f, ti, rows)
				e := relRMS(got, want)
				bound, ok := maxRelRMS[ti.Type]
				if !ok {
					t.Fatalf("%s: no error bound for %s", ti.Name, ti.Type)
				}
				if e > bound || math.IsNaN(e) {
					t.Errorf("%s %s: relative RMS error %.4f > %.4f", ti.Name, ti.Type, e, bound)
				}
				worst[ti.Type] = max(worst[ti.Type], e)
			}
		})
	}
	var types []gguf.TensorType
	for ty := range worst {
		types = append(types, ty)
	}
	sort.Slice(types, func(i, j int) bool { return maxRelRMS[types[i]] < maxRelRMS[types[j]] })
	for _, ty := range types {
		t.Logf("%-5s worst tensor relative RMS error vs BF16: %.4f (bound %.3f)", ty, worst[ty], maxRelRMS[ty])
	}
}

// kqFiles are the quantized test files, each paired with kq-bf16.
var kqFiles = []string{"kq-q8_0", "kq-q6_k", "kq-q5_k_m", "kq-q5_0", "kq-q4_k_m", "kq-q4_1", "kq-q3_k_m", "kq-q2_k"}

// The files were quantized from F32 weights that kq-bf16 holds rounded to
// BF16, so requantizing the BF16 copy cannot reproduce them bit for bit; the
// rounding moves about one byte in ten across a quantization boundary (Q8_0,
// whose quantizer is a one-liner, shows the same rate). A layout or
// algorithm difference would change most bytes, and a weaker search in
// make_qkx2_quants / make_qx_quants would show as a larger error.
func TestQuantizersReproduceLlamaCpp(t *testing.T) {
	ref := openKQ(t, "kq-bf16")
	const sampleRows = 48
	type stat struct{ diff, total int }
	seen := map[gguf.TensorType]*stat{}
	for _, name := range kqFiles {
		f := openKQ(t, name)
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			if ti.Type == gguf.F32 {
				continue
			}
			ri, _ := ref.Tensor(ti.Name)
			rowLen := int(ti.Dim(0))
			rows := min(sampleRows, int(ti.Elements())/rowLen)
			rowBytes := ti.Type.RowSize(rowLen)
			want, err := f.TensorData(ti)
			if err != nil {
				t.Fatal(err)
			}
			src := decodeRows(t, ref, ri, rows)
			want = want[:rows*rowBytes]
			got := make([]byte, len(want))
			for r := 0; r < rows; r++ {
				if err := QuantizeRow(ti.Type, src[r*rowLen:(r+1)*rowLen], got[r*rowBytes:(r+1)*rowBytes]); err != nil {
					t.Fatal(err)
				}
			}
			diff := 0
			for k := range got {
				if got[k] != want[k] {
					diff++
				}
			}
			if frac := float64(diff) / float64(len(want)); frac > 0.15 {
				t.Errorf("%s %s (%s): %.1f%% of bytes differ from llama.cpp's", name, ti.Name, ti.Type, 100*frac)
			}
			// Our quantization must be as accurate as llama.cpp's (same algorithm).
			ours, theirs := make([]float32, len(src)), make([]float32, len(src))
			DequantizeRow(ti.Type, got, ours)
			DequantizeRow(ti.Type, want, theirs)
			if eo, et := relRMS(ours, src), relRMS(theirs, src); eo > et*1.03+1e-4 {
				t.Errorf("%s %s (%s): our quantization error %.5f exceeds llama.cpp's %.5f", name, ti.Name, ti.Type, eo, et)
			}
			st := seen[ti.Type]
			if st == nil {
				st = &stat{}
				seen[ti.Type] = st
			}
			st.diff += diff
			st.total += len(want)
		}
	}
	for ty, st := range seen {
		t.Logf("%-5s requantized from BF16: %.1f%% of bytes differ from llama.cpp's file", ty, 100*float64(st.diff)/float64(st.total))
	}
}

// Corrupting what a decoder could plausibly get wrong (scale bit packing,
// high bits, mins) must push the error past the bound, or the bounds above
// would not catch such a bug.
func TestKQBoundsCatchLayoutBugs(t *testing.T) {
	ref := openKQ(t, "kq-bf16")
	type mutation struct {
		file, tensor string
		typ          gguf.TensorType
		what         string
		mutate       func(block []byte)
	}
	muts := []mutation{
		{"kq-q4_k_m", "blk.0.ffn_up_exps.weight", gguf.Q4_K, "6-bit scales read as 4-bit", func(b []byte) {
			for j := 4; j < 12; j++ {
				b[j] &= 0x3f // drop the high bits of scales/mins 4..7
			}
		}},
		{"kq-q4_k_m", "blk.0.ffn_up_exps.weight", gguf.Q4_K, "scales and mins swapped", func(b []byte) {
			for j := 4; j < 8; j++ {
				b[j], b[j+4] = b[j+4], b[j]
			}
		}},
		{"kq-q5_k_m", "blk.0.ffn_up_exps.weight", gguf.Q5_K, "5th bits ignored", func(b []byte) { clear(b[16:48]) }},
		{"kq-q6_k", "blk.0.ffn_up_exps.weight", gguf.Q6_K, "sub-block scales in wrong order", func(b []byte) {
			sc := b[192:208]
			for j := 0; j < 8; j++ {
				sc[j], sc[15-j] = sc[15-j], sc[j]
			}
		}},
		{"kq-q6_k", "blk.0.ffn_up_exps.weight", gguf.Q6_K, "high 2 bits ignored", func(b []byte) { clear(b[128:192]) }},
		{"kq-q3_k_m", "blk.0.ffn_up_exps.weight", gguf.Q3_K, "scale high bits ignored", func(b []byte) { clear(b[104:108]) }},
		{"kq-q3_k_m", "blk.0.ffn_up_exps.weight", gguf.Q3_K, "hmask inverted", func(b []byte) {
			for j := 0; j < 32; j++ {
				b[j] = ^b[j]
			}
		}},
		{"kq-q2_k", "blk.0.ffn_up_exps.weight", gguf.Q2_K, "scale and min nibbles swapped", func(b []byte) {
			for j := 0; j < 16; j++ {
				b[j] = b[j]<<4 | b[j]>>4
			}
		}},
		{"kq-q5_0", "blk.0.ffn_up_exps.weight", gguf.Q5_0, "5th bits ignored", func(b []byte) { clear(b[2:6]) }},
		{"kq-q4_1", "blk.0.ffn_up_exps.weight", gguf.Q4_1, "min ignored", func(b []byte) { clear(b[2:4]) }},
	}
	for _, m := range muts {
		f := openKQ(t, m.file)
		ti, ok := f.Tensor(m.tensor)
		if !ok || ti.Type != m.typ {
			t.Fatalf("%s: %s is not %s", m.file, m.tensor, m.typ)
		}
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), data...)
		for b := 0; b+m.typ.TypeSize() <= len(bad); b += m.typ.TypeSize() {
			m.mutate(bad[b : b+m.typ.TypeSize()])
		}
		got := make([]float32, ti.Elements())
		if err := DequantizeRow(m.typ, bad, got); err != nil {
			t.Fatal(err)
		}
		ri, _ := ref.Tensor(m.tensor)
		e := relRMS(got, decodeTensor(t, ref, ri))
		if e <= maxRelRMS[m.typ] {
			t.Errorf("%s with %s: error %.4f stays within the bound %.4f", m.typ, m.what, e, maxRelRMS[m.typ])
		} else {
			t.Logf("%s with %s: error %.3f (bound %.3f)", m.typ, m.what, e, maxRelRMS[m.typ])
		}
	}
}
