//go:build !purego

package kernels

//go:noescape
func dotF32GGMLAVX2(a, b *float32, n int) float32

//go:noescape
func sgemmDotF32AVX2(a, b *float32, n int) float32

func dotF32GGML(a, b []float32) (float32, bool) {
	if active == levelGeneric {
		return 0, false
	}
	if len(a) == 0 {
		return 0, true
	}
	return dotF32GGMLAVX2(&a[0], &b[0], len(a)), true
}

func sgemmDotF32(a, b []float32) (float32, bool) {
	if active == levelGeneric {
		return 0, false
	}
	if len(a) == 0 {
		return 0, true
	}
	return sgemmDotF32AVX2(&a[0], &b[0], len(a)), true
}
