package inference

import (
	"fmt"

	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// Matrix is a 2-D weight in ggml layout: Rows rows of Cols elements, each row
// RowBytes bytes of Type. Data may point into the mmapped file or into an
// expert-cache slot. Packed Q4_0 matrices are in the Q4_0x4 layout (see
// packing.go): each group of four rows keeps its bytes, interleaved.
type Matrix struct {
	Type     gguf.TensorType
	Rows     int
	Cols     int
	RowBytes int
	Data     []byte
	Packed   bool // Q4_0 in the Q4_0x4 layout (quant.PackQ4_0x4) ...
	Paired   bool // ... with its groups in pairs
}

// Row returns the raw bytes of row r (of an unpacked matrix).
func (m *Matrix) Row(r int) []byte {
	if m.Packed {
		panic("inference: Row of a packed matrix")
	}
	return m.Data[r*m.RowBytes : (r+1)*m.RowBytes]
}

// Bytes is the matrix size.
func (m *Matrix) Bytes() int { return m.Rows * m.RowBytes }

// newMatrix views data as a matrix of type t with the given shape.
func newMatrix(t gguf.TensorType, rows, cols int, data []byte) (Matrix, error) {
	if cols%t.BlockSize() != 0 {
		return Matrix{}, fmt.Errorf("row length %d is not a multiple of the %s block size", cols, t)
	}
	rb := t.RowSize(cols)
	if len(data) < rows*rb {
		return Matrix{}, fmt.Errorf("matrix %dx%d %s needs %d bytes, have %d", rows, cols, t, rows*rb, len(data))
	}
	return Matrix{Type: t, Rows: rows, Cols: cols, RowBytes: rb, Data: data[:rows*rb]}, nil
}

// tensorVector reads a 1-D tensor as float32 (norm weights).
func tensorVector(f *gguf.File, name string, n int) ([]float32, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("tensor %s is missing", name)
	}
	if t.Elements() != uint64(n) {
		return nil, fmt.Errorf("tensor %s has %d elements, want %d", name, t.Elements(), n)
	}
	data, err := f.TensorData(t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	if err := quant.DequantizeRow(t.Type, data, out); err != nil {
		return nil, fmt.Errorf("tensor %s: %w", name, err)
	}
	return out, nil
}
