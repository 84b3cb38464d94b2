package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Attention kernels in ggml's float order; see ../attn.go.

// paramAddr is the frame address of a parameter, for instructions that take
// it as a memory operand (Load would pick MOVSS/MOVQ into a register).
func paramAddr(c gotypes.Component) Mem {
	b, err := c.Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// reduce32 leaves GGML_F32_VEC_REDUCE of a0..a3 in the low lane of a0:
// (a0+a2)+(a1+a3), lo+hi, two VHADDPS. t is scratch.
func reduce32(a [4]VecPhysical, t VecPhysical) {
	x0 := a[0].AsX()
	VADDPS(a[2], a[0], a[0])
	VADDPS(a[3], a[1], a[1])
	VADDPS(a[1], a[0], a[0])
	VEXTRACTF128(U8(1), a[0], t.AsX())
	VADDPS(t.AsX(), x0, x0)
	VHADDPS(x0, x0, x0)
	VHADDPS(x0, x0, x0)
}

func attnReduce32() {
	TEXT("attnReduce32AVX2", NOSPLIT, "func(out, acc *float32, d int)")
	Pragma("noescape")
	Doc("attnReduce32AVX2 sets out to GGML_F32_VEC_REDUCE over the 32 lanes",
		"acc[l*d/4 + e], eight elements at a time; d in bytes (a multiple of 32).")
	out, acc, d, lane8, e, p, p8 := RDI, RSI, RDX, R8, RCX, R9, R10
	Load(Param("out"), out)
	Load(Param("acc"), acc)
	Load(Param("d"), d)
	MOVQ(d, lane8)
	SHLQ(U8(3), lane8) // 8 lanes
	XORQ(e, e)

	Label("r32")
	LEAQ(Mem{Base: acc, Index: e, Scale: 1}, p)    // lane l
	LEAQ(Mem{Base: p, Index: lane8, Scale: 1}, p8) // lane 8+l
	// Y0..Y7 = (l + 16+l) + (8+l + 24+l) for l = 0..7
	for _, a := range []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7} {
		VMOVUPS(Mem{Base: p}, a)
		VADDPS(Mem{Base: p, Index: lane8, Scale: 2}, a, a)
		VMOVUPS(Mem{Base: p8}, Y9)
		VADDPS(Mem{Base: p8, Index: lane8, Scale: 2}, Y9, Y9)
		VADDPS(Y9, a, a)
		ADDQ(d, p)
		ADDQ(d, p8)
	}
	VADDPS(Y4, Y0, Y0)
	VADDPS(Y5, Y1, Y1)
	VADDPS(Y6, Y2, Y2)
	VADDPS(Y7, Y3, Y3)
	VADDPS(Y1, Y0, Y0)
	VADDPS(Y3, Y2, Y2)
	VADDPS(Y2, Y0, Y0)
	VMOVUPS(Y0, Mem{Base: out, Index: e, Scale: 1})
	ADDQ(U8(32), e)
	CMPQ(e, d)
	JB(LabelRef("r32"))
	VZEROUPPER()
	RET()
}

func attnReduce8() {
	TEXT("attnReduce8AVX2", NOSPLIT, "func(out, acc *float32, d int)")
	Pragma("noescape")
	Doc("attnReduce8AVX2 sets out to hsum8 over the 8 lanes acc[l*d/4 + e]:",
		"(l+4) onto l, then (0+2)+(1+3); d in bytes (a multiple of 32).")
	out, acc, d, lane3, lane4, e, p, p3 := RDI, RSI, RDX, R8, R11, RCX, R9, R10
	Load(Param("out"), out)
	Load(Param("acc"), acc)
	Load(Param("d"), d)
	LEAQ(Mem{Base: d, Index: d, Scale: 2}, lane3) // 3 lanes
	MOVQ(d, lane4)
	SHLQ(U8(2), lane4) // 4 lanes
	XORQ(e, e)

	Label("r8")
	LEAQ(Mem{Base: acc, Index: e, Scale: 1}, p)
	LEAQ(Mem{Base: p, Index: lane3, Scale: 1}, p3)
	VMOVUPS(Mem{Base: p}, Y0)                             // lane 0
	VADDPS(Mem{Base: p, Index: lane4, Scale: 1}, Y0, Y0)  // + 4
	VMOVUPS(Mem{Base: p, Index: d, Scale: 1}, Y1)         // lane 1
	VADDPS(Mem{Base: p3, Index: d, Scale: 2}, Y1, Y1)     // + 5
	VMOVUPS(Mem{Base: p, Index: d, Scale: 2}, Y2)         // lane 2
	VADDPS(Mem{Base: p3, Index: lane3, Scale: 1}, Y2, Y2) // + 6
	VMOVUPS(Mem{Base: p3}, Y3)                            // lane 3
	VADDPS(Mem{Base: p3, Index: lane4, Scale: 1}, Y3, Y3) // + 7
	VADDPS(Y2, Y0, Y0)
	VADDPS(Y3, Y1, Y1)
	VADDPS(Y1, Y0, Y0)
	VMOVUPS(Y0, Mem{Base: out, Index: e, Scale: 1})
	ADDQ(U8(32), e)
	CMPQ(e, d)
	JB(LabelRef("r8"))
	VZEROUPPER()
	RET()
}

// scoresBlock holds the registers of one head's scores for one or two
// positions: q and out point at the head's query and scores, k at the first
// position's K row; qp, kp, kp2 and left are scratch.
type scoresBlock struct {
	q, k, stride, d, out, qp, kp, kp2, left GPPhysical
}

// emit emits the scores of the head at b.q for position k (and k+stride when
// pair) into out[0] (and out[1]): ggml_vec_dot_f32 over 32-float blocks with
// four 8-lane accumulators per position (Y0-Y3, Y4-Y7), the q loads (Y8-Y11)
// shared by the two positions, then reduce32 and the scale in X15. label
// names the block loop.
func (b scoresBlock) emit(label string, pair bool) {
	qv := []VecPhysical{Y8, Y9, Y10, Y11}
	accA := []VecPhysical{Y0, Y1, Y2, Y3} // position i
	accB := []VecPhysical{Y4, Y5, Y6, Y7} // position i+1
	zero := accA
	if pair {
		zero = append(append([]VecPhysical(nil), accA...), accB...)
	}
	for _, a := range zero {
		VXORPS(a, a, a)
	}
	MOVQ(b.q, b.qp)
	MOVQ(b.k, b.kp)
	if pair {
		LEAQ(Mem{Base: b.k, Index: b.stride, Scale: 1}, b.kp2)
	}
	MOVQ(b.d, b.left)
	Label(label)
	for i, v := range qv {
		VMOVUPS(Mem{Base: b.qp, Disp: 32 * i}, v)
		VFMADD231PS(Mem{Base: b.kp, Disp: 32 * i}, v, accA[i])
		if pair {
			VFMADD231PS(Mem{Base: b.kp2, Disp: 32 * i}, v, accB[i])
		}
	}
	ADDQ(U8(128), b.qp)
	ADDQ(U8(128), b.kp)
	if pair {
		ADDQ(U8(128), b.kp2)
	}
	SUBQ(U8(32), b.left)
	JNZ(LabelRef(label))
	reduce32([4]VecPhysical(accA), Y8)
	if pair {
		reduce32([4]VecPhysical(accB), Y9)
	}
	VMULSS(X15, X0, X0)
	if pair {
		VMULSS(X15, X4, X4)
	}
	VMOVSS(X0, Mem{Base: b.out})
	if pair {
		VMOVSS(X4, Mem{Base: b.out, Disp: 4})
	}
}

func attnScoresHeads() {
	TEXT("attnScoresHeadsAVX2", NOSPLIT, "func(q *float32, qStride, nh int, k *float32, stride, n, d int, scale float32, out *float32, outStride int)")
	Pragma("noescape")
	Doc("attnScoresHeadsAVX2 sets out[h][i] = ggml_vec_dot_f32(k+i*stride, q[h], d) * scale",
		"for i < n and h < nh, for nh heads that share k: head h's q and scores start",
		"h·qStride and h·outStride bytes after q and out; stride in bytes, d a multiple",
		"of 32. Two positions at a time go through every head, sharing the loads of q,",
		"so their K rows come from L2 once and then from L1.")
	q, k, stride, n, d, out := RSI, RDI, RBX, RCX, RDX, R8
	qp, kp, kp2, left, qh, oh, hleft := R9, R10, R11, R12, R13, R14, RAX
	Load(Param("q"), q)
	Load(Param("k"), k)
	Load(Param("stride"), stride)
	Load(Param("n"), n)
	Load(Param("d"), d)
	VMOVSS(paramAddr(Param("scale")), X15)
	Load(Param("out"), out)
	b := scoresBlock{q: qh, k: k, stride: stride, d: d, out: oh, qp: qp, kp: kp, kp2: kp2, left: left}
	blk := b.emit

	Label("hpairs")
	CMPQ(n, U8(2))
	JB(LabelRef("hsingle"))
	// Prefetch the rows eight positions ahead: for a long context they come
	// from L3 or DRAM, and the heads' work on a pair hides their latency.
	LEAQ(Mem{Base: k, Index: stride, Scale: 8}, kp)
	LEAQ(Mem{Base: kp, Index: stride, Scale: 1}, kp2)
	MOVQ(d, left)
	Label("hpf")
	PREFETCHT0(Mem{Base: kp})
	PREFETCHT0(Mem{Base: kp2})
	ADDQ(U8(64), kp)
	ADDQ(U8(64), kp2)
	SUBQ(U8(16), left)
	JNZ(LabelRef("hpf"))
	MOVQ(q, qh)
	MOVQ(out, oh)
	MOVQ(paramAddr(Param("nh")), hleft)
	Label("phead")
	blk("hpblk", true)
	ADDQ(paramAddr(Param("qStride")), qh)
	ADDQ(paramAddr(Param("outStride")), oh)
	DECQ(hleft)
	JNZ(LabelRef("phead"))
	ADDQ(U8(8), out)
	LEAQ(Mem{Base: k, Index: stride, Scale: 2}, k)
	SUBQ(U8(2), n)
	JMP(LabelRef("hpairs"))

	Label("hsingle")
	TESTQ(n, n)
	JZ(LabelRef("hdone"))
	MOVQ(q, qh)
	MOVQ(out, oh)
	MOVQ(paramAddr(Param("nh")), hleft)
	Label("shead")
	blk("hsblk", false)
	ADDQ(paramAddr(Param("qStride")), qh)
	ADDQ(paramAddr(Param("outStride")), oh)
	DECQ(hleft)
	JNZ(LabelRef("shead"))

	Label("hdone")
	VZEROUPPER()
	RET()
}

func attnAccumHeads() {
	TEXT("attnAccumHeadsAVX2", NOSPLIT, "func(acc *float32, nh, d, lanes, lane0 int, s *float32, sStride int, v *float32, stride, n int)")
	Pragma("noescape")
	Doc("attnAccumHeadsAVX2 adds, for nh heads that share v, s[h][i]·(row i of v) into",
		"lane (i+lane0) mod lanes of head h's accumulators, rows in order: head h's lane",
		"accumulators start h·lanes·d floats after acc, its weights h·sStride bytes",
		"after s; d (a multiple of 32 floats) and stride in bytes. For each lane, the",
		"heads go in pairs through 32-float chunks: the pair's 2×32 accumulators stay",
		"in Y0-Y7 while each of the lane's rows is loaded once into Y8-Y11 for both,",
		"rows in order. A lane's rows are few enough to stay in L1 across the heads.")
	i, sp, sStride, vp, hstride, laneStep, lanes4 := RAX, RBX, RCX, RDX, RSI, RDI, R8
	c, i0, laneAcc, hleft, accH, sH := R9, R10, R11, R12, R13, R14
	Load(Param("sStride"), sStride)
	Load(Param("lanes"), lanes4)
	MOVQ(lanes4, laneStep)
	IMULQ(paramAddr(Param("stride")), laneStep) // bytes from a lane's row to its next
	MOVQ(lanes4, hstride)
	IMULQ(paramAddr(Param("d")), hstride) // bytes from a head's accumulators to the next
	SHLQ(U8(2), lanes4)
	// laneAcc = acc + lane0·d: the accumulators of row i0's lane.
	Load(Param("lane0"), laneAcc)
	IMULQ(paramAddr(Param("d")), laneAcc)
	ADDQ(paramAddr(Param("acc")), laneAcc)
	XORQ(i0, i0)

	accA := []VecPhysical{Y0, Y1, Y2, Y3}
	accB := []VecPhysical{Y4, Y5, Y6, Y7}
	vv := []VecPhysical{Y8, Y9, Y10, Y11}

	Label("alane")
	CMPQ(i0, paramAddr(Param("n")))
	JAE(LabelRef("adone"))
	CMPQ(i0, paramAddr(Param("lanes")))
	JAE(LabelRef("adone"))
	// Prefetch the next lane's rows (i0+1, +lanes, ...): they are far apart
	// in memory, too far for the hardware prefetcher to guess.
	LEAQ(Mem{Base: i0, Disp: 1}, i)
	CMPQ(i, paramAddr(Param("lanes")))
	JAE(LabelRef("apfdone"))
	Label("apfrow")
	CMPQ(i, paramAddr(Param("n")))
	JAE(LabelRef("apfdone"))
	MOVQ(paramAddr(Param("stride")), vp)
	IMULQ(i, vp)
	ADDQ(paramAddr(Param("v")), vp)
	XORQ(c, c)
	Label("apfline")
	PREFETCHT0(Mem{Base: vp, Index: c, Scale: 1})
	ADDQ(U8(64), c)
	CMPQ(c, paramAddr(Param("d")))
	JB(LabelRef("apfline"))
	ADDQ(paramAddr(Param("lanes")), i)
	JMP(LabelRef("apfrow"))
	Label("apfdone")
	MOVQ(laneAcc, accH)
	Load(Param("s"), sH)
	MOVQ(paramAddr(Param("nh")), hleft)

	// firstRow points i, sp and vp at the lane's first position: its
	// score and chunk c of its V row.
	firstRow := func() {
		MOVQ(i0, i)
		LEAQ(Mem{Base: sH, Index: i0, Scale: 4}, sp)
		MOVQ(paramAddr(Param("stride")), vp)
		IMULQ(i0, vp)
		ADDQ(paramAddr(Param("v")), vp)
		ADDQ(c, vp)
	}
	Label("ahead")
	CMPQ(hleft, U8(2))
	JB(LabelRef("aone"))
	XORQ(c, c)
	Label("apchunk")
	for j, a := range accA {
		VMOVUPS(Mem{Base: accH, Index: c, Scale: 1, Disp: 32 * j}, a)
	}
	LEAQ(Mem{Base: accH, Index: hstride, Scale: 1}, vp)
	for j, a := range accB {
		VMOVUPS(Mem{Base: vp, Index: c, Scale: 1, Disp: 32 * j}, a)
	}
	firstRow()
	Label("aprow")
	for j, x := range vv {
		VMOVUPS(Mem{Base: vp, Disp: 32 * j}, x)
	}
	VBROADCASTSS(Mem{Base: sp}, Y12)
	VBROADCASTSS(Mem{Base: sp, Index: sStride, Scale: 1}, Y13)
	for j, x := range vv {
		VFMADD231PS(x, Y12, accA[j])
		VFMADD231PS(x, Y13, accB[j])
	}
	ADDQ(lanes4, sp)
	ADDQ(laneStep, vp)
	ADDQ(paramAddr(Param("lanes")), i)
	CMPQ(i, paramAddr(Param("n")))
	JB(LabelRef("aprow"))
	for j, a := range accA {
		VMOVUPS(a, Mem{Base: accH, Index: c, Scale: 1, Disp: 32 * j})
	}
	LEAQ(Mem{Base: accH, Index: hstride, Scale: 1}, vp)
	for j, a := range accB {
		VMOVUPS(a, Mem{Base: vp, Index: c, Scale: 1, Disp: 32 * j})
	}
	ADDQ(U8(128), c)
	CMPQ(c, paramAddr(Param("d")))
	JB(LabelRef("apchunk"))
	LEAQ(Mem{Base: accH, Index: hstride, Scale: 2}, accH)
	LEAQ(Mem{Base: sH, Index: sStride, Scale: 2}, sH)
	SUBQ(U8(2), hleft)
	JMP(LabelRef("ahead"))

	Label("aone")
	TESTQ(hleft, hleft)
	JZ(LabelRef("anext"))
	XORQ(c, c)
	Label("aschunk")
	for j, a := range accA {
		VMOVUPS(Mem{Base: accH, Index: c, Scale: 1, Disp: 32 * j}, a)
	}
	firstRow()
	Label("asrow")
	VBROADCASTSS(Mem{Base: sp}, Y12)
	for j, a := range accA {
		VFMADD231PS(Mem{Base: vp, Disp: 32 * j}, Y12, a)
	}
	ADDQ(lanes4, sp)
	ADDQ(laneStep, vp)
	ADDQ(paramAddr(Param("lanes")), i)
	CMPQ(i, paramAddr(Param("n")))
	JB(LabelRef("asrow"))
	for j, a := range accA {
		VMOVUPS(a, Mem{Base: accH, Index: c, Scale: 1, Disp: 32 * j})
	}
	ADDQ(U8(128), c)
	CMPQ(c, paramAddr(Param("d")))
	JB(LabelRef("aschunk"))

	Label("anext")
	// Next row's lane: one lane further, wrapping from lanes-1 to 0.
	ADDQ(paramAddr(Param("d")), laneAcc)
	Load(Param("acc"), vp)
	ADDQ(hstride, vp)
	CMPQ(laneAcc, vp)
	JB(LabelRef("anowrap"))
	Load(Param("acc"), laneAcc)
	Label("anowrap")
	INCQ(i0)
	JMP(LabelRef("alane"))

	Label("adone")
	VZEROUPPER()
	RET()
}
