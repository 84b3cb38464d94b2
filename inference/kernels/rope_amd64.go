//go:build !purego

package kernels

// ropeNeox runs the assembly for half-heads of whole 8-float vectors.
func ropeNeox(x []float32, d int, cos, sin []float32) bool {
	half := d / 2
	if active == levelGeneric || half%8 != 0 {
		return false
	}
	ropeNeoxAVX2(&x[0], len(x)/d, half, &cos[0], &sin[0])
	return true
}
