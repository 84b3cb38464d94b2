package inference

import (
	"math"

	"smallthinker/inference/kernels"
	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// maxTypes bounds ggml type ids we index arrays by.
const maxTypes = 40

// actRow is one activation row in F32 plus the byte forms that weights of
// each type consume (Q8_0 for Q4_0/Q8_0, F16 for F16, ...). Each form is
// computed once per row and shared by every matrix that reads it, as ggml does.
type actRow struct {
	f32   []float32
	conv  [maxTypes][]byte
	ok    [maxTypes]bool
	aux   []byte // kernels.Q8_0Aux of the Q8_0 form, for packed Q4_0 weights
	auxOK bool
}

func newActRow(n int) *actRow { return &actRow{f32: make([]float32, n)} }

// invalidate marks the byte forms stale after f32 changed.
func (a *actRow) invalidate() { a.ok, a.auxOK = [maxTypes]bool{}, false }

// q8Aux returns the Q8_0 form's kernels.Q8_0Aux (packed Q4_0 weights use both).
func (a *actRow) q8Aux() []byte {
	if a.auxOK {
		return a.aux
	}
	n := len(a.f32)
	vd, _ := quant.VecDotFor(gguf.Q4_0)
	x := a.as(gguf.Q8_0, vd)
	if need := kernels.Q8_0AuxSize(n); cap(a.aux) < need {
		a.aux = make([]byte, need)
	} else {
		a.aux = a.aux[:need]
	}
	kernels.Q8_0Aux(x, n, a.aux)
	a.auxOK = true
	return a.aux
}

// actBuf holds the byte rows that mat-muls read: each activation in the
// form a weight type consumes (computed once per actRow and shared), and the
// Q8_0Aux that packed Q4_0 weights also read. Reset it per parallel pass.
type actBuf struct{ b [][]byte }

func (a *actBuf) reset() { a.b = a.b[:0] }

// forms appends xs in the form W's kernels read and returns those entries.
func (a *actBuf) forms(W *Matrix, xs []*actRow) [][]byte {
	vd, _ := quant.VecDotFor(W.Type) // checked at load
	first := len(a.b)
	for _, x := range xs {
		a.b = append(a.b, x.as(vd.Act, vd))
	}
	return a.b[first:len(a.b):len(a.b)]
}

// auxs appends the Q8_0Aux of xs for a packed W, or a plain Q4_0 one whose
// prompt-batch kernel reads it too (kernels.GemmAux), and returns those
// entries (nil for other matrices).
func (a *actBuf) auxs(W *Matrix, xs []*actRow) [][]byte {
	if !W.Packed && !(W.Type == gguf.Q4_0 && kernels.GemmReadsAux(len(xs))) {
		return nil
	}
	first := len(a.b)
	for _, x := range xs {
		a.b = append(a.b, x.q8Aux())
	}
	return a.b[first:len(a.b):len(a.b)]
}

// as returns the row converted to activation type t.
func (a *actRow) as(t gguf.TensorType, vd *quant.VecDot) []byte {
	if a.ok[t] {
		return a.conv[t]
	}
	need := t.RowSize(len(a.f32))
	if cap(a.conv[t]) < need {
		a.conv[t] = make([]byte, need)
	}
	a.conv[t] = a.conv[t][:need]
	if t == gguf.Q8_0 {
		kernels.QuantizeQ8_0(a.f32, a.conv[t])
	} else {
		vd.QuantizeAct(a.f32, a.conv[t])
	}
	a.ok[t] = true
	return a.conv[t]
}

// rmsNorm is ggml's rms_norm followed by the weight multiply, rounded as ggml
// rounds: squares in float32 summed in float64 (ggml_float), mean rounded to
// float32, scale = 1.0f/sqrtf(mean+eps), then (x*scale)*w.
func rmsNorm(dst, x, w []float32, eps float32) {
	sum := 0.0
	for _, v := range x {
		sum += float64(float32(v * v))
	}
	mean := float32(sum / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	kernels.ScaleMul(dst, x, w, scale)
}

func axpy(a float32, x, y []float32) { kernels.Axpy(a, x, y) }
