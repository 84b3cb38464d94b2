package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Gathered-rows Q4_0 kernels: GemvRows over plain-layout Q4_0 rows with
// the Q4_0x4 kernels' arithmetic (see packed.go). Each pass takes four
// listed rows, gathers block b's 16 nibble bytes and fp16 scale from the
// four rows' addresses into one register and runs the packed per-block
// steps on it, with the activation's Q8_0Aux: the same int32 lanes, FMA
// order and hsum as the plain kernels, so bit-identical results. A last
// pass of 1-3 rows repeats the list's last row in the missing places (it
// stores the same value again), so reads never leave the listed rows.
//
// While a quad computes, each block step prefetches the next quad's four
// rows at the current offset (scattered row starts would otherwise stall
// on DRAM), into L2: PREFETCHT0 filled L1's miss buffers. A random half of
// 768×1536 rows from DRAM on Zen 4, one thread: ~9 GB/s with T0 as the
// plain-arithmetic kernel (16-17 GB/s from cache; this one 18.5-19.5), ~11
// with T1 (T2 the same, NTA ~8.8); prefetching two quads ahead, half as
// often, or also the current rows a line ahead into L1 gained nothing.

// Registers of the gathered kernels.
var (
	gxP             = []Register{RAX, RBX, RCX, RDX} // this quad's rows, biased by nb blocks
	gxNext          = []Register{RSI, RDI, R8, R9}   // the next quad's rows (prefetched), biased likewise
	gxOff, gxXp     = R10, R11                       // offset (-nb blocks up to 0), activation block
	gxAp            = R12                            // aux block
	gxList, gxCount = R13, R14
)

func rowsX4Args(name string) {
	TEXT(name, NOSPLIT, "func(w *byte, rowBytes int, x *byte, aux *byte, nb int, rows *int32, count int, out *float32)")
	Pragma("noescape")
	Doc(name + " sets out[rows[i]], i < count, to the dot product of row rows[i] of the Q4_0 matrix w (nb blocks, rows rowBytes apart) with the Q8_0 row x, whose Q8_0Aux is aux.")
}

// rowsX4Entry sets dst to the address of list entry first+k, or of the
// last entry past the list's end (never read beyond it).
func rowsX4Entry(dst, last Register, i int) {
	LEAQ(Mem{Base: gxList, Disp: 4 * i}, dst)
	CMPQ(gxCount, U8(i+1))
	CMOVQCS(last, dst) // count < i+1: past the end
}

// rowsX4Load sets dst[k] to the address of the row of list entry first+k
// (clamped as rowsX4Entry) plus nb blocks, the block loop's offsets going
// from -nb blocks up to 0; gxOff and gxXp are scratch.
func rowsX4Load(dst []Register, first int) {
	LEAQ(Mem{Base: gxList, Index: gxCount, Scale: 4, Disp: -4}, gxXp) // the last entry
	for k, n := range dst {
		rowsX4Entry(n, gxXp, first+k)
		MOVLQSX(Mem{Base: n}, n)
	}
	Load(Param("rowBytes"), gxOff)
	for _, n := range dst {
		IMULQ(gxOff, n)
	}
	Load(Param("nb"), gxOff)
	IMUL3Q(U8(18), gxOff, gxOff)
	Load(Param("w"), gxXp)
	ADDQ(gxOff, gxXp)
	for _, n := range dst {
		ADDQ(gxXp, n)
	}
}

// rowsX4Quad emits the pass loop around block (one block of the quad at
// gxOff, gxXp, gxAp) and store (the four results, out's base in gxAp,
// storing row k's value to the address that rowsX4Out gives).
func rowsX4Quad(wBlock int, zero func(), block func(), store func()) {
	Load(Param("rows"), gxList)
	Load(Param("count"), gxCount)

	Label("quad")
	TESTQ(gxCount, gxCount)
	JZ(LabelRef("done"))
	rowsX4Load(gxP, 0)
	rowsX4Load(gxNext, 4)
	zero()
	Load(Param("nb"), gxOff)
	IMUL3Q(I8(-18), gxOff, gxOff)
	Load(Param("x"), gxXp)
	Load(Param("aux"), gxAp)

	Label("block")
	for _, n := range gxNext {
		PREFETCHT1(Mem{Base: n, Index: gxOff, Scale: 1})
	}
	block()
	ADDQ(U8(q8BlockSize), gxXp)
	ADDQ(U8(q8AuxBytes), gxAp)
	ADDQ(U8(wBlock), gxOff)
	JNZ(LabelRef("block"))

	Load(Param("out"), gxAp)
	store()
	CMPQ(gxCount, U8(4))
	JBE(LabelRef("done"))
	ADDQ(U8(16), gxList)
	SUBQ(U8(4), gxCount)
	JMP(LabelRef("quad"))

	Label("done")
	VZEROUPPER()
	RET()
}

// rowsX4Const defines 16 read-only uint32s f(0..15).
func rowsX4Const(name string, f func(int) uint32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(f(i)))
	}
	return m
}

// rowsX4Out returns the address of out[rows[first+k]] (clamped), using
// gxOff and gxXp.
func rowsX4Out(k int) Mem {
	LEAQ(Mem{Base: gxList, Index: gxCount, Scale: 4, Disp: -4}, gxXp)
	rowsX4Entry(gxOff, gxXp, k)
	MOVLQSX(Mem{Base: gxOff}, gxOff)
	return Mem{Base: gxAp, Index: gxOff, Scale: 4}
}

// rowsX4Scales loads the four rows' fp16 scales of the block at gxOff into
// the low four words of s (the VMOVD's second word is overwritten).
func rowsX4Scales(s VecPhysical) {
	VMOVD(Mem{Base: gxP[0], Index: gxOff, Scale: 1}, s.AsX())
	for k := 1; k < 4; k++ {
		VPINSRW(U8(k), Mem{Base: gxP[k], Index: gxOff, Scale: 1}, s.AsX(), s.AsX())
	}
}

// gemvQ4_0RowsX4AVX512 holds a block of the quad's nibbles in one 512-bit
// register, each 128-bit lane one row, as gemvQ4_0x4AVX512.
func gemvQ4_0RowsX4AVX512() {
	rowsX4Args("gemvQ4_0RowsX4AVX512")
	mask, perm, gather := Z31, Z30, Z29
	xlo, xhi, nlo, nhi := Z0, Z1, Z2, Z3
	lo, hi, w, wh, sl, sh, d := Z4, Z5, Z8, Z9, Z10, Z11, Z12
	broadcastConst(0x0f0f0f0f, mask)
	VMOVDQU32(rowsX4Const("rowsX4ScalePerm", func(i int) uint32 { return uint32(i / 4) }), perm)      // row r's scale in lanes 4r..4r+3
	VMOVDQU32(rowsX4Const("rowsX4Gather", func(i int) uint32 { return uint32(4 * (i % 4)) }), gather) // lanes 0, 4, 8, 12 to 0..3

	rowsX4Quad(18, func() {
		VPXORD(lo, lo, lo)
		VPXORD(hi, hi, hi)
	}, func() {
		VBROADCASTI32X4(Mem{Base: gxXp, Disp: 2}, xlo)
		VBROADCASTI32X4(Mem{Base: gxXp, Disp: 18}, xhi)
		VBROADCASTI32X4(Mem{Base: gxAp}, nlo)
		VBROADCASTI32X4(Mem{Base: gxAp, Disp: 16}, nhi)
		VMOVDQU(Mem{Base: gxP[0], Index: gxOff, Scale: 1, Disp: 2}, w.AsX())
		for k := 1; k < 4; k++ {
			VINSERTI32X4(U8(k), Mem{Base: gxP[k], Index: gxOff, Scale: 1, Disp: 2}, w, w)
		}
		VPSRLW(U8(4), w, wh)
		VPANDD(mask, w, w) // elements 0..15 of each row
		VPANDD(mask, wh, wh)
		VMOVDQA32(nlo, sl) // start the sums at -8·Σx: Σ(u-8)·x = Σu·x - 8·Σx
		VMOVDQA32(nhi, sh)
		vpdpbusd(xlo, w, sl)
		vpdpbusd(xhi, wh, sh)
		VCVTDQ2PS(sl, sl)
		VCVTDQ2PS(sh, sh)
		rowsX4Scales(d)
		VCVTPH2PS(d.AsX(), d.AsX())
		VMULPS(Mem{Base: gxAp, Disp: 32}, d.AsX(), d.AsX()) // × the activation's
		VPERMPS(d, perm, d)
		VFMADD231PS(d, sl, lo)
		VFMADD231PS(d, sh, hi)
	}, func() {
		q4x4ReduceAVX512(lo, hi, w, gather)
		for k := 0; k < 4; k++ {
			VEXTRACTPS(U8(k), w.AsX(), rowsX4Out(k))
		}
	})
}

// gemvQ4_0RowsX4AVX2 holds a block of two rows' nibbles in one 256-bit
// register, each 128-bit lane one row, as gemvQ4_0x4AVX2.
func gemvQ4_0RowsX4AVX2() {
	rowsX4Args("gemvQ4_0RowsX4AVX2")
	mask, ones := Y15, Y14
	xlo, xhi, nlo, nhi := Y4, Y5, Y6, Y7
	d01, d23, w, wh := Y8, Y9, Y10, Y11
	acc := []VecPhysical{Y0, Y1, Y2, Y3} // lo01, hi01, lo23, hi23
	broadcastConst(0x0f0f0f0f, mask)
	broadcastConst(0x00010001, ones)
	// rows 0,1 then rows 2,3: lane l picks scale l/4 (+2)
	ctl := rowsX4Const("rowsX4ScaleCtl", func(i int) uint32 { return uint32(i / 4) })

	rowsX4Quad(18, func() {
		for _, a := range acc {
			VXORPS(a, a, a)
		}
	}, func() {
		VBROADCASTI128(Mem{Base: gxXp, Disp: 2}, xlo)
		VBROADCASTI128(Mem{Base: gxXp, Disp: 18}, xhi)
		VBROADCASTI128(Mem{Base: gxAp}, nlo)
		VBROADCASTI128(Mem{Base: gxAp, Disp: 16}, nhi)
		// Scales: [s0 s1 s2 s3 s0 s1 s2 s3] × dx, then spread per row.
		rowsX4Scales(d01)
		VPUNPCKLQDQ(d01.AsX(), d01.AsX(), d01.AsX())
		VCVTPH2PS(d01.AsX(), d01)
		VMULPS(Mem{Base: gxAp, Disp: 32}, d01, d01)
		VPERMILPS(ctl.Offset(32), d01, d23)
		VPERMILPS(ctl, d01, d01)
		for half := 0; half < 2; half++ {
			d := []VecPhysical{d01, d23}[half]
			VMOVDQU(Mem{Base: gxP[2*half], Index: gxOff, Scale: 1, Disp: 2}, w.AsX())
			VINSERTI128(U8(1), Mem{Base: gxP[2*half+1], Index: gxOff, Scale: 1, Disp: 2}, w, w)
			q4x4PairBlockAVX2(q4x4PairRegs{w, wh, xlo, xhi, nlo, nhi, mask, ones}, d, acc[2*half], acc[2*half+1])
		}
	}, func() {
		q4x4ReduceAVX2(acc, w)
		for k := 0; k < 4; k++ {
			VEXTRACTPS(U8(k), acc[0].AsX(), rowsX4Out(k))
		}
	})
}
