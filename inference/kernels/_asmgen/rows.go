package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemvRowsQ: out[rows[i]] = dot(row rows[i] of w, x) for i < len(rows); each
// row is nb blocks, rows are rowBytes apart. It is gemvQ over a list of
// scattered rows (ReGLU's active "up" rows): four listed rows share each
// activation block, each row adds its blocks in order into one accumulator
// (so every result is gemvQ's, bit for bit), and the next four listed rows
// are prefetched, since each scattered row start would otherwise stall on
// DRAM. The caller checks every index.
//
// The prefetch is spread over the block loop: each block step prefetches
// the next four rows at the current offset (so each line several times).
// Measured on Zen4, a random half of 768×1536 Q4_0 rows from DRAM: ~9 GB/s,
// against ~4 GB/s for all 56 lines at the start of the quad (the burst
// stalls), ~6.5 GB/s running at twice the offset, ~8 GB/s for two rows per
// block and ~8 GB/s prefetching two quads ahead.
func gemvRowsQ(v variant, q4 bool) {
	name, wBlock := "gemvQ8_0Q8_0Rows", 34
	if q4 {
		name, wBlock = "gemvQ4_0Q8_0Rows", 18
	}
	TEXT(name+v.suffix(), NOSPLIT, "func(w []byte, rowBytes int, x []byte, nb int, rows []int32, out []float32)")
	Pragma("noescape")
	Doc(name + v.suffix() + " sets out[rows[i]] to the dot product of row rows[i] of w (nb blocks, rows rowBytes apart) with the Q8_0 row x.")

	// The block loop needs 11 registers (four row pointers, the next four,
	// the offset in the row, the activation pointer and the block count), so
	// everything else but the list pointer and count is reloaded from the
	// arguments when needed.
	p := []Register{RAX, RBX, RCX, RDX}  // this quad's rows
	next := []Register{RSI, RDI, R8, R9} // the next quad's rows (prefetched)
	off, xp, left := R10, R11, R12
	list, count := R13, R14

	if q4 {
		broadcastConst(0x0f0f0f0f, mask0F)
		broadcastConst(0x08080808, eight)
	}
	if v == avx2 {
		broadcastConst(0x00010001, onesW)
	}
	Load(Param("rows").Base(), list)
	Load(Param("rows").Len(), count)
	TESTQ(count, count)
	JZ(LabelRef("done"))

	// loadRows sets dst[k] to the row of list[first+k] (or of the last
	// listed row past the list's end: never read beyond it), for k < 4; off
	// and xp are scratch.
	loadRows := func(dst []Register, first int) {
		Load(Param("rowBytes"), off)
		for k, n := range dst {
			LEAQ(Mem{Base: list, Index: count, Scale: 4, Disp: -4}, xp) // the last entry
			LEAQ(Mem{Base: list, Disp: 4 * (first + k)}, n)
			CMPQ(count, U8(first+k+1))
			CMOVQCS(xp, n) // count < first+k+1: past the end
			MOVLQSX(Mem{Base: n}, n)
			IMULQ(off, n)
		}
		Load(Param("w").Base(), xp)
		for _, n := range dst {
			ADDQ(xp, n)
		}
	}

	quadAcc := []VecPhysical{Y0, Y1, Y2, Y3}
	dx, xv := Y4, Y5
	x8 := Y12
	quadTemps := [][4]VecPhysical{{Y6, Y7, Y8, Y9}, {Y10, Y11, Y8, Y9}}

	Label("quad")
	CMPQ(count, U8(4))
	JB(LabelRef("row"))
	loadRows(p, 0)
	loadRows(next, 4)
	for _, a := range quadAcc {
		VXORPS(a, a, a)
	}
	XORQ(off, off)
	Load(Param("x").Base(), xp)
	Load(Param("nb"), left)

	Label("quadBlock")
	TESTQ(left, left)
	JZ(LabelRef("quadStore"))
	VPBROADCASTW(Mem{Base: xp}, dx.AsX())
	VCVTPH2PS(dx.AsX(), dx)
	VMOVDQU(Mem{Base: xp, Disp: 2}, xv)
	for _, n := range next {
		PREFETCHT0(Mem{Base: n, Index: off, Scale: 1})
	}
	if q4 {
		sum8x(v, xv, x8)
	}
	for r, a := range quadAcc {
		dotBlockShared(v, q4, Mem{Base: p[r], Index: off, Scale: 1}, dx, xv, x8, a, quadTemps[r%2])
	}
	ADDQ(U8(wBlock), off)
	ADDQ(U8(34), xp)
	DECQ(left)
	JMP(LabelRef("quadBlock"))

	Label("quadStore")
	Load(Param("out").Base(), xp)
	for r, a := range quadAcc {
		hsum(a, Y6)
		MOVLQSX(Mem{Base: list, Disp: 4 * r}, off)
		VMOVSS(a.AsX(), Mem{Base: xp, Index: off, Scale: 4})
	}
	ADDQ(U8(16), list)
	SUBQ(U8(4), count)
	JMP(LabelRef("quad"))

	// The last 1-3 rows, one at a time.
	acc := Y0
	ta := [5]VecPhysical{Y1, Y2, Y3, Y4, Y5}
	wp := p[0]
	Label("row")
	TESTQ(count, count)
	JZ(LabelRef("done"))
	VXORPS(acc, acc, acc)
	MOVLQSX(Mem{Base: list}, wp)
	Load(Param("rowBytes"), off)
	IMULQ(off, wp)
	Load(Param("w").Base(), off)
	ADDQ(off, wp)
	Load(Param("x").Base(), xp)
	Load(Param("nb"), left)

	Label("single")
	TESTQ(left, left)
	JZ(LabelRef("store"))
	dotBlock(v, q4, Mem{Base: wp}, Mem{Base: xp}, acc, ta)
	ADDQ(U8(wBlock), wp)
	ADDQ(U8(34), xp)
	DECQ(left)
	JMP(LabelRef("single"))

	Label("store")
	hsum(acc, Y1)
	Load(Param("out").Base(), xp)
	MOVLQSX(Mem{Base: list}, off)
	VMOVSS(acc.AsX(), Mem{Base: xp, Index: off, Scale: 4})
	ADDQ(U8(4), list)
	DECQ(count)
	JMP(LabelRef("row"))

	Label("done")
	VZEROUPPER()
	RET()
}
