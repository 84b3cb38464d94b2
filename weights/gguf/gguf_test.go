package gguf

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testdataDir = "../../../shared/testdata"

func testModels(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testdataDir, "models", "*.gguf"))
	if len(files) == 0 {
		t.Skip("../shared/testdata is absent: no reference GGUF files to test against")
	}
	return files
}

// rewrite parses a file and writes it back with our writer.
func rewrite(t *testing.T, f *File) []byte {
	t.Helper()
	var wt []WriteTensor
	for i := range f.Tensors {
		ti := f.Tensors[i]
		off, n := f.Range(&ti)
		wt = append(wt, WriteTensor{Info: TensorInfo{Name: ti.Name, Dims: ti.Dims, Type: ti.Type},
			Write: func(w io.Writer) error {
				_, err := io.Copy(w, io.NewSectionReader(f.ReaderAt(), off, n))
				return err
			}})
	}
	var buf bytes.Buffer
	if err := WriteVersion(&buf, f.Version, f.KVs, wt); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripTestdata(t *testing.T) {
	for _, path := range testModels(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if arch, err := f.String("general.architecture"); err != nil || arch != "smallthinker" {
				t.Fatalf("architecture %q, %v", arch, err)
			}
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := rewrite(t, f)
			if !bytes.Equal(orig, got) {
				n := 0
				for n < len(orig) && n < len(got) && orig[n] == got[n] {
					n++
				}
				t.Fatalf("rewritten file differs at byte %d (orig %d bytes, ours %d)", n, len(orig), len(got))
			}
		})
	}
}

func TestTypedAccessors(t *testing.T) {
	var buf bytes.Buffer
	kvs := []KV{
		{"general.architecture", String("smallthinker")},
		{"smallthinker.block_count", Uint32(3)},
		{"smallthinker.rope.freq_base", Float32(1.5e6)},
		{"tokenizer.ggml.tokens", Strings([]string{"a", "b"})},
		{"tokenizer.ggml.token_type", Int32s([]int32{1, 3})},
		{"nested", Value{TypeArray, Array{TypeArray, []any{Array{TypeUint8, []any{uint8(1), uint8(2)}}, Array{TypeString, []any{"x"}}}}}},
		{"flag", BoolValue(true)},
		{"neg", Int32(-5)},
	}
	if err := Write(&buf, kvs, []WriteTensor{BytesTensor("w", F32, []uint64{2, 2}, make([]byte, 16))}); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Uint32("smallthinker.block_count"); err != nil || n != 3 {
		t.Errorf("block_count = %d, %v", n, err)
	}
	if x, err := f.Float32("smallthinker.rope.freq_base"); err != nil || x != 1.5e6 {
		t.Errorf("freq_base = %v, %v", x, err)
	}
	if s, err := f.Strings("tokenizer.ggml.tokens"); err != nil || strings.Join(s, ",") != "a,b" {
		t.Errorf("tokens = %v, %v", s, err)
	}
	if s, err := f.Ints("tokenizer.ggml.token_type"); err != nil || len(s) != 2 || s[1] != 3 {
		t.Errorf("token_type = %v, %v", s, err)
	}
	if b, err := f.Bool("flag"); err != nil || !b {
		t.Errorf("flag = %v, %v", b, err)
	}
	v, _ := f.Get("nested")
	if a := v.V.(Array); len(a.Values) != 2 || a.Values[1].(Array).Values[0] != "x" {
		t.Errorf("nested = %#v", v)
	}
	_, err = f.Uint32("smallthinker.missing")
	if err == nil || !strings.Contains(err.Error(), "smallthinker.missing") || !errors.Is(err, ErrMissing) {
		t.Errorf("missing key error = %v", err)
	}
	_, err = f.Uint32("general.architecture")
	if err == nil || !strings.Contains(err.Error(), "general.architecture") || errors.Is(err, ErrMissing) {
		t.Errorf("wrong-type error = %v", err)
	}
	if _, err := f.Uint32("neg"); err == nil {
		t.Errorf("negative int32 read as uint32 without error")
	}
	ti, ok := f.Tensor("w")
	if !ok || ti.Bytes() != 16 {
		t.Fatalf("tensor w: %v %v", ti, ok)
	}
	if d, err := f.TensorData(ti); err != nil || len(d) != 16 {
		t.Errorf("TensorData: %d bytes, %v", len(d), err)
	}
}

// valid returns a small valid GGUF file for corruption tests.
func valid(t testing.TB) []byte {
	var buf bytes.Buffer
	kvs := []KV{{"general.architecture", String("smallthinker")}, {"k", Uint32(7)}}
	err := Write(&buf, kvs, []WriteTensor{
		BytesTensor("a", F32, []uint64{4}, make([]byte, 16)),
		BytesTensor("b", Q8_0, []uint64{32, 2}, make([]byte, 68)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBadInput(t *testing.T) {
	good := valid(t)
	le64 := func(b []byte, off int, v uint64) []byte {
		c := append([]byte(nil), b...)
		for i := 0; i < 8; i++ {
			c[off+i] = byte(v >> (8 * i))
		}
		return c
	}
	// Offsets into the header: magic 0, version 4, n_tensors 8, n_kv 16, first key len 24.
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"wrong magic", append([]byte("GGML"), good[4:]...), "magic"},
		{"version 1", append(append([]byte(nil), good[:4]...), append([]byte{1, 0, 0, 0}, good[8:]...)...), "version 1"},
		{"absurd tensor count", le64(good, 8, 1<<40), "tensor count"},
		{"absurd kv count", le64(good, 16, 1<<40), "metadata count"},
		{"absurd string length", le64(good, 24, 1<<62), "string length"},
		{"truncated header", good[:40], "truncated"},
		{"truncated data", good[:len(good)-40], "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestBadTensorInfos(t *testing.T) {
	mk := func(mut func(ts []WriteTensor)) []byte {
		ts := []WriteTensor{
			BytesTensor("a", F32, []uint64{8}, make([]byte, 32)),
			BytesTensor("b", F32, []uint64{8}, make([]byte, 32)),
		}
		mut(ts)
		var buf bytes.Buffer
		if err := Write(&buf, nil, ts); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	patch := func(b []byte, old, new []byte) []byte {
		i := bytes.LastIndex(b, old)
		if i < 0 {
			t.Fatal("pattern not found")
		}
		c := append([]byte(nil), b...)
		copy(c[i:], new)
		return c
	}
	base := mk(func([]WriteTensor) {})
	// tensor "b": name(8+1) ndims(4) ne(8) type(4) offset(8): its offset field is 8 bytes after its type.
	infoB := bytes.LastIndex(base, []byte{1, 0, 0, 0, 0, 0, 0, 0, 'b'})
	offB := infoB + 9 + 4 + 8 + 4
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"unknown type", patch(base, []byte{'b', 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{'b', 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0}), "unknown tensor type 99"},
		{"misaligned", func() []byte { c := append([]byte(nil), base...); c[offB] = 33; return c }(), "not aligned"},
		{"overlapping", func() []byte { c := append([]byte(nil), base...); c[offB] = 0; return c }(), "overlaps"},
		{"too many dims", patch(base, []byte{'b', 1, 0, 0, 0}, []byte{'b', 9, 0, 0, 0}), "dimensions"},
		{"duplicate", mk(func(ts []WriteTensor) { ts[1].Info.Name = "a" }), "duplicate tensor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(valid(f))
	files, _ := filepath.Glob(filepath.Join(testdataDir, "models", "tiny-*q4_0.gguf"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil && len(b) < 1<<20 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for i := range g.Tensors {
			off, n := g.Range(&g.Tensors[i])
			if off < 0 || off+n > int64(len(data)) {
				t.Fatalf("tensor %q range [%d,+%d) outside %d-byte file", g.Tensors[i].Name, off, n, len(data))
			}
		}
	})
}

// The mapping is copy-on-write: writes never reach the file, and
// DropPrivate reverts a tensor's whole pages to the file's bytes.
func TestMappingIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.gguf")
	raw := make([]byte, 3*os.Getpagesize()*4)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := Write(&buf, nil, []WriteTensor{BytesTensor("t", F32, []uint64{uint64(len(raw) / 4)}, raw)}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ti, _ := f.Tensor("t")
	b, err := f.TensorData(ti)
	if err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(b)
	for i := range b {
		b[i] = 0xAA
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("writing to the mapping changed the file")
	}
	if err := f.DropPrivate(ti); err != nil {
		t.Fatal(err)
	}
	page := os.Getpagesize()
	off, n := f.Range(ti)
	lo := int((off+int64(page)-1)/int64(page)*int64(page) - off)
	hi := int((off+n)/int64(page)*int64(page) - off)
	if !bytes.Equal(b[lo:hi], orig[lo:hi]) {
		t.Fatal("DropPrivate did not restore the file's bytes")
	}
	if lo > 0 && b[lo-1] != 0xAA {
		t.Fatal("DropPrivate dropped a page the tensor shares")
	}
	// DropPages does the same for any part of the mapping, and ignores
	// memory outside it.
	for i := range b {
		b[i] = 0xBB
	}
	part := b[100 : len(b)-100]
	if err := f.DropPages(part); err != nil {
		t.Fatal(err)
	}
	if err := f.DropPages(make([]byte, 3*page)); err != nil {
		t.Fatal(err)
	}
	base := int(off) // b[i] is at file offset off+i
	first := (base+100+page-1)/page*page - base
	last := (base+len(b)-100)/page*page - base
	if !bytes.Equal(b[first:last], orig[first:last]) {
		t.Fatal("DropPages did not restore the file's bytes")
	}
	if b[first-1] != 0xBB || b[last] != 0xBB {
		t.Fatal("DropPages dropped a page only partly inside its range")
	}
}
