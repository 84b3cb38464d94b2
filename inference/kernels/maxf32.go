package kernels

import "math"

// MaxF32 returns the largest of x, NaN if any element is NaN, -Inf for an
// empty x. Which of +0 and -0 it returns when they tie for the largest is
// not specified (a softmax's x-max cannot tell them apart).
func MaxF32(x []float32) float32 {
	m := float32(math.Inf(-1))
	n := len(x) &^ 31
	if n > 0 {
		var lanes [8]float32
		if mx, nan, ok := maxF32Bulk(x[:n], &lanes); ok {
			if nan {
				return float32(math.NaN())
			}
			m = mx
		} else {
			n = 0
		}
	}
	for _, v := range x[n:] {
		if v != v {
			return v
		}
		m = max(m, v)
	}
	return m
}

// maxLanes is the largest of the eight lane maxima.
func maxLanes(lanes *[8]float32) float32 {
	m := lanes[0]
	for _, v := range lanes[1:] {
		m = max(m, v)
	}
	return m
}
