package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"unsafe"
)

// maxNesting bounds nested arrays so a hostile file cannot exhaust the stack.
const maxNesting = 8

// TensorInfo describes one tensor: its name, shape (ne, fastest dimension
// first), element type and the offset of its data relative to the data section.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   TensorType
	Offset uint64
}

// Elements is the product of the dimensions.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Bytes is the size of the tensor's data.
func (t *TensorInfo) Bytes() uint64 {
	return t.Elements() / uint64(t.Type.BlockSize()) * uint64(t.Type.TypeSize())
}

// Dim returns ne[i], or 1 beyond the stored dimensions (ggml convention).
func (t *TensorInfo) Dim(i int) uint64 {
	if i < len(t.Dims) {
		return t.Dims[i]
	}
	return 1
}

// File is a parsed GGUF file: metadata, tensor infos and where the data lies.
type File struct {
	Version    uint32
	KVs        []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset int64 // absolute file offset of the tensor data section
	Size       int64 // file size

	kvIndex     map[string]int
	tensorIndex map[string]int

	r       io.ReaderAt
	closer  io.Closer
	path    string
	mapping []byte
	mmapped bool // mapping came from mmap (else a heap copy)
}

// FormatError reports a malformed file with the byte offset where it was found.
type FormatError struct {
	Path   string
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	p := e.Path
	if p == "" {
		p = "gguf"
	}
	return fmt.Sprintf("%s: invalid GGUF at byte %d: %s", p, e.Offset, e.Msg)
}

// Open parses the GGUF header of the file at path and keeps the file open for
// positioned reads of tensor data. Close releases it.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if st.IsDir() {
		fh.Close()
		return nil, fmt.Errorf("%s: is a directory, not a GGUF file", path)
	}
	f, err := parse(fh, st.Size(), path)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Parse reads a GGUF header from r, which holds size bytes.
func Parse(r io.ReaderAt, size int64) (*File, error) { return parse(r, size, "") }

// Close unmaps and closes the underlying file (if Open created it).
func (f *File) Close() error {
	var err error
	if f.mapping != nil && f.mmapped {
		err = unmap(f.mapping)
	}
	f.mapping = nil
	if f.closer != nil {
		if e := f.closer.Close(); err == nil {
			err = e
		}
		f.closer = nil
	}
	return err
}

// Path is the file path given to Open ("" for Parse).
func (f *File) Path() string { return f.path }

// ReaderAt gives positioned access to the whole file.
func (f *File) ReaderAt() io.ReaderAt { return f.r }

type parser struct {
	br   *bufio.Reader
	pos  int64
	size int64
	path string
	buf  [8]byte
}

func (p *parser) errf(format string, args ...any) error {
	return &FormatError{Path: p.path, Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) remaining() int64 { return p.size - p.pos }

func (p *parser) read(n int) ([]byte, error) {
	if int64(n) > p.remaining() {
		return nil, p.errf("file truncated: need %d bytes, %d left", n, p.remaining())
	}
	b := p.buf[:n]
	if _, err := io.ReadFull(p.br, b); err != nil {
		return nil, p.errf("read error: %v", err)
	}
	p.pos += int64(n)
	return b, nil
}

func (p *parser) u8() (uint8, error) {
	b, err := p.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}
func (p *parser) u16() (uint16, error) {
	b, err := p.read(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}
func (p *parser) u32() (uint32, error) {
	b, err := p.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}
func (p *parser) u64() (uint64, error) {
	b, err := p.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (p *parser) str(what string) (string, error) {
	n, err := p.u64()
	if err != nil {
		return "", err
	}
	if n > uint64(p.remaining()) {
		return "", p.errf("%s: string length %d exceeds the %d bytes left in the file", what, n, p.remaining())
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(p.br, b); err != nil {
		return "", p.errf("read error: %v", err)
	}
	p.pos += int64(n)
	return string(b), nil
}

func (p *parser) scalar(t ValueType) (any, error) {
	switch t {
	case TypeUint8:
		return p.u8()
	case TypeInt8:
		v, err := p.u8()
		return int8(v), err
	case TypeUint16:
		return p.u16()
	case TypeInt16:
		v, err := p.u16()
		return int16(v), err
	case TypeUint32:
		return p.u32()
	case TypeInt32:
		v, err := p.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := p.u32()
		return math.Float32frombits(v), err
	case TypeBool:
		v, err := p.u8()
		if err == nil && v > 1 {
			return nil, p.errf("bool value %d is neither 0 nor 1", v)
		}
		return v == 1, err
	case TypeUint64:
		return p.u64()
	case TypeInt64:
		v, err := p.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := p.u64()
		return math.Float64frombits(v), err
	}
	return nil, p.errf("unknown value type %d", uint32(t))
}

func (p *parser) value(t ValueType, key string, depth int) (any, error) {
	switch t {
	case TypeString:
		return p.str(key)
	case TypeArray:
		if depth >= maxNesting {
			return nil, p.errf("key %q: arrays nested deeper than %d", key, maxNesting)
		}
		et, err := p.u32()
		if err != nil {
			return nil, err
		}
		elem := ValueType(et)
		if elem > TypeFloat64 {
			return nil, p.errf("key %q: unknown array element type %d", key, et)
		}
		n, err := p.u64()
		if err != nil {
			return nil, err
		}
		// Every element takes at least minSize bytes, so the count is bounded by what is left.
		minSize := int64(elem.fixedSize())
		if elem == TypeString || elem == TypeArray {
			minSize = 8
			if elem == TypeArray {
				minSize = 12
			}
		}
		if n > uint64(p.remaining()/minSize) {
			return nil, p.errf("key %q: array of %d %s elements cannot fit in the %d bytes left", key, n, elem, p.remaining())
		}
		vals := make([]any, n)
		for i := range vals {
			if vals[i], err = p.value(elem, key, depth+1); err != nil {
				return nil, err
			}
		}
		return Array{Elem: elem, Values: vals}, nil
	}
	return p.scalar(t)
}

func parse(r io.ReaderAt, size int64, path string) (*File, error) {
	p := &parser{br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16), size: size, path: path}
	magic, err := p.u32()
	if err != nil {
		return nil, p.errf("not a GGUF file: too short (%d bytes)", size)
	}
	if magic != Magic {
		return nil, &FormatError{path, 0, fmt.Sprintf("not a GGUF file: magic %#08x, want %#08x (\"GGUF\")", magic, Magic)}
	}
	f := &File{Size: size, r: r, path: path, kvIndex: map[string]int{}, tensorIndex: map[string]int{}}
	if f.Version, err = p.u32(); err != nil {
		return nil, err
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, &FormatError{path, 4, fmt.Sprintf("unsupported GGUF version %d (supported: 2, 3)", f.Version)}
	}
	nTensors, err := p.u64()
	if err != nil {
		return nil, err
	}
	nKV, err := p.u64()
	if err != nil {
		return nil, err
	}
	// A KV takes at least 8 (key len) + 4 (type) + 1 bytes; a tensor info 8+4+8+4+8.
	if nKV > uint64(p.remaining()/13) {
		return nil, p.errf("metadata count %d cannot fit in a %d-byte file (truncated or corrupt)", nKV, size)
	}
	if nTensors > uint64(p.remaining()/32) {
		return nil, p.errf("tensor count %d cannot fit in a %d-byte file (truncated or corrupt)", nTensors, size)
	}
	f.KVs = make([]KV, 0, nKV)
	for i := uint64(0); i < nKV; i++ {
		key, err := p.str("metadata key")
		if err != nil {
			return nil, err
		}
		if _, dup := f.kvIndex[key]; dup {
			return nil, p.errf("duplicate metadata key %q", key)
		}
		t, err := p.u32()
		if err != nil {
			return nil, err
		}
		vt := ValueType(t)
		if vt > TypeFloat64 {
			return nil, p.errf("key %q: unknown value type %d", key, t)
		}
		v, err := p.value(vt, key, 0)
		if err != nil {
			return nil, err
		}
		f.kvIndex[key] = len(f.KVs)
		f.KVs = append(f.KVs, KV{key, Value{vt, v}})
	}
	f.Alignment = DefaultAlignment
	if v, ok := f.Get("general.alignment"); ok {
		a, isU32 := v.V.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, p.errf("general.alignment must be a non-zero power of two uint32, got %s %v", v.Type, v.V)
		}
		f.Alignment = uint64(a)
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		name, err := p.str("tensor name")
		if err != nil {
			return nil, err
		}
		if _, dup := f.tensorIndex[name]; dup {
			return nil, p.errf("duplicate tensor name %q", name)
		}
		nd, err := p.u32()
		if err != nil {
			return nil, err
		}
		if nd < 1 || nd > 4 {
			return nil, p.errf("tensor %q: %d dimensions (must be 1..4)", name, nd)
		}
		ti := TensorInfo{Name: name, Dims: make([]uint64, nd)}
		elems := uint64(1)
		for d := range ti.Dims {
			if ti.Dims[d], err = p.u64(); err != nil {
				return nil, err
			}
			if ti.Dims[d] != 0 && elems > math.MaxInt64/ti.Dims[d] {
				return nil, p.errf("tensor %q: element count overflows", name)
			}
			elems *= ti.Dims[d]
		}
		tt, err := p.u32()
		if err != nil {
			return nil, err
		}
		ti.Type = TensorType(tt)
		if !ti.Type.Known() {
			return nil, p.errf("tensor %q: unknown tensor type %d", name, tt)
		}
		if ti.Dims[0]%uint64(ti.Type.BlockSize()) != 0 {
			return nil, p.errf("tensor %q: first dimension %d is not a multiple of the %s block size %d", name, ti.Dims[0], ti.Type, ti.Type.BlockSize())
		}
		if ti.Offset, err = p.u64(); err != nil {
			return nil, err
		}
		if ti.Offset%f.Alignment != 0 {
			return nil, p.errf("tensor %q: data offset %d is not aligned to %d", name, ti.Offset, f.Alignment)
		}
		f.tensorIndex[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}
	f.DataOffset = int64((uint64(p.pos) + f.Alignment - 1) / f.Alignment * f.Alignment)
	if len(f.Tensors) > 0 && f.DataOffset > size {
		return nil, p.errf("file truncated: tensor data would start at %d, file has %d bytes", f.DataOffset, size)
	}
	if err := f.checkTensorRanges(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkTensorRanges verifies every tensor lies inside the file and no two overlap.
func (f *File) checkTensorRanges() error {
	avail := uint64(0)
	if f.Size > f.DataOffset {
		avail = uint64(f.Size - f.DataOffset)
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	for _, i := range order {
		t := &f.Tensors[i]
		n := t.Bytes()
		if t.Offset > avail || n > avail-t.Offset {
			return &FormatError{f.path, f.DataOffset + int64(min(t.Offset, avail)), fmt.Sprintf("file truncated: tensor %q (%s, %d bytes at data offset %d) extends past the end of the file (%d data bytes)", t.Name, t.Type, n, t.Offset, avail)}
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		prev, cur := &f.Tensors[order[k-1]], &f.Tensors[order[k]]
		if prev.Offset+prev.Bytes() > cur.Offset {
			return &FormatError{f.path, f.DataOffset + int64(cur.Offset), fmt.Sprintf("tensor %q overlaps tensor %q", cur.Name, prev.Name)}
		}
	}
	return nil
}

// Get returns the metadata value for key.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return Value{}, false
	}
	return f.KVs[i].Value, true
}

// Has reports whether key is present.
func (f *File) Has(key string) bool { _, ok := f.kvIndex[key]; return ok }

// KeyError names a missing or mistyped metadata key.
type KeyError struct {
	Key  string
	Want string
	Got  string // "" when missing
}

func (e *KeyError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("GGUF metadata key %q is missing (want %s)", e.Key, e.Want)
	}
	return fmt.Sprintf("GGUF metadata key %q has type %s, want %s", e.Key, e.Got, e.Want)
}

// ErrMissing matches KeyErrors for absent keys with errors.Is.
var ErrMissing = errors.New("missing key")

func (e *KeyError) Is(target error) bool { return target == ErrMissing && e.Got == "" }

// Uint returns an integer key as uint64 (any non-negative integer type).
func (f *File) Uint(key string) (uint64, error) {
	v, ok := f.Get(key)
	if !ok {
		return 0, &KeyError{key, "unsigned integer", ""}
	}
	u, ok := asUint64(v.V)
	if !ok {
		return 0, &KeyError{key, "unsigned integer", v.Type.String()}
	}
	return u, nil
}

// Uint32 returns an integer key that must fit in uint32.
func (f *File) Uint32(key string) (uint32, error) {
	u, err := f.Uint(key)
	if err != nil {
		return 0, err
	}
	if u > math.MaxUint32 {
		return 0, fmt.Errorf("GGUF metadata key %q: value %d does not fit in uint32", key, u)
	}
	return uint32(u), nil
}

// Float32 returns a numeric key as float32.
func (f *File) Float32(key string) (float32, error) {
	v, ok := f.Get(key)
	if !ok {
		return 0, &KeyError{key, "float32", ""}
	}
	x, ok := asFloat64(v.V)
	if !ok {
		return 0, &KeyError{key, "float32", v.Type.String()}
	}
	return float32(x), nil
}

// String returns a string key.
func (f *File) String(key string) (string, error) {
	v, ok := f.Get(key)
	if !ok {
		return "", &KeyError{key, "string", ""}
	}
	s, ok := v.V.(string)
	if !ok {
		return "", &KeyError{key, "string", v.Type.String()}
	}
	return s, nil
}

// Bool returns a bool key.
func (f *File) Bool(key string) (bool, error) {
	v, ok := f.Get(key)
	if !ok {
		return false, &KeyError{key, "bool", ""}
	}
	b, ok := v.V.(bool)
	if !ok {
		return false, &KeyError{key, "bool", v.Type.String()}
	}
	return b, nil
}

// Strings returns an array-of-strings key.
func (f *File) Strings(key string) ([]string, error) {
	v, ok := f.Get(key)
	if !ok {
		return nil, &KeyError{key, "array of strings", ""}
	}
	a, ok := v.V.(Array)
	if !ok || a.Elem != TypeString {
		return nil, &KeyError{key, "array of strings", describe(v)}
	}
	out := make([]string, len(a.Values))
	for i, x := range a.Values {
		out[i] = x.(string)
	}
	return out, nil
}

// Ints returns an array of integers as int64 values.
func (f *File) Ints(key string) ([]int64, error) {
	v, ok := f.Get(key)
	if !ok {
		return nil, &KeyError{key, "array of integers", ""}
	}
	a, ok := v.V.(Array)
	if !ok || a.Elem.fixedSize() == 0 || a.Elem == TypeFloat32 || a.Elem == TypeFloat64 || a.Elem == TypeBool {
		return nil, &KeyError{key, "array of integers", describe(v)}
	}
	out := make([]int64, len(a.Values))
	for i, x := range a.Values {
		if u, ok := asUint64(x); ok {
			out[i] = int64(u)
		} else {
			out[i] = toInt64(x)
		}
	}
	return out, nil
}

func describe(v Value) string {
	if a, ok := v.V.(Array); ok {
		return "array of " + a.Elem.String()
	}
	return v.Type.String()
}

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensorIndex[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Range returns the absolute file offset and byte length of a tensor's data.
func (f *File) Range(t *TensorInfo) (off, n int64) {
	return f.DataOffset + int64(t.Offset), int64(t.Bytes())
}

// ReadTensor reads a tensor's bytes into a new heap buffer.
func (f *File) ReadTensor(t *TensorInfo) ([]byte, error) {
	off, n := f.Range(t)
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("reading tensor %q: %w", t.Name, err)
	}
	return b, nil
}

// Map maps the whole file read-only (once) so resident weights can be used in
// place. Falls back to reading into memory where mmap is unavailable.
func (f *File) Map() ([]byte, error) {
	if f.mapping != nil {
		return f.mapping, nil
	}
	if fh, ok := f.r.(*os.File); ok {
		m, err := mmapFile(fh, f.Size)
		if err == nil {
			f.mapping, f.mmapped = m, true
			return m, nil
		}
	}
	b := make([]byte, f.Size)
	if _, err := f.r.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	f.mapping = b
	return b, nil
}

// DropPrivate gives back the memory of the whole pages of a tensor's data
// that this process changed (the mapping is copy-on-write): they read as the
// file's bytes again and no longer count against the process. Partial pages
// at the ends are kept, as other tensors may share them.
func (f *File) DropPrivate(t *TensorInfo) error {
	if !f.mmapped {
		return nil
	}
	off, n := f.Range(t)
	return f.DropPages(f.mapping[off : off+n])
}

// DropPages gives back the whole pages inside b, a part of the mapping the
// caller no longer reads (it copied them elsewhere): clean pages leave this
// process's resident set, changed ones read as the file again. Partial
// pages at the ends are kept, as other tensors may share them. b outside
// the mapping is ignored.
func (f *File) DropPages(b []byte) error {
	if !f.mmapped || len(b) == 0 || len(f.mapping) == 0 {
		return nil
	}
	base := uintptr(unsafe.Pointer(&f.mapping[0]))
	p := uintptr(unsafe.Pointer(&b[0]))
	if p < base || p+uintptr(len(b)) > base+uintptr(len(f.mapping)) {
		return nil
	}
	page := os.Getpagesize()
	off := int(p - base)
	lo := (off + page - 1) / page * page
	hi := (off + len(b)) / page * page
	if hi <= lo {
		return nil
	}
	return dropPrivate(f.mapping[lo:hi])
}

// PrefaultWrite prepares b, a part of the mapping about to be rewritten in
// place, in one system call: without it every page faults twice (once to
// read the file, once to copy it for the write), which costs more than the
// rewrite itself. Best effort; b outside the mapping is ignored.
func (f *File) PrefaultWrite(b []byte) {
	if !f.mmapped || len(b) == 0 || len(f.mapping) == 0 {
		return
	}
	base := uintptr(unsafe.Pointer(&f.mapping[0]))
	p := uintptr(unsafe.Pointer(&b[0]))
	if p < base || p+uintptr(len(b)) > base+uintptr(len(f.mapping)) {
		return
	}
	page := os.Getpagesize()
	off := int(p - base)
	lo := off / page * page
	hi := min((off+len(b)+page-1)/page*page, len(f.mapping))
	populateWrite(f.mapping[lo:hi])
}

// TensorData returns the tensor's bytes inside the mapping (Map is called if needed).
func (f *File) TensorData(t *TensorInfo) ([]byte, error) {
	m, err := f.Map()
	if err != nil {
		return nil, err
	}
	off, n := f.Range(t)
	return m[off : off+n : off+n], nil
}
