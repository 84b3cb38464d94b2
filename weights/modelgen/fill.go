package modelgen

import (
	"encoding/binary"
	"io"
	"math"
	"math/bits"

	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// distribution is the value distribution of a tensor: uniform with this mean
// and standard deviation (quantized types: uniform codes with a per-block
// scale chosen to give that deviation).
type distribution struct{ mean, std float64 }

// rng is wyrand: one multiply per 64 random bits, plenty for random weights.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// unit returns a uniform float in [0, 1).
func (r *rng) unit() float32 { return float32(r.next()>>40) * (1.0 / (1 << 24)) }

// mix derives an independent seed from a parent seed and an index.
func mix(seed, i uint64) uint64 {
	z := seed ^ (i+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// chunkTarget is the size of the unit of work handed to one goroutine.
const chunkTarget = 2 << 20

// tensorGen produces one tensor's data. The tensor is cut into chunks of whole
// rows; chunk k is filled from an RNG seeded by (seed, k), so the bytes do not
// depend on the number of workers.
type tensorGen struct {
	typ     gguf.TensorType
	dims    []uint64
	dist    distribution
	seed    uint64
	workers int
	// rowScale, if set, multiplies row r's deviation (token rows that should rarely win).
	rowScale func(r int) float64
}

func (t *tensorGen) write(w io.Writer) error {
	rowBytes := t.typ.RowSize(int(t.dims[0]))
	rows := 1
	for _, d := range t.dims[1:] {
		rows *= int(d)
	}
	chunkRows := max(1, chunkTarget/rowBytes)
	nChunks := (rows + chunkRows - 1) / chunkRows
	chunkLen := func(k int) int { return min(chunkRows, rows-k*chunkRows) * rowBytes }
	fill := func(k int, buf []byte) {
		r := rng{mix(t.seed, uint64(k))}
		if t.rowScale == nil {
			fillBytes(t.typ, t.dist, &r, buf)
			return
		}
		for i := 0; i*rowBytes < len(buf); i++ {
			d := t.dist
			d.std *= t.rowScale(k*chunkRows + i)
			fillBytes(t.typ, d, &r, buf[i*rowBytes:(i+1)*rowBytes])
		}
	}
	if nChunks == 1 {
		buf := make([]byte, chunkLen(0))
		fill(0, buf)
		_, err := w.Write(buf)
		return err
	}
	return writeOrdered(w, nChunks, chunkLen, fill, t.workers)
}

// writeOrdered fills chunks on up to workers goroutines, a few ahead of the
// writer, and writes them in order. Buffers are reused round-robin.
func writeOrdered(w io.Writer, n int, size func(int) int, fill func(int, []byte), workers int) error {
	depth := workers + 2
	bufs := make([][]byte, depth)
	done := make([]chan struct{}, depth)
	sem := make(chan struct{}, workers)
	start := func(k int) {
		slot := k % depth
		if cap(bufs[slot]) < size(k) {
			bufs[slot] = make([]byte, size(k))
		}
		buf := bufs[slot][:size(k)]
		bufs[slot] = buf
		ch := make(chan struct{})
		done[slot] = ch
		go func() {
			sem <- struct{}{}
			fill(k, buf)
			<-sem
			close(ch)
		}()
	}
	next := 0
	for k := 0; k < n; k++ {
		for next < n && next-k < depth {
			start(next)
			next++
		}
		slot := k % depth
		<-done[slot]
		if _, err := w.Write(bufs[slot]); err != nil {
			for j := k + 1; j < next; j++ { // let running fills finish before returning their buffers
				<-done[j%depth]
			}
			return err
		}
	}
	return nil
}

// fillBytes fills buf (whole rows of typ) with random values of distribution d.
func fillBytes(typ gguf.TensorType, d distribution, r *rng, buf []byte) {
	switch typ {
	case gguf.Q4_0:
		// Codes uniform in 0..15 (value code-8) have rms 4.64; scale jitters ±25% per
		// block and takes a random sign (as llama.cpp's d = max/-8 does), which
		// cancels the codes' -0.5 mean.
		base := d.std / 4.64
		for i := 0; i+18 <= len(buf); i += 18 {
			x := r.next()
			scale := float32(base * (0.75 + 0.5*float64(x>>40)/(1<<24)))
			if x&1 != 0 {
				scale = -scale
			}
			binary.LittleEndian.PutUint16(buf[i:], quant.FP32ToFP16(scale))
			binary.LittleEndian.PutUint64(buf[i+2:], r.next())
			binary.LittleEndian.PutUint64(buf[i+10:], r.next())
		}
	case gguf.Q8_0:
		// Codes uniform in -127..127 have rms 73.3.
		base := d.std / 73.3
		for i := 0; i+34 <= len(buf); i += 34 {
			x := r.next()
			scale := float32(base * (0.75 + 0.5*float64(x>>40)/(1<<24)))
			binary.LittleEndian.PutUint16(buf[i:], quant.FP32ToFP16(scale))
			q := buf[i+2 : i+34]
			for j := 0; j < 32; j += 8 {
				binary.LittleEndian.PutUint64(q[j:], r.next())
			}
			for j, b := range q {
				if b == 0x80 { // -128 is outside the quantizer's range
					q[j] = 0x81
				}
			}
		}
	case gguf.F32:
		for i := 0; i+4 <= len(buf); i += 4 {
			binary.LittleEndian.PutUint32(buf[i:], math.Float32bits(d.sample(r)))
		}
	case gguf.F16:
		for i := 0; i+2 <= len(buf); i += 2 {
			binary.LittleEndian.PutUint16(buf[i:], quant.FP32ToFP16(d.sample(r)))
		}
	case gguf.BF16:
		for i := 0; i+2 <= len(buf); i += 2 {
			binary.LittleEndian.PutUint16(buf[i:], quant.FP32ToBF16(d.sample(r)))
		}
	default:
		// Other formats (K-quants, Q4_1, Q5_x): quantize random rows with the
		// reference quantizers, slower but exactly what llama.cpp would write.
		n := len(buf) / typ.TypeSize() * typ.BlockSize()
		x := make([]float32, n)
		for i := range x {
			x[i] = d.sample(r)
		}
		if err := quant.QuantizeRow(typ, x, buf); err != nil {
			panic("modelgen: " + err.Error()) // fileType rejects unsupported types first
		}
	}
}

// sample draws a uniform value with the distribution's mean and deviation.
func (d distribution) sample(r *rng) float32 {
	half := float32(d.std * math.Sqrt(3))
	return float32(d.mean) + (2*r.unit()-1)*half
}
