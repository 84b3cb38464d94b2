package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// q8_0Aux is Q8_0Aux: per Q8_0 block, -8·(x[4k]+…+x[4k+3]) for k < 8 as
// int32, then the block's scale as float32 eight times. It runs once per
// activation for every packed Q4_0 matrix that reads it, on the caller's
// thread before a parallel pass, so plain Go (~4 µs per 1536-wide row,
// ~1 ms per 4B decode step) showed in profiles.
func q8_0Aux() {
	TEXT("q8_0AuxAVX2", NOSPLIT, "func(x *byte, aux *byte, nb int)")
	Pragma("noescape")
	Doc("q8_0AuxAVX2 writes the Q8_0Aux entries of nb Q8_0 blocks at x to aux.")
	Load(Param("x"), RSI)
	Load(Param("aux"), RDI)
	Load(Param("nb"), RCX)
	ones, zero := Y15, Y14
	MOVL(U32(0x00010001), EAX)
	VMOVD(EAX, ones.AsX())
	VPBROADCASTD(ones.AsX(), ones)
	VPXOR(zero, zero, zero)

	Label("block")
	TESTQ(RCX, RCX)
	JZ(LabelRef("done"))
	// Bytes 0-15 and 16-31 as int16, pairs summed to int32 ...
	VPMOVSXBW(Mem{Base: RSI, Disp: 2}, Y0)
	VPMOVSXBW(Mem{Base: RSI, Disp: 18}, Y1)
	VPMADDWD(ones, Y0, Y0)
	VPMADDWD(ones, Y1, Y1)
	// ... pairs of pairs: groups [0 1 4 5 | 2 3 6 7] (per 128-bit lane),
	// put in order by a qword permutation.
	VPHADDD(Y1, Y0, Y0)
	VPERMQ(U8(0xd8), Y0, Y0)
	VPSLLD(U8(3), Y0, Y0)
	VPSUBD(Y0, zero, Y0)
	VMOVDQU(Y0, Mem{Base: RDI})
	VPBROADCASTW(Mem{Base: RSI}, X2)
	VCVTPH2PS(X2, Y2)
	VMOVUPS(Y2, Mem{Base: RDI, Disp: 32})
	ADDQ(U8(34), RSI)
	ADDQ(U8(64), RDI)
	DECQ(RCX)
	JMP(LabelRef("block"))

	Label("done")
	VZEROUPPER()
	RET()
}
