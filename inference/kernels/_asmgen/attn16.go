package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Attention over an F16 KV cache in the order of ../attn16.go's plain-Go
// versions. Both kernels take the heads in groups (of up to scoresGroup or
// f16Group), with code specialized for every group size, so that a group's
// accumulators stay in registers while each K or V chunk is converted once
// for the group.

const f16Group = 6

// scoresGroup is the scores kernel's group: three heads × two rows × two
// halves of a chunk take twelve accumulators.
const scoresGroup = 3

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

// dispatchGroups emits the loop over head groups: while hleft ≥ group
// run block(group) then next(group), then one smaller group for the
// rest. block and next emit the code of one group of g heads and the step
// to the following group.
func dispatchGroups(prefix string, group int, hleft GPPhysical, block, next func(g int)) {
	Label(prefix + "grp")
	CMPQ(hleft, U8(group))
	JB(LabelRef(prefix + "rest"))
	block(group)
	next(group)
	SUBQ(U8(group), hleft)
	JMP(LabelRef(prefix + "grp"))
	Label(prefix + "rest")
	for g := group - 1; g >= 1; g-- {
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
		"out; k's rows are stride bytes apart. The heads go in groups of up to three",
		"and the rows in pairs: each q chunk is loaded once (Y15) for both rows'",
		"converted chunks (Y12, Y14), into 16-lane accumulators Y0-Y5 (lanes 0-7)",
		"and Y6-Y11 (lanes 8-15): five loads for six FMAs where one row per pass",
		"took seven. Rows go in blocks of eight, every group over the block while",
		"it is in L1: each row's lanes l+8 are added onto l and parked on the",
		"stack, then one transposing tree per head does the eight rows' hsum8 at",
		"once; the last n mod 8 rows use hsum, in pairs and then alone.",
		"Unless pfDelta is 0, the row pfDelta bytes after each K row (its V row) is",
		"prefetched into L2 once the row is done: the weighted sum reads it next;",
		"and so is the K row 16 rows ahead, into L1.")
	// The eight rows' 8-lane vectors of each head of a group; too big a
	// frame for NOSPLIT, so the function checks its stack.
	park := AllocLocal(scoresGroup * 8 * 32)
	stride, d, ostr, qh, oh, hleft := RDI, RDX, R9, R10, R11, R12
	qp, kp, left, kr, i, r, kb, ob := R13, RAX, RCX, RSI, RBX, R8, R14, R15
	Load(Param("stride"), stride)
	Load(Param("d"), d)
	Load(Param("outStride"), ostr)
	Load(Param("out"), ob)
	VBROADCASTSS(paramAddr(Param("scale")), Y13)
	CMPQ(paramAddr(Param("n")), U8(0))
	JE(LabelRef("sdone"))

	// lo[r][h], hi[r][h]: lanes 0-7 and 8-15 of head h's dot with row r of
	// a pair (row 0 alone in row1).
	lo := [2][]VecPhysical{{Y0, Y1, Y2}, {Y3, Y4, Y5}}
	hi := [2][]VecPhysical{{Y6, Y7, Y8}, {Y9, Y10, Y11}}
	// row2 emits the dot products of the group's g heads with the rows at
	// kb and kb+stride, lanes l+8 added onto l in lo.
	row2 := func(g int, lbl string) {
		for rr := 0; rr < 2; rr++ {
			for h := 0; h < g; h++ {
				VXORPS(lo[rr][h], lo[rr][h], lo[rr][h])
				VXORPS(hi[rr][h], hi[rr][h], hi[rr][h])
			}
		}
		MOVQ(qh, qp)
		MOVQ(kb, kp)
		MOVQ(d, left)
		Label(lbl)
		for half, acc := range [][2][]VecPhysical{lo, hi} {
			VCVTPH2PS(Mem{Base: kp, Disp: 16 * half}, Y12)
			VCVTPH2PS(Mem{Base: kp, Index: stride, Scale: 1, Disp: 16 * half}, Y14)
			for h := 0; h < g; h++ {
				VMOVUPS(headAddr(qp, qp, d, h, 32*half), Y15)
				VFMADD231PS(Y15, Y12, acc[0][h])
				VFMADD231PS(Y15, Y14, acc[1][h])
			}
		}
		ADDQ(U8(64), qp)
		ADDQ(U8(32), kp)
		SUBQ(U8(64), left)
		JNZ(LabelRef(lbl))
		for rr := 0; rr < 2; rr++ {
			for h := 0; h < g; h++ {
				VADDPS(hi[rr][h], lo[rr][h], lo[rr][h])
			}
		}
	}
	// row1 does the same for the row at kb alone, into lo[0] (q from
	// memory: one row has nothing to share the loads with).
	row1 := func(g int, lbl string) {
		for h := 0; h < g; h++ {
			VXORPS(lo[0][h], lo[0][h], lo[0][h])
			VXORPS(hi[0][h], hi[0][h], hi[0][h])
		}
		MOVQ(qh, qp)
		MOVQ(kb, kp)
		MOVQ(d, left)
		Label(lbl)
		VCVTPH2PS(Mem{Base: kp}, Y14)
		VCVTPH2PS(Mem{Base: kp, Disp: 16}, Y15)
		for h := 0; h < g; h++ {
			VFMADD231PS(headAddr(qp, qp, d, h, 0), Y14, lo[0][h])
			VFMADD231PS(headAddr(qp, qp, d, h, 32), Y15, hi[0][h])
		}
		ADDQ(U8(64), qp)
		ADDQ(U8(32), kp)
		SUBQ(U8(64), left)
		JNZ(LabelRef(lbl))
		for h := 0; h < g; h++ {
			VADDPS(hi[0][h], lo[0][h], lo[0][h])
		}
	}
	// prefetchV prefetches the d/2 bytes pfDelta after the row at kr, and
	// the K row 16 rows ahead (kp and left are free between rows). One
	// layer's attention of the 4B from DRAM (BenchmarkAttentionCold, ctx
	// 512): 80-115 us without, 62-80 with.
	prefetchV := func(lbl string, kr GPPhysical) {
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
	next := func(g int) {
		// qh += g·d, oh += g·outStride
		for j := 0; j < g; j++ {
			ADDQ(d, qh)
			ADDQ(ostr, oh)
		}
	}
	// scoresOut scales the hsums in lo[rr][:g] and stores them as the
	// scores of the row rr after the one at oh.
	scoresOut := func(g, rr int) {
		for h := 0; h < g; h++ {
			v := lo[rr][h]
			hsum(v, Y15)
			VMULSS(X13, v.AsX(), v.AsX())
			VMOVSS(v.AsX(), headAddr(oh, oh, ostr, h, 4*rr))
		}
	}
	// pfRows runs prefetchV for the next cnt rows, leaving kr after them.
	pfRows := func(lbl string, cnt Op) {
		MOVQ(cnt, r)
		Label(lbl + "row")
		prefetchV(lbl, kr)
		ADDQ(stride, kr)
		DECQ(r)
		JNZ(LabelRef(lbl + "row"))
	}
	// groups runs body for every head group, from q's and ob's first head.
	groups := func(prefix string, body func(g int)) {
		Load(Param("nh"), hleft)
		Load(Param("q"), qh)
		MOVQ(ob, oh)
		dispatchGroups(prefix, scoresGroup, hleft, body, next)
	}
	// block8 does the eight rows at kr for g heads.
	block8 := func(g int) {
		pre := fmt.Sprintf("sb%d", g)
		MOVQ(kr, kb)
		XORQ(r, r)
		Label(pre + "row8")
		row2(g, pre+"chunk")
		for rr := 0; rr < 2; rr++ {
			for h := 0; h < g; h++ {
				m := park.Offset(h*256 + 32*rr)
				m.Index, m.Scale = r, 1
				VMOVUPS(lo[rr][h], m)
			}
		}
		// The first group prefetches for the pair, spread over the block.
		Load(Param("q"), kp)
		CMPQ(qh, kp)
		JNE(LabelRef(pre + "pfno"))
		prefetchV(pre+"pfa", kb)
		ADDQ(stride, kb)
		prefetchV(pre+"pfb", kb)
		SUBQ(stride, kb)
		Label(pre + "pfno")
		ADDQ(stride, kb)
		ADDQ(stride, kb)
		ADDQ(U8(64), r)
		CMPQ(r, U32(256))
		JB(LabelRef(pre + "row8"))
		// Per head, rows ρ0..ρ7 (vectors v of 8 lanes): hsum8(v) =
		// ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)), for all eight rows at once.
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
			VMOVUPS(Y0, headAddr(oh, oh, ostr, h, 0))
		}
	}
	// tail does the last i < 8 rows at kr for g heads: pairs, then one.
	tail := func(g int) {
		pre := fmt.Sprintf("st%d", g)
		MOVQ(kr, kb)
		MOVQ(i, r)
		Label(pre + "pair")
		CMPQ(r, U8(2))
		JB(LabelRef(pre + "one"))
		row2(g, pre+"chunk2")
		scoresOut(g, 0)
		scoresOut(g, 1)
		ADDQ(stride, kb)
		ADDQ(stride, kb)
		ADDQ(U8(8), oh)
		SUBQ(U8(2), r)
		JMP(LabelRef(pre + "pair"))
		Label(pre + "one")
		TESTQ(r, r)
		JZ(LabelRef(pre + "end"))
		row1(g, pre+"chunk1")
		scoresOut(g, 0)
		ADDQ(U8(4), oh)
		Label(pre + "end")
		// back to the group's first score
		MOVQ(i, r)
		SHLQ(U8(2), r)
		SUBQ(r, oh)
	}

	// Rows in blocks of eight, all heads each, so that the block's K rows
	// stay in L1 from one group to the next; then the block's prefetches,
	// once per row whatever the number of groups.
	Load(Param("k"), kr)
	Load(Param("n"), i)
	Label("sblk")
	CMPQ(i, U8(8))
	JB(LabelRef("stail"))
	groups("sb", block8)
	for j := 0; j < 8; j++ {
		ADDQ(stride, kr)
	}
	ADDQ(U8(32), ob)
	SUBQ(U8(8), i)
	JMP(LabelRef("sblk"))
	Label("stail")
	TESTQ(i, i)
	JZ(LabelRef("sdone"))
	groups("st", tail)
	pfRows("spf1", i)

	Label("sdone")
	VZEROUPPER()
	RET()
}

func attnAccumHeadsF16() {
	TEXT("attnAccumHeadsF16AVX2", NOSPLIT, "func(acc *float32, nh, d int, s *float32, sStride int, v *uint16, stride, n int, pfOff, pfEnd int)")
	Pragma("noescape")
	Doc("attnAccumHeadsF16AVX2 adds s[h][i]·(row i of v) into head h's accumulators",
		"for h < nh, i < n, rows in order, one FMA per element and row (attnAccumF16Go's",
		"order): head h's accumulators are h·d bytes after acc (d = 4× the head size,",
		"a multiple of 64), its weights h·sStride bytes after s; v's rows are stride",
		"bytes apart. The heads go in groups of up to six and the elements in chunks",
		"of 16: the group's chunk accumulators (Y0-Y11) stay in registers over all n",
		"rows, each row's chunk converted once (Y12, Y13); the rows' chunks should",
		"stay in L1 from one chunk to the next (the caller keeps n small).",
		"First the bytes [pfOff, pfEnd) after v are prefetched into L2, a line at a",
		"time: the caller's next rows (and this call's, if no call before took them),",
		"one sequential stream where the chunks' own reads go down the rows at",
		"the row stride.")
	d, sStride, stride, accH, sH, hleft := RBX, RCX, RDX, RSI, RDI, R8
	c, p, p3, vp, sp, sp3, i := R9, R10, R11, R12, R13, R14, RAX
	Load(Param("d"), d)
	accumHeadsArgs("adone16", sStride, stride, accH, sH, hleft)
	// The prefetches (c, p free until the chunk loop).
	Load(Param("pfOff"), c)
	Load(Param("pfEnd"), p)
	ADDQ(paramAddr(Param("v")), c)
	ADDQ(paramAddr(Param("v")), p)
	Label("apf16")
	CMPQ(c, p)
	JAE(LabelRef("apf16done"))
	PREFETCHT1(Mem{Base: c})
	ADDQ(U8(64), c)
	JMP(LabelRef("apf16"))
	Label("apf16done")

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
	dispatchGroups("a", f16Group, hleft, block, next)

	Label("adone16")
	VZEROUPPER()
	RET()
}

// accumGroup512 is the AVX-512 weighted-sum kernel's group: three heads'
// 8 × 16-lane accumulators take 24 of the 32 registers.
const accumGroup512 = 3

// accumHeadsArgs loads the weighted-sum kernels' common arguments and
// jumps to done when there are no rows.
func accumHeadsArgs(done string, sStride, stride, acc, s, nh GPPhysical) {
	Load(Param("sStride"), sStride)
	Load(Param("stride"), stride)
	Load(Param("acc"), acc)
	Load(Param("s"), s)
	Load(Param("nh"), nh)
	CMPQ(paramAddr(Param("n")), U8(0))
	JE(LabelRef(done))
}

// attnAccumHeadsF16AVX512 is attnAccumHeadsF16AVX2 for a head size of 128
// with whole rows at a time: a group of up to three heads keeps all its
// accumulators (8 × 16 lanes per head) in Z0-Z23 while the rows go by in
// order, each row's 128 halves converted once for the group. V is read row
// after row, one sequential stream, where the AVX2 kernel's 16-element
// chunks go down the rows eight times at a 256-byte stride (at 2K
// positions its V rows arrive from DRAM at a fraction of the bandwidth).
// One FMA per element and row in row order: bit-identical to it.
func attnAccumHeadsF16AVX512() {
	TEXT("attnAccumHeadsF16AVX512", NOSPLIT, "func(acc *float32, nh int, s *float32, sStride int, v *uint16, stride, n int)")
	Pragma("noescape")
	Doc("attnAccumHeadsF16AVX512 adds s[h][i]·(row i of v) into head h's 128",
		"accumulators for h < nh, i < n, rows in order (attnAccumF16Go's order):",
		"head h's accumulators are 512·h bytes after acc, its weights h·sStride",
		"bytes after s; v's rows are stride bytes apart. Heads go in groups of up",
		"to three, whose accumulators stay in registers over all n rows.")
	sStride, stride, accH, sH, hleft := RCX, RDX, RSI, RDI, R8
	vp, sp, i := R9, R10, R11
	accumHeadsArgs("xdone", sStride, stride, accH, sH, hleft)

	zr := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23}
	bc := []VecPhysical{Z24, Z25, Z26}
	cv := []VecPhysical{Z27, Z28, Z29, Z30}
	sAddr := func(h int) Mem {
		if h == 0 {
			return Mem{Base: sp}
		}
		return Mem{Base: sp, Index: sStride, Scale: uint8(h)}
	}
	block := func(g int) {
		for h := 0; h < g; h++ {
			for c := 0; c < 8; c++ {
				VMOVUPS(Mem{Base: accH, Disp: 512*h + 64*c}, zr[8*h+c])
			}
		}
		Load(Param("v"), vp)
		MOVQ(sH, sp)
		Load(Param("n"), i)
		row := fmt.Sprintf("x%drow", g)
		Label(row)
		for h := 0; h < g; h++ {
			VBROADCASTSS(sAddr(h), bc[h])
		}
		for c := 0; c < 8; c++ {
			x := cv[c%len(cv)]
			VCVTPH2PS(Mem{Base: vp, Disp: 32 * c}, x)
			for h := 0; h < g; h++ {
				VFMADD231PS(x, bc[h], zr[8*h+c])
			}
		}
		ADDQ(U8(4), sp)
		ADDQ(stride, vp)
		DECQ(i)
		JNZ(LabelRef(row))
		for h := 0; h < g; h++ {
			for c := 0; c < 8; c++ {
				VMOVUPS(zr[8*h+c], Mem{Base: accH, Disp: 512*h + 64*c})
			}
		}
	}
	next := func(g int) {
		ADDQ(U32(512*g), accH)
		for j := 0; j < g; j++ {
			ADDQ(sStride, sH)
		}
	}
	dispatchGroups("x", accumGroup512, hleft, block, next)

	Label("xdone")
	VZEROUPPER()
	RET()
}
