//go:build !purego

package kernels

// The assembly takes whole 32-element blocks (scores, accumulation) and
// 8-element groups (reduction); other head sizes use the Go versions.

func attnReduce(out, acc []float32, lanes int) bool {
	d := len(out)
	if active == levelGeneric || d%8 != 0 {
		return false
	}
	if lanes == 32 {
		attnReduce32AVX2(&out[0], &acc[0], d*4)
	} else {
		attnReduce8AVX2(&out[0], &acc[0], d*4)
	}
	return true
}

func attnScoresHeads(q []float32, nh, d int, k []float32, stride int, scale float32, out []float32, outStride, n int) bool {
	if active == levelGeneric || d == 0 || d%32 != 0 {
		return false
	}
	attnScoresHeadsAVX2(&q[0], d*4, nh, &k[0], stride*4, n, d, scale, &out[0], outStride*4)
	return true
}

func attnAccumHeads(acc []float32, nh, d, lanes, lane0 int, s []float32, sStride int, v []float32, stride, n int) bool {
	if active == levelGeneric || d == 0 || d%32 != 0 {
		return false
	}
	attnAccumHeadsAVX2(&acc[0], nh, d*4, lanes, lane0, &s[0], sStride*4, &v[0], stride*4, n)
	return true
}
