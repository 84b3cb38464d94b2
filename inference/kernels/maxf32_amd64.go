//go:build !purego

package kernels

// maxF32Bulk runs the assembly over x (a multiple of 32 long); ok is false
// where it is not available.
func maxF32Bulk(x []float32, lanes *[8]float32) (m float32, nan, ok bool) {
	if active == levelGeneric {
		return 0, false, false
	}
	for i := 0; i < len(x); i += maxCallElems &^ 31 {
		part := x[i:min(i+maxCallElems&^31, len(x))]
		if maxF32AVX2(&part[0], len(part), lanes) {
			return 0, true, true
		}
		if i == 0 {
			m = maxLanes(lanes)
		} else {
			m = max(m, maxLanes(lanes))
		}
	}
	return m, false, true
}
