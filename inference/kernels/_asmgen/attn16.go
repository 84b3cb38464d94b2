package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Attention over an F16 KV cache in the order of ../attn16.go's plain-Go
// versions. Both kernels take the heads in groups of up to f16Group, with
// code specialized for every group size, so that a group's accumulators stay
// in registers while each K or V chunk is converted once for the group.

const f16Group = 6

// headAddr returns the address of head h's data at off bytes into its slice:
// heads are step bytes apart, p points at head 0 and p3 at head 3.
func headAddr(p, p3, step GPPhysical, h, off int) Mem {
	switch h {
	case 0:
		return Mem{Base: p, Disp: off}
	case 1, 2, 4:
		return Mem{Base: p, Index: step, Scale: uint8(h), Disp: off}
	case 3:
		return Mem{Base: p3, Disp: off}
	case 5:
		return Mem{Base: p3, Index: step, Scale: 2, Disp: off}
	}
	panic("headAddr: head out of range")
}

// dispatchGroups emits the loop over head groups: while hleft ≥ f16Group
// run block(f16Group) then next(f16Group), then one smaller group for the
// rest. block and next emit the code of one group of g heads and the step
// to the following group.
func dispatchGroups(prefix string, hleft GPPhysical, block, next func(g int)) {
	Label(prefix + "grp")
	CMPQ(hleft, U8(f16Group))
	JB(LabelRef(prefix + "rest"))
	block(f16Group)
	next(f16Group)
	SUBQ(U8(f16Group), hleft)
	JMP(LabelRef(prefix + "grp"))
	Label(prefix + "rest")
	for g := f16Group - 1; g >= 1; g-- {
		CMPQ(hleft, U8(g))
		JNE(LabelRef(fmt.Sprintf("%sg%dskip", prefix, g)))
		block(g)
		JMP(LabelRef(prefix + "hdone"))
		Label(fmt.Sprintf("%sg%dskip", prefix, g))
	}
	Label(prefix + "hdone")
}

func attnScoresHeadsF16() {
	TEXT("attnScoresHeadsF16AVX2", 0, "func(q *float32, nh int, k *uint16, stride, n, d int, scale float32, out *float32, outStride int, pfDelta int)")
	Pragma("noescape")
	Doc("attnScoresHeadsF16AVX2 sets out[h][i] = dot(q[h], row i of k)·scale for",
		"i < n and h < nh in attnScoresF16Go's order: head h's q is h·d bytes after q",
		"(d = 4× the head size, a multiple of 64), its scores h·outStride bytes after",
		"out; k's rows are stride bytes apart. The heads go in groups of up to six",
		"whose 16-lane accumulators (Y0-Y11) share each converted 16-element chunk",
		"of a row (Y14, Y15). Rows go in blocks of eight: each row's lanes l+8 are",
		"added onto l and parked on the stack, then one transposing tree per head",
		"does the eight rows' hsum8 at once; the last n mod 8 rows use hsum.",
		"Unless pfDelta is 0, the row pfDelta bytes after each K row (its V row) is",
		"prefetched into L2 once the row is done: the weighted sum reads it next;",
		"and so is the K row 16 rows ahead, into L1.")
	// The eight rows' 8-lane vectors of each head of a group; too big a
	// frame for NOSPLIT, so the function checks its stack.
	park := AllocLocal(f16Group * 8 * 32)
	stride, d, ostr, qh, oh, hleft := RDI, RDX, R9, R10, R11, R12
	qp, qp3, kp, left, kr, i, r := R13, R14, RAX, RCX, RSI, RBX, R8
	Load(Param("stride"), stride)
	Load(Param("d"), d)
	Load(Param("outStride"), ostr)
	Load(Param("q"), qh)
	Load(Param("out"), oh)
	Load(Param("nh"), hleft)
	VBROADCASTSS(paramAddr(Param("scale")), Y13)
	CMPQ(paramAddr(Param("n")), U8(0))
	JE(LabelRef("sdone"))

	// row emits the dot products of the group's g heads with the row at kr
	// into Y0-Y5 (lanes 0-7) and Y6-Y11 (lanes 8-15).
	lo := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5}
	hi := []VecPhysical{Y6, Y7, Y8, Y9, Y10, Y11}
	row := func(g int, lbl string) {
		for h := 0; h < g; h++ {
			VXORPS(lo[h], lo[h], lo[h])
			VXORPS(hi[h], hi[h], hi[h])
		}
		MOVQ(qh, qp)
		if g > 3 {
			LEAQ(Mem{Base: qh, Index: d, Scale: 2}, qp3)
			ADDQ(d, qp3)
		}
		MOVQ(kr, kp)
		MOVQ(d, left)
		Label(lbl)
		VCVTPH2PS(Mem{Base: kp}, Y14)
		VCVTPH2PS(Mem{Base: kp, Disp: 16}, Y15)
		for h := 0; h < g; h++ {
			VFMADD231PS(headAddr(qp, qp3, d, h, 0), Y14, lo[h])
			VFMADD231PS(headAddr(qp, qp3, d, h, 32), Y15, hi[h])
		}
		ADDQ(U8(64), qp)
		if g > 3 {
			ADDQ(U8(64), qp3)
		}
		ADDQ(U8(32), kp)
		SUBQ(U8(64), left)
		JNZ(LabelRef(lbl))
		for h := 0; h < g; h++ {
			VADDPS(hi[h], lo[h], lo[h])
		}
	}
	// prefetchV prefetches the d/2 bytes pfDelta after the row at kr, and
	// the K row 16 rows ahead (kp and left are free between rows). One
	// layer's attention of the 4B from DRAM (BenchmarkAttentionCold, ctx
	// 512): 80-115 us without, 62-80 with.
	prefetchV := func(lbl string) {
		Load(Param("pfDelta"), kp)
		TESTQ(kp, kp)
		JZ(LabelRef(lbl + "no"))
		ADDQ(kr, kp)
		MOVQ(d, left)
		Label(lbl)
		PREFETCHT1(Mem{Base: kp})
		ADDQ(U8(64), kp)
		SUBQ(U8(128), left)
		JA(LabelRef(lbl))
		// and the K row 16 rows ahead
		MOVQ(stride, kp)
		SHLQ(U8(4), kp)
		ADDQ(kr, kp)
		MOVQ(d, left)
		Label(lbl + "k")
		PREFETCHT0(Mem{Base: kp})
		ADDQ(U8(64), kp)
		SUBQ(U8(128), left)
		JA(LabelRef(lbl + "k"))
		Label(lbl + "no")
	}
	// outHeads points left at head 3's scores, oh's being head 0's.
	outHeads := func(g int) {
		if g > 3 {
			LEAQ(Mem{Base: oh, Index: ostr, Scale: 2}, left)
			ADDQ(ostr, left)
		}
	}
	block := func(g int) {
		pre := fmt.Sprintf("sg%d", g)
		Load(Param("k"), kr)
		Load(Param("n"), i)

		Label(pre + "blk")
		CMPQ(i, U8(8))
		JB(LabelRef(pre + "tail"))
		XORQ(r, r)
		Label(pre + "row8")
		row(g, pre+"chunk8")
		for h := 0; h < g; h++ {
			m := park.Offset(h * 256)
			m.Index, m.Scale = r, 1
			VMOVUPS(lo[h], m)
		}
		prefetchV(pre + "pf8")
		ADDQ(stride, kr)
		ADDQ(U8(32), r)
		CMPQ(r, U32(256))
		JB(LabelRef(pre + "row8"))
		// Per head, rows ρ0..ρ7 (vectors v of 8 lanes): hsum8(v) =
		// ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)), for all eight rows at once.
		outHeads(g)
		for h := 0; h < g; h++ {
			base := park.Offset(h * 256)
			// P[j] = [t of ρj | t of ρj+4], t[l] = v[l]+v[l+4]
			P := []VecPhysical{Y0, Y1, Y2, Y3}
			for j, p := range P {
				VMOVUPS(base.Offset(32*j), Y4)
				VPERM2F128(U8(0x20), base.Offset(32*(j+4)), Y4, Y5)
				VPERM2F128(U8(0x31), base.Offset(32*(j+4)), Y4, p)
				VADDPS(p, Y5, p)
			}
			// Q0 = [u of ρ0, ρ1 | u of ρ4, ρ5], u = (t0+t2, t1+t3); Q1 the same for ρ2, ρ3 | ρ6, ρ7
			for j, p := range []VecPhysical{Y0, Y2} {
				VSHUFPS(U8(0x44), P[2*j+1], p, Y4)
				VSHUFPS(U8(0xEE), P[2*j+1], p, Y5)
				VADDPS(Y5, Y4, p)
			}
			// u0+u1 of ρ0..ρ7, in order
			VSHUFPS(U8(0x88), Y2, Y0, Y4)
			VSHUFPS(U8(0xDD), Y2, Y0, Y5)
			VADDPS(Y5, Y4, Y0)
			VMULPS(Y13, Y0, Y0)
			VMOVUPS(Y0, headAddr(oh, left, ostr, h, 0))
		}
		ADDQ(U8(32), oh)
		SUBQ(U8(8), i)
		JMP(LabelRef(pre + "blk"))

		Label(pre + "tail")
		TESTQ(i, i)
		JZ(LabelRef(pre + "end"))
		row(g, pre+"chunk1")
		prefetchV(pre + "pf1")
		outHeads(g)
		for h := 0; h < g; h++ {
			hsum(lo[h], Y14)
			VMULSS(X13, lo[h].AsX(), lo[h].AsX())
			VMOVSS(lo[h].AsX(), headAddr(oh, left, ostr, h, 0))
		}
		ADDQ(stride, kr)
		ADDQ(U8(4), oh)
		DECQ(i)
		JMP(LabelRef(pre + "tail"))

		Label(pre + "end")
		// back to the group's first score
		Load(Param("n"), i)
		SHLQ(U8(2), i)
		SUBQ(i, oh)
	}
	next := func(g int) {
		// qh += g·d, oh += g·outStride
		for j := 0; j < g; j++ {
			ADDQ(d, qh)
			ADDQ(ostr, oh)
		}
	}
	dispatchGroups("s", hleft, block, next)

	Label("sdone")
	VZEROUPPER()
	RET()
}

func attnAccumHeadsF16() {
	TEXT("attnAccumHeadsF16AVX2", NOSPLIT, "func(acc *float32, nh, d int, s *float32, sStride int, v *uint16, stride, n int)")
	Pragma("noescape")
	Doc("attnAccumHeadsF16AVX2 adds s[h][i]·(row i of v) into head h's accumulators",
		"for h < nh, i < n, rows in order, one FMA per element and row (attnAccumF16Go's",
		"order): head h's accumulators are h·d bytes after acc (d = 4× the head size,",
		"a multiple of 64), its weights h·sStride bytes after s; v's rows are stride",
		"bytes apart. The heads go in groups of up to six and the elements in chunks",
		"of 16: the group's chunk accumulators (Y0-Y11) stay in registers over all n",
		"rows, each row's chunk converted once (Y12, Y13); the rows' chunks should",
		"stay in L1 from one chunk to the next (the caller keeps n small).")
	d, sStride, stride, accH, sH, hleft := RBX, RCX, RDX, RSI, RDI, R8
	c, p, p3, vp, sp, sp3, i := R9, R10, R11, R12, R13, R14, RAX
	Load(Param("d"), d)
	Load(Param("sStride"), sStride)
	Load(Param("stride"), stride)
	Load(Param("acc"), accH)
	Load(Param("s"), sH)
	Load(Param("nh"), hleft)
	CMPQ(paramAddr(Param("n")), U8(0))
	JE(LabelRef("adone16"))

	block := func(g int) {
		lo := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5}[:g]
		hi := []VecPhysical{Y6, Y7, Y8, Y9, Y10, Y11}[:g]
		XORQ(c, c)
		chunk := fmt.Sprintf("ag%dchunk", g)
		row := fmt.Sprintf("ag%drow", g)
		Label(chunk)
		LEAQ(Mem{Base: accH, Index: c, Scale: 1}, p)
		if g > 3 {
			LEAQ(Mem{Base: p, Index: d, Scale: 2}, p3)
			ADDQ(d, p3)
		}
		for h := 0; h < g; h++ {
			VMOVUPS(headAddr(p, p3, d, h, 0), lo[h])
			VMOVUPS(headAddr(p, p3, d, h, 32), hi[h])
		}
		// vp = v + c/2: the chunk's 16 halves in row 0.
		MOVQ(c, vp)
		SHRQ(U8(1), vp)
		ADDQ(paramAddr(Param("v")), vp)
		MOVQ(sH, sp)
		if g > 3 {
			LEAQ(Mem{Base: sH, Index: sStride, Scale: 2}, sp3)
			ADDQ(sStride, sp3)
		}
		Load(Param("n"), i)
		Label(row)
		VCVTPH2PS(Mem{Base: vp}, Y12)
		VCVTPH2PS(Mem{Base: vp, Disp: 16}, Y13)
		for h := 0; h < g; h++ {
			b := []VecPhysical{Y14, Y15}[h%2]
			VBROADCASTSS(headAddr(sp, sp3, sStride, h, 0), b)
			VFMADD231PS(Y12, b, lo[h])
			VFMADD231PS(Y13, b, hi[h])
		}
		ADDQ(U8(4), sp)
		if g > 3 {
			ADDQ(U8(4), sp3)
		}
		ADDQ(stride, vp)
		DECQ(i)
		JNZ(LabelRef(row))
		for h := 0; h < g; h++ {
			VMOVUPS(lo[h], headAddr(p, p3, d, h, 0))
			VMOVUPS(hi[h], headAddr(p, p3, d, h, 32))
		}
		ADDQ(U8(64), c)
		CMPQ(c, d)
		JB(LabelRef(chunk))
	}
	next := func(g int) {
		for j := 0; j < g; j++ {
			ADDQ(d, accH)
			ADDQ(sStride, sH)
		}
	}
	dispatchGroups("a", hleft, block, next)

	Label("adone16")
	VZEROUPPER()
	RET()
}
