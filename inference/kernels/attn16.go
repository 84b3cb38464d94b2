package kernels

import "smallthinker/weights/quant"

// Attention over an F16 KV cache. There is no reference order to follow here
// (the golden files were made with an F32 cache), so the order is the one
// that vectorizes best, spelled out by the plain-Go versions below; the
// assembly reproduces it bit for bit.

// AttnScoresHeadsF16 computes the scores of nh query heads that share the F16
// K rows: for h < nh and i < n, out[h*outStride+i] = float32(dot(q[h*d : (h+1)*d],
// k[i*stride : i*stride+d])) * scale, each dot in 16 lanes (element j into lane
// j mod 16, one FMA each, in order), the lanes summed as hsum8 of lane l plus
// lane l+8, then the last d mod 16 elements added one FMA at a time.
// Unless pf is nil, pf has k's shape (the V rows of the same positions)
// and its rows are prefetched as k's are done, so that the weighted sum
// that follows finds them in cache.
func AttnScoresHeadsF16(q []float32, nh, d int, k []uint16, stride int, scale float32, out []float32, outStride, n int, pf []uint16) {
	if n <= 0 || nh <= 0 {
		return
	}
	if len(q) < nh*d || outStride < n || len(out) < (nh-1)*outStride+n {
		panic("kernels: AttnScoresHeadsF16: q or out is too short")
	}
	if len(k) < (n-1)*stride+d || stride < d {
		panic("kernels: AttnScoresHeadsF16: k is too short")
	}
	if pf != nil && len(pf) < (n-1)*stride+d {
		panic("kernels: AttnScoresHeadsF16: pf is too short")
	}
	run := max(1, attnCallElems/max(d*nh, 1))
	for i := 0; i < n; i += run {
		m := min(run, n-i)
		var p []uint16
		if pf != nil {
			p = pf[i*stride:]
		}
		if !attnScoresHeadsF16(q, nh, d, k[i*stride:], stride, scale, out[i:], outStride, m, p) {
			for h := 0; h < nh; h++ {
				attnScoresF16Go(q[h*d:(h+1)*d], k[i*stride:], stride, scale, out[h*outStride+i:h*outStride+i+m])
			}
		}
	}
}

// AttnAccumHeadsF16 adds the weighted F16 V rows of nh heads that share them:
// acc[h*d+e] = fma(s[h*sStride+i], v[i*stride+e], acc[h*d+e]) for i = 0, 1,
// ..., n-1 in order, every h < nh and e < d: one accumulator per output
// element, rounded once per row.
func AttnAccumHeadsF16(acc []float32, nh, d int, s []float32, sStride, n int, v []uint16, stride int) {
	if n <= 0 || nh <= 0 {
		return
	}
	if len(acc) < nh*d || sStride < n || len(s) < (nh-1)*sStride+n || len(v) < (n-1)*stride+d || stride < d {
		panic("kernels: AttnAccumHeadsF16: bad arguments")
	}
	run := max(1, attnCallElems/max(d*nh, 1))
	for i := 0; i < n; i += run {
		m := min(run, n-i)
		// A kernel that goes down the rows a chunk at a time first
		// prefetches the next call's rows (the first call its own too) as
		// one sequential stream: elements [pfOff, pfEnd) from row i, empty
		// in the last call.
		next := min(run, n-i-m)
		pfOff, pfEnd := m*stride, (m+next-1)*stride+d
		if i == 0 {
			pfOff = 0
		}
		if !attnAccumHeadsF16(acc, nh, d, s[i:], sStride, v[i*stride:], stride, m, pfOff, pfEnd) {
			for h := 0; h < nh; h++ {
				attnAccumF16Go(acc[h*d:(h+1)*d], s[h*sStride+i:h*sStride+i+m], v[i*stride:], stride)
			}
		}
	}
}

func attnScoresF16Go(q []float32, k []uint16, stride int, scale float32, out []float32) {
	d := len(q)
	np := d &^ 15
	for i := range out {
		row := k[i*stride : i*stride+d]
		var s float32
		if np > 0 {
			var acc [16]float32
			for b := 0; b < np; b += 16 {
				for j := 0; j < 16; j++ {
					acc[j] = fma32(q[b+j], quant.FP16ToFP32(row[b+j]), acc[j])
				}
			}
			var v [8]float32
			for l := range v {
				v[l] = acc[l] + acc[l+8]
			}
			s = hsum8(&v)
		}
		for j := np; j < d; j++ {
			s = fma32(q[j], quant.FP16ToFP32(row[j]), s)
		}
		out[i] = s * scale
	}
}

func attnAccumF16Go(acc []float32, s []float32, v []uint16, stride int) {
	d := len(acc)
	for i, a := range s {
		row := v[i*stride : i*stride+d]
		for e, x := range row {
			acc[e] = fma32(a, quant.FP16ToFP32(x), acc[e])
		}
	}
}
