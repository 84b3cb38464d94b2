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

	g := newGemm4AVX512()
	w, d := g.w, g.d

	Label(name + "_quad")
	TESTQ(quads, quads)
	JZ(LabelRef(name + "_done"))
	g.zero(func(j int) { Load(Param(fmt.Sprintf("x%d", j)), x[j]) })
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
	g.unpack()
	VMOVD(row(0, 0), d.AsX()) // the four rows' scales (VMOVD's second word is overwritten)
	for k := 1; k < 4; k++ {
		VPINSRW(U8(k), row(k, 0), d.AsX(), d.AsX())
	}
	VCVTPH2PS(d.AsX(), d.AsX())
	g.block(x, func(j int) Mem {
		Load(Param(fmt.Sprintf("a%d", j)), tmp)
		return Mem{Base: tmp, Index: ba, Scale: 1}
	})
	ADDQ(U8(18), wq) // one Q4_0 block
	for j := 0; j < 4; j++ {
		ADDQ(U8(q8BlockSize), x[j])
	}
	ADDQ(U8(q8AuxBytes), ba)
	DECQ(left)
	JMP(LabelRef(name + "_block"))

	Label(name + "_store")
	g.store(tmp, o)
	ADDQ(U8(16), o)
	ADDQ(rb3, qbase) // the next quad: four rows on
	ADDQ(rb, qbase)
	DECQ(quads)
	JMP(LabelRef(name + "_quad"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}
