//go:build !purego

package kernels

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

func softmaxGroups(x []float32, max float32, sum float64) (float64, bool) {
	if active == levelGeneric {
		return 0, false
	}
	if len(x) < 8 {
		return sum, true
	}
	return softmaxGroupsAVX2(&x[0], len(x)/8, max, sum), true
}
