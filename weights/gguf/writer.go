package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// WriteTensor is a tensor to write: its info (Offset is computed by the
// writer) and a function that writes exactly Info.Bytes() bytes of data.
type WriteTensor struct {
	Info  TensorInfo
	Write func(w io.Writer) error
}

// BytesTensor returns a WriteTensor whose data is b.
func BytesTensor(name string, typ TensorType, dims []uint64, b []byte) WriteTensor {
	return WriteTensor{
		Info:  TensorInfo{Name: name, Type: typ, Dims: dims},
		Write: func(w io.Writer) error { _, err := w.Write(b); return err },
	}
}

// Write writes a GGUF v3 file: header, metadata in the given order, tensor
// infos, then each tensor's data aligned to general.alignment (default 32)
// and zero-padded, the layout llama.cpp's writer produces.
func Write(w io.Writer, kvs []KV, tensors []WriteTensor) error {
	return WriteVersion(w, 3, kvs, tensors)
}

// WriteVersion is Write with an explicit GGUF version (2 or 3).
func WriteVersion(w io.Writer, version uint32, kvs []KV, tensors []WriteTensor) error {
	align := uint64(DefaultAlignment)
	for _, kv := range kvs {
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.V.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("general.alignment must be a non-zero power of two uint32")
			}
			align = uint64(a)
		}
	}
	bw := &countWriter{w: bufio.NewWriterSize(w, 1<<20)}
	bw.u32(Magic)
	bw.u32(version)
	bw.u64(uint64(len(tensors)))
	bw.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		bw.str(kv.Key)
		bw.u32(uint32(kv.Value.Type))
		if err := bw.value(kv.Value.Type, kv.Value.V); err != nil {
			return fmt.Errorf("key %q: %w", kv.Key, err)
		}
	}
	offset := uint64(0)
	for i := range tensors {
		t := &tensors[i].Info
		if !t.Type.Known() {
			return fmt.Errorf("tensor %q: unknown type %d", t.Name, t.Type)
		}
		if len(t.Dims) < 1 || len(t.Dims) > 4 {
			return fmt.Errorf("tensor %q: %d dimensions", t.Name, len(t.Dims))
		}
		if t.Dims[0]%uint64(t.Type.BlockSize()) != 0 {
			return fmt.Errorf("tensor %q: first dimension %d not a multiple of block size %d", t.Name, t.Dims[0], t.Type.BlockSize())
		}
		t.Offset = offset
		bw.str(t.Name)
		bw.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			bw.u64(d)
		}
		bw.u32(uint32(t.Type))
		bw.u64(t.Offset)
		offset += (t.Bytes() + align - 1) / align * align
	}
	bw.pad(align)
	for i := range tensors {
		t := &tensors[i]
		start := bw.n
		if err := t.Write(bw); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Info.Name, err)
		}
		if got := uint64(bw.n - start); got != t.Info.Bytes() {
			return fmt.Errorf("tensor %q: wrote %d bytes, want %d", t.Info.Name, got, t.Info.Bytes())
		}
		bw.pad(align)
	}
	if bw.err != nil {
		return bw.err
	}
	return bw.w.(*bufio.Writer).Flush()
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
	b   [8]byte
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func (c *countWriter) u8(v uint8) { c.b[0] = v; c.Write(c.b[:1]) }
func (c *countWriter) u16(v uint16) {
	binary.LittleEndian.PutUint16(c.b[:], v)
	c.Write(c.b[:2])
}
func (c *countWriter) u32(v uint32) {
	binary.LittleEndian.PutUint32(c.b[:], v)
	c.Write(c.b[:4])
}
func (c *countWriter) u64(v uint64) {
	binary.LittleEndian.PutUint64(c.b[:], v)
	c.Write(c.b[:8])
}
func (c *countWriter) str(s string) {
	c.u64(uint64(len(s)))
	io.WriteString(c, s)
}

func (c *countWriter) pad(align uint64) {
	var zero [64]byte
	for r := (align - uint64(c.n)%align) % align; r > 0; {
		k := min(r, uint64(len(zero)))
		c.Write(zero[:k])
		r -= k
	}
}

func (c *countWriter) value(t ValueType, v any) error {
	bad := func() error { return fmt.Errorf("value %v (%T) does not match type %s", v, v, t) }
	switch t {
	case TypeUint8:
		x, ok := v.(uint8)
		if !ok {
			return bad()
		}
		c.u8(x)
	case TypeInt8:
		x, ok := v.(int8)
		if !ok {
			return bad()
		}
		c.u8(uint8(x))
	case TypeUint16:
		x, ok := v.(uint16)
		if !ok {
			return bad()
		}
		c.u16(x)
	case TypeInt16:
		x, ok := v.(int16)
		if !ok {
			return bad()
		}
		c.u16(uint16(x))
	case TypeUint32:
		x, ok := v.(uint32)
		if !ok {
			return bad()
		}
		c.u32(x)
	case TypeInt32:
		x, ok := v.(int32)
		if !ok {
			return bad()
		}
		c.u32(uint32(x))
	case TypeFloat32:
		x, ok := v.(float32)
		if !ok {
			return bad()
		}
		c.u32(math.Float32bits(x))
	case TypeBool:
		x, ok := v.(bool)
		if !ok {
			return bad()
		}
		if x {
			c.u8(1)
		} else {
			c.u8(0)
		}
	case TypeString:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		c.str(x)
	case TypeUint64:
		x, ok := v.(uint64)
		if !ok {
			return bad()
		}
		c.u64(x)
	case TypeInt64:
		x, ok := v.(int64)
		if !ok {
			return bad()
		}
		c.u64(uint64(x))
	case TypeFloat64:
		x, ok := v.(float64)
		if !ok {
			return bad()
		}
		c.u64(math.Float64bits(x))
	case TypeArray:
		a, ok := v.(Array)
		if !ok {
			return bad()
		}
		c.u32(uint32(a.Elem))
		c.u64(uint64(len(a.Values)))
		for _, e := range a.Values {
			if err := c.value(a.Elem, e); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown value type %d", t)
	}
	return nil
}
