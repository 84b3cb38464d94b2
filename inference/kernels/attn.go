package kernels

// Attention kernels in the reference engine's float order (see the inference
// package's ggmlorder.go): whole runs of KV positions for all query heads of
// one KV head per call, so that the per-position cost is a few vector
// instructions rather than a call, and each K/V row is read once for all the
// heads. Each exists in assembly (amd64, AVX2+FMA) and in plain Go (purego,
// arm64, CPUs without AVX2) with bit-identical results; the plain-Go
// single-head versions below (attnScoresGo, attnAccumGo) spell out the order.

// attnCallElems bounds the multiply-adds of one assembly call, which the Go
// scheduler cannot preempt; longer runs are split into several calls.
const attnCallElems = 1 << 17

// AttnReduce sets out[e] to the sum of the lanes accumulators acc[l*len(out)+e]
// in the order of the matching dot product: GGML_F32_VEC_REDUCE for 32 lanes
// ((0+2)+(1+3) over four 8-lane registers, lo+hi, two horizontal adds), hsum8
// for 8 (tinyBLAS).
func AttnReduce(out, acc []float32, lanes int) {
	d := len(out)
	if lanes != 8 && lanes != 32 {
		panic("kernels: AttnReduce: lanes must be 8 or 32")
	}
	if len(acc) < lanes*d {
		panic("kernels: AttnReduce: acc is too short")
	}
	if d == 0 || attnReduce(out, acc, lanes) {
		return
	}
	attnReduceGo(out, acc, lanes)
}

func attnScoresGo(q, k []float32, stride int, scale float32, out []float32) {
	d := len(q)
	np := d &^ 31
	for i := range out {
		row := k[i*stride : i*stride+d]
		var s float32
		if np > 0 {
			var acc [32]float32
			for b := 0; b < np; b += 32 {
				for j := 0; j < 32; j++ {
					acc[j] = fma32(row[b+j], q[b+j], acc[j])
				}
			}
			s = reduce32(&acc)
		}
		for j := np; j < d; j++ {
			s = fma32(row[j], q[j], s)
		}
		out[i] = s * scale
	}
}

func attnAccumGo(acc []float32, d, lanes, lane0 int, s, v []float32, stride int) {
	l := lane0
	for i, a := range s {
		row := v[i*stride : i*stride+d]
		dst := acc[l*d : (l+1)*d]
		for e, x := range row {
			dst[e] = fma32(a, x, dst[e])
		}
		if l++; l == lanes {
			l = 0
		}
	}
}

func attnReduceGo(out, acc []float32, lanes int) {
	d := len(out)
	if lanes == 8 {
		var v [8]float32
		for e := range out {
			for l := range v {
				v[l] = acc[l*d+e]
			}
			out[e] = hsum8(&v)
		}
		return
	}
	var v [32]float32
	for e := range out {
		for l := range v {
			v[l] = acc[l*d+e]
		}
		out[e] = reduce32(&v)
	}
}

// reduce32 is GGML_F32_VEC_REDUCE over four 8-lane accumulators (a[8*j+l] is
// lane l of accumulator j): (0+2)+(1+3), lo+hi, then two _mm_hadd_ps.
func reduce32(a *[32]float32) float32 {
	var v [8]float32
	for l := range v {
		v[l] = float32(a[l]+a[16+l]) + float32(a[8+l]+a[24+l])
	}
	t0, t1, t2, t3 := float32(v[0]+v[4]), float32(v[1]+v[5]), float32(v[2]+v[6]), float32(v[3]+v[7])
	return float32(t0+t1) + float32(t2+t3)
}

// AttnScoresHeads computes the scores of nh query heads that share the K rows
// (the query heads of one KV head): for h < nh and i < n,
// out[h*outStride+i] = float32(dot(k[i*stride : i*stride+d], q[h*d : (h+1)*d]) * scale),
// each dot being ggml_vec_dot_f32 (DotF32GGML's order). Each K row is read
// once for all heads.
func AttnScoresHeads(q []float32, nh, d int, k []float32, stride int, scale float32, out []float32, outStride, n int) {
	if n <= 0 || nh <= 0 {
		return
	}
	if len(q) < nh*d || outStride < n || len(out) < (nh-1)*outStride+n {
		panic("kernels: AttnScoresHeads: q or out is too short")
	}
	if len(k) < (n-1)*stride+d || stride < d {
		panic("kernels: AttnScoresHeads: k is too short")
	}
	run := max(1, attnCallElems/max(d*nh, 1))
	for i := 0; i < n; i += run {
		m := min(run, n-i)
		if !attnScoresHeads(q, nh, d, k[i*stride:], stride, scale, out[i:], outStride, m) {
			for h := 0; h < nh; h++ {
				attnScoresGo(q[h*d:(h+1)*d], k[i*stride:], stride, scale, out[h*outStride+i:h*outStride+i+m])
			}
		}
	}
}

// AttnAccumHeads adds, for nh heads that share the V rows, the weighted rows
// s[h*sStride+i]·v[i*stride : i*stride+d] (i < n) into head h's lane
// accumulators acc[(h*lanes+l)*d : (h*lanes+l+1)*d], l = (lane0+i) % lanes,
// one FMA per element (rounded once), the rows of each lane taken in order
// i = 0, 1, ... This is the lane structure of a dot product over positions
// with lanes accumulator lanes (32 for ggml_vec_dot_f32, 8 for tinyBLAS),
// done for d dot products per head at once. acc must hold nh·lanes·d floats;
// each V row is read once for all heads.
func AttnAccumHeads(acc []float32, nh, d, lanes, lane0 int, s []float32, sStride, n int, v []float32, stride int) {
	if n <= 0 || nh <= 0 {
		return
	}
	if lanes <= 0 || lane0 < 0 || lane0 >= lanes || len(acc) < nh*lanes*d || sStride < n || len(s) < (nh-1)*sStride+n ||
		len(v) < (n-1)*stride+d || stride < d {
		panic("kernels: AttnAccumHeads: bad arguments")
	}
	run := max(1, attnCallElems/max(d*nh, 1))
	for i := 0; i < n; i += run {
		m := min(run, n-i)
		l0 := (lane0 + i) % lanes
		if !attnAccumHeads(acc, nh, d, lanes, l0, s[i:], sStride, v[i*stride:], stride, m) {
			for h := 0; h < nh; h++ {
				attnAccumGo(acc[h*lanes*d:(h+1)*lanes*d], d, lanes, l0, s[h*sStride+i:h*sStride+i+m], v[i*stride:], stride)
			}
		}
	}
}
