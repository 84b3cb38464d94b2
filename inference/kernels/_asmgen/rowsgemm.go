package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemm4Q4_0RowsAVX512 is gemm4Q4_0x4AVX512 on plain-layout Q4_0 rows: each
// block of four consecutive rows is gathered into one register (as
// gemvQ4_0RowsX4AVX512 does) and multiplied by four activations with the
// packed kernels' arithmetic, so its results are bit-identical to theirs.
// For matrices that stay plain (the experts' up rows, which ReGLU skips
// one by one in decode) in prompt batches: the plain-layout four-activation
// kernel spends more per block on unpacking than this one on gathering.
func gemm4Q4_0RowsAVX512() {
	name := "gemm4Q4_0RowsAVX512"
	TEXT(name, NOSPLIT, "func(w *byte, rowBytes int, x0, x1, x2, x3, a0, a1, a2, a3 *byte, nb int, o0, o1, o2, o3 *float32, quads int)")
	Pragma("noescape")
	Doc(name + " sets o_j[r], r < 4·quads, j < 4, to the dot product of row r of the Q4_0 matrix w (nb blocks, rows rowBytes apart) with the Q8_0 row x_j, whose Q8_0Aux is a_j.")
	x := []Register{RDI, R9, R10, R11}
	wq, qbase, rb, rb3 := RSI, R12, R13, R14
	left, o, quads, tmp, ba := RCX, RDX, R8, RAX, RBX
	Load(Param("w"), qbase)
	Load(Param("rowBytes"), rb)
	LEAQ(Mem{Base: rb, Index: rb, Scale: 2}, rb3)
	Load(Param("quads"), quads)
	XORQ(o, o)

	mask, perm, gather := Z31, Z30, Z29
	w, wh, d := Z8, Z9, Z10
	type temps struct{ x, sl, sh, ds VecPhysical }
	tmps := []temps{{Z11, Z12, Z13, Z14}, {Z15, Z16, Z17, Z18}}
	acc := func(j int) (lo, hi VecPhysical) {
		return []VecPhysical{Z0, Z2, Z4, Z6}[j], []VecPhysical{Z1, Z3, Z5, Z7}[j]
	}
	broadcastConst(0x0f0f0f0f, mask)
	VMOVDQU32(Mem{Base: StaticBase, Symbol: Symbol{Name: "q4x4ScalePerm", Static: true}}, perm)
	VMOVDQU32(Mem{Base: StaticBase, Symbol: Symbol{Name: "q4x4Gather", Static: true}}, gather)

	Label(name + "_quad")
	TESTQ(quads, quads)
	JZ(LabelRef(name + "_done"))
	for j := 0; j < 4; j++ {
		lo, hi := acc(j)
		VPXORD(lo, lo, lo)
		VPXORD(hi, hi, hi)
		Load(Param(fmt.Sprintf("x%d", j)), x[j])
	}
	MOVQ(qbase, wq)
	XORQ(ba, ba)
	Load(Param("nb"), left)
	row := func(k, disp int) Mem { // block at wq of row k of the quad
		switch k {
		case 0:
			return Mem{Base: wq, Disp: disp}
		case 3:
			return Mem{Base: wq, Index: rb3, Scale: 1, Disp: disp}
		}
		return Mem{Base: wq, Index: rb, Scale: uint8(k), Disp: disp}
	}

	Label(name + "_block")
	TESTQ(left, left)
	JZ(LabelRef(name + "_store"))
	VMOVDQU(row(0, 2), w.AsX()) // four rows × 16 nibble bytes, one row per lane
	for k := 1; k < 4; k++ {
		VINSERTI32X4(U8(k), row(k, 2), w, w)
	}
	VPSRLW(U8(4), w, wh)
	VPANDD(mask, w, w) // elements 0..15 of each row
	VPANDD(mask, wh, wh)
	VMOVD(row(0, 0), d.AsX()) // the four rows' scales (VMOVD's second word is overwritten)
	for k := 1; k < 4; k++ {
		VPINSRW(U8(k), row(k, 0), d.AsX(), d.AsX())
	}
	VCVTPH2PS(d.AsX(), d.AsX())
	VPERMPS(d, perm, d) // row r's in lanes 4r..4r+3
	for j := 0; j < 4; j++ {
		t := tmps[j%2]
		lo, hi := acc(j)
		Load(Param(fmt.Sprintf("a%d", j)), tmp)
		aux := Mem{Base: tmp, Index: ba, Scale: 1}
		VBROADCASTI32X4(Mem{Base: x[j], Disp: 2}, t.x)
		VBROADCASTI32X4(aux, t.sl) // -8·Σx: Σ(u-8)·x = Σu·x - 8·Σx
		vpdpbusd(t.x, w, t.sl)
		VBROADCASTI32X4(Mem{Base: x[j], Disp: 18}, t.x)
		VBROADCASTI32X4(aux.Offset(16), t.sh)
		vpdpbusd(t.x, wh, t.sh)
		VCVTDQ2PS(t.sl, t.sl)
		VCVTDQ2PS(t.sh, t.sh)
		VMULPS_BCST(aux.Offset(32), d, t.ds) // × the activation's scale
		VFMADD231PS(t.ds, t.sl, lo)
		VFMADD231PS(t.ds, t.sh, hi)
	}
	ADDQ(U8(18), wq) // one Q4_0 block
	for j := 0; j < 4; j++ {
		ADDQ(U8(q8BlockSize), x[j])
	}
	ADDQ(U8(q8AuxBytes), ba)
	DECQ(left)
	JMP(LabelRef(name + "_block"))

	Label(name + "_store")
	for j := 0; j < 4; j++ {
		lo, hi := acc(j)
		t := tmps[j%2].x
		q4x4ReduceAVX512(lo, hi, t, gather)
		Load(Param(fmt.Sprintf("o%d", j)), tmp)
		VMOVUPS(t.AsX(), Mem{Base: tmp, Index: o, Scale: 1})
	}
	ADDQ(U8(16), o)
	ADDQ(rb3, qbase) // the next quad: four rows on
	ADDQ(rb, qbase)
	DECQ(quads)
	JMP(LabelRef(name + "_quad"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}
