//go:build !purego

package kernels

// ropeNeox runs the assembly for half-heads of whole 8-float vectors.
func ropeNeox(x []float32, d int, cos, sin []float32) bool {
	return false
}
