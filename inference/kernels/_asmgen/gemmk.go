package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The gemm4 K-quant kernels compute four activations per pass over the
// weights: each super-block's scales and quants are unpacked once and used
// four times. Per activation they do exactly the gemv kernel's operations
// (same lanes, same FMA per block, same final sums), so the results are
// bit-identical to gemv's. The float accumulators live in stack slots (one
// load, FMA and store per block) to leave registers for the integer work.

// Registers of the gemm4 K-quant kernels.
var (
	gW, gWp, gXoff, gRow = RSI, R10, R12, RBX
	gX                   = []Register{RDI, R8, R9, R11}
	gTmp                 = [5]Register{RAX, RCX, RDX, R13, R14}
)

// gemm4KHeader starts the function and loads the arguments.
func gemm4KHeader(name, doc string) {
	TEXT(name, NOSPLIT, "func(w *byte, rowBytes int, x0, x1, x2, x3 *byte, nb int, o0, o1, o2, o3 *float32, rows int)")
	Pragma("noescape")
	Doc(name+" sets o_j[r] to the dot product of row r of w ("+doc+", nb super-blocks, rows rowBytes apart)",
		"with the Q8_K row x_j, for j < 4 and r < rows, bit-identical to the gemv kernel.")
	Load(Param("w"), gW)
	for j, x := range gX {
		Load(Param(fmt.Sprintf("x%d", j)), x)
	}
}

// storeXend stores nb·292, the activation bytes of a row, in xend.
func storeXend(xend Mem) {
	Load(Param("nb"), RAX)
	IMUL3Q(U32(q8kBytes), RAX, RAX)
	MOVQ(RAX, xend)
}

// gemm4KLoop emits the row and block loops; clear zeroes the per-row
// accumulators, block does one super-block at gWp (activations at
// gX[j]+gXoff), store(j, dst) writes activation j's row result to dst.
func gemm4KLoop(wBlock int, xend Mem, clear, block func(), store func(j int, dst Mem)) {
	XORQ(gRow, gRow)
	Label("row")
	Load(Param("rows"), RAX)
	CMPQ(gRow, RAX)
	JAE(LabelRef("done"))
	clear()
	MOVQ(gW, gWp)
	XORQ(gXoff, gXoff)
	Label("block")
	CMPQ(gXoff, xend)
	JAE(LabelRef("store"))
	block()
	ADDQ(U32(wBlock), gWp)
	ADDQ(U32(q8kBytes), gXoff)
	JMP(LabelRef("block"))
	Label("store")
	for j := range gX {
		Load(Param(fmt.Sprintf("o%d", j)), RAX)
		store(j, Mem{Base: RAX, Index: gRow, Scale: 4})
	}
	Load(Param("rowBytes"), RAX)
	ADDQ(RAX, gW)
	INCQ(gRow)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

func xm(j, disp int) Mem { return Mem{Base: gX[j], Index: gXoff, Scale: 1, Disp: disp} }

// gemm4Q4_5K emits the four-activation Q4_K (q5 false) or Q5_K kernel.
func gemm4Q4_5K(q5 bool) {
	name, wBlock, qsOff, doc := "gemm4Q4_KQ8_KAVX2", q4kBytes, 16, "Q4_K"
	if q5 {
		name, wBlock, qsOff, doc = "gemm4Q5_KQ8_KAVX2", q5kBytes, 48, "Q5_K"
	}
	gemm4KHeader(name, doc)
	scales := AllocLocal(32)
	acc := AllocLocal(4 * 32)
	accm := AllocLocal(4 * 16) // Q4_K: 4 min lanes; Q5_K: the scalar summs
	xend := AllocLocal(8)
	storeXend(xend)
	sumi := []VecPhysical{Y0, Y1, Y2, Y3}
	lo, hi, scl, sch, p, q, t0, t1, qh, wd := Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13
	m4, mone := Y15, Y14
	broadcastConst(0x0f0f0f0f, m4)
	if q5 {
		broadcastConst(0x01010101, mone)
	}
	gemm4KLoop(wBlock, xend, func() {
		VXORPS(t0, t0, t0)
		for j := 0; j < 4; j++ {
			VMOVUPS(t0, acc.Offset(32*j))
			VMOVUPS(t0.AsX(), accm.Offset(16*j))
		}
	}, func() {
		VMOVD(Mem{Base: gWp}, wd.AsX()) // d, dmin
		VCVTPH2PS(wd.AsX(), wd.AsX())
		unpackK4Scales(gWp, scales, t0, [5]Register{EAX, ECX, EDX, R13L, R14L})
		for j := range gX {
			// d_j = x_j.d·w.d, dmin_j = x_j.d·w.dmin in t1 lanes 0 and 1
			VBROADCASTSS(xm(j, 0), t1.AsX())
			VMULPS(wd.AsX(), t1.AsX(), t1.AsX())
			VMOVDQU(xm(j, q8kBsums), t0)
			VEXTRACTI128(U8(1), t0, p.AsX())
			VPHADDW(p.AsX(), t0.AsX(), t0.AsX())
			VPMADDWD(scales.Offset(16), t0.AsX(), t0.AsX())
			VMOVSHDUP(t1.AsX(), p.AsX()) // dmin_j in lane 0
			if q5 {
				VPHADDD(t0.AsX(), t0.AsX(), t0.AsX())
				VPHADDD(t0.AsX(), t0.AsX(), t0.AsX())
				VCVTDQ2PS(t0.AsX(), t0.AsX())
				VMOVSS(accm.Offset(16*j), q.AsX())
				VFNMADD231SS(t0.AsX(), p.AsX(), q.AsX())
				VMOVSS(q.AsX(), accm.Offset(16*j))
			} else {
				VBROADCASTSS(p.AsX(), p.AsX())
				VCVTDQ2PS(t0.AsX(), t0.AsX())
				VMOVUPS(accm.Offset(16*j), q.AsX())
				VFNMADD231PS(t0.AsX(), p.AsX(), q.AsX())
				VMOVUPS(q.AsX(), accm.Offset(16*j))
			}
		}
		if q5 {
			VMOVDQU(Mem{Base: gWp, Disp: 16}, qh)
		}
		for _, s := range sumi {
			VPXOR(s, s, s)
		}
		for c := 0; c < 4; c++ {
			VMOVDQU(Mem{Base: gWp, Disp: qsOff + 32*c}, t0)
			VPAND(m4, t0, lo)
			VPSRLW(U8(4), t0, hi)
			VPAND(m4, hi, hi)
			if q5 {
				for h, v := range []VecPhysical{lo, hi} {
					VPSRLW(U8(2*c+h), qh, t1)
					VPAND(mone, t1, t1)
					VPSLLW(U8(4), t1, t1)
					VPADDB(t1, v, v)
				}
			}
			VPBROADCASTW(scales.Offset(2*(2*c)), scl)
			VPBROADCASTW(scales.Offset(2*(2*c+1)), sch)
			for j, s := range sumi {
				VPMADDUBSW(xm(j, q8kQs+64*c), lo, p)
				VPMADDWD(scl, p, p)
				VPMADDUBSW(xm(j, q8kQs+64*c+32), hi, q)
				VPMADDWD(sch, q, q)
				VPADDD(q, p, p)
				VPADDD(p, s, s)
			}
		}
		for j, s := range sumi {
			VBROADCASTSS(xm(j, 0), t1.AsX())
			VMULSS(wd.AsX(), t1.AsX(), t1.AsX())
			VBROADCASTSS(t1.AsX(), t1)
			VCVTDQ2PS(s, s)
			VMOVUPS(acc.Offset(32*j), p)
			VFMADD231PS(s, t1, p)
			VMOVUPS(p, acc.Offset(32*j))
		}
	}, func(j int, dst Mem) {
		VMOVUPS(acc.Offset(32*j), p)
		hsum(p, t0)
		if q5 {
			VADDSS(accm.Offset(16*j), p.AsX(), p.AsX())
		} else {
			VMOVUPS(accm.Offset(16*j), q.AsX())
			VMOVHLPS(q.AsX(), q.AsX(), t0.AsX())
			VADDPS(t0.AsX(), q.AsX(), q.AsX())
			VMOVSHDUP(q.AsX(), t0.AsX())
			VADDSS(t0.AsX(), q.AsX(), q.AsX())
			VADDSS(q.AsX(), p.AsX(), p.AsX())
		}
		VMOVSS(p.AsX(), dst)
	})
}

// gemm4Q6_K emits the four-activation Q6_K kernel.
func gemm4Q6_K() {
	gemm4KHeader("gemm4Q6_KQ8_KAVX2", "Q6_K")
	acc := AllocLocal(4 * 32)
	xend := AllocLocal(8)
	storeXend(xend)
	sumi := []VecPhysical{Y0, Y1, Y2, Y3}
	b1, b2, bh, q, h, sc, p, s32, scales := Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12
	m4, m3, m32 := Y15, Y14, Y13
	broadcastConst(0x0f0f0f0f, m4)
	broadcastConst(0x03030303, m3)
	broadcastConst(0x20202020, m32)
	gemm4KLoop(q6kBytes, xend, func() {
		VXORPS(p, p, p)
		for j := 0; j < 4; j++ {
			VMOVUPS(p, acc.Offset(32*j))
		}
	}, func() {
		VMOVDQU(Mem{Base: gWp, Disp: 192}, scales.AsX())
		for _, s := range sumi {
			VPXOR(s, s, s)
		}
		for half := 0; half < 2; half++ {
			VMOVDQU(Mem{Base: gWp, Disp: 64 * half}, b1)
			VMOVDQU(Mem{Base: gWp, Disp: 64*half + 32}, b2)
			VMOVDQU(Mem{Base: gWp, Disp: 128 + 32*half}, bh)
			for l := 0; l < 4; l++ {
				if l == 0 {
					VPAND(m3, bh, h)
				} else {
					VPSRLW(U8(2*l), bh, h)
					VPAND(m3, h, h)
				}
				VPSLLW(U8(4), h, h)
				src := b1
				if l%2 == 1 {
					src = b2
				}
				if l < 2 {
					VPAND(m4, src, q)
				} else {
					VPSRLW(U8(4), src, q)
					VPAND(m4, q, q)
				}
				VPOR(h, q, q)
				c := 4*half + l
				VPSHUFB(shuf.Offset(16*c), scales.AsX(), sc.AsX())
				VPMOVSXBW(sc.AsX(), sc)
				for j, s := range sumi {
					VMOVDQU(xm(j, q8kQs+128*half+32*l), p)
					VPMADDUBSW(p, m32, s32)
					VPMADDUBSW(p, q, p)
					VPSUBW(s32, p, p)
					VPMADDWD(sc, p, p)
					VPADDD(p, s, s)
				}
			}
		}
		for j, s := range sumi {
			MOVWLZX(Mem{Base: gWp, Disp: 208}, EAX)
			VMOVD(EAX, h.AsX())
			VCVTPH2PS(h.AsX(), h.AsX())
			VMULSS(xm(j, 0), h.AsX(), h.AsX())
			VBROADCASTSS(h.AsX(), h)
			VCVTDQ2PS(s, s)
			VMOVUPS(acc.Offset(32*j), p)
			VFMADD231PS(s, h, p)
			VMOVUPS(p, acc.Offset(32*j))
		}
	}, func(j int, dst Mem) {
		VMOVUPS(acc.Offset(32*j), p)
		hsum(p, h)
		VMOVSS(p.AsX(), dst)
	})
}
