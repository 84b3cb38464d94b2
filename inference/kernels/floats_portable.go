//go:build purego || !(amd64 || arm64)

package kernels

func dotF32(a, b []float32) float32  { return dotF32Generic(a, b) }
func axpy(a float32, x, y []float32) { axpyGeneric(a, x, y) }
