//go:build purego || !(amd64 || arm64)

package kernels

// level is the instruction set in use; without assembly there is one.
type level int

const levelGeneric level = 0

func (l level) String() string { return "purego" }

var active = levelGeneric

// levels lists the implementations that can run on this machine.
func levels() []level { return []level{levelGeneric} }

func gemvQ4_0Q8_0(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	gemvQ4_0Q8_0Generic(w, rowBytes, x, nb, out)
}

func gemvQ8_0Q8_0(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	gemvQ8_0Q8_0Generic(w, rowBytes, x, nb, out)
}

func gemm4(q4 bool, w []byte, rowBytes int, xs [][]byte, nb int, out [][]float32, r0, r1 int, _ *gemmScratch) {
	gemm4Generic(q4, w, rowBytes, xs, nb, out, r0, r1)
}

// gemmScratch is the amd64 gemm4's scratch; other kernels need none.
type gemmScratch struct{}

// packedKernel: only the plain-Go Q4_0x4 kernel exists here, slower than
// the plain layout's.
func packedKernel() bool { return false }

func pairedKernel() bool { return false }

func gemvQ4_0x4(w []byte, r q4x4Run, x, aux []byte, nb int, out []float32) {
	gemvQ4_0x4Generic(w, r, x, nb, out)
}

// The rows kernels exist only on amd64: the level's gemv, row by row.
func gemvRowsQ4_0Q8_0(w []byte, rowBytes int, x []byte, nb int, rows []int32, out []float32) {
	gemvRowsEach(true, w, rowBytes, x, nb, rows, out)
}

func gemvRowsQ8_0Q8_0(w []byte, rowBytes int, x []byte, nb int, rows []int32, out []float32) {
	gemvRowsEach(false, w, rowBytes, x, nb, rows, out)
}
