package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// maxF32 is MaxF32's bulk: the largest of n floats (n a multiple of 32) in
// four 8-lane VMAXPS chains, and whether any of them is NaN (VMAXPS alone
// would drop a NaN in its first operand, so unordered compares are OR'ed
// alongside). The lanes are reduced by the Go caller.
func maxF32() {
	TEXT("maxF32AVX2", NOSPLIT, "func(x *float32, n int, lanes *[8]float32) (nan bool)")
	Pragma("noescape")
	Doc("maxF32AVX2 stores in lanes the 8-lane maxima of the n floats at x (n a multiple of 32, at least 32) and reports whether any is NaN.")
	Load(Param("x"), RSI)
	Load(Param("n"), RCX)
	acc := []VecPhysical{Y0, Y1, Y2, Y3}
	nan := Y4
	for i, a := range acc {
		VMOVUPS(Mem{Base: RSI, Disp: 32 * i}, a)
	}
	VXORPS(nan, nan, nan)
	Label("loop")
	for i, a := range acc {
		VMOVUPS(Mem{Base: RSI, Disp: 32 * i}, Y5)
		VCMPPS(U8(3), Y5, Y5, Y6) // unordered: NaN lanes
		VORPS(Y6, nan, nan)
		VMAXPS(Y5, a, a)
	}
	ADDQ(U8(128), RSI)
	SUBQ(U8(32), RCX)
	JNZ(LabelRef("loop"))
	VMAXPS(Y1, Y0, Y0)
	VMAXPS(Y3, Y2, Y2)
	VMAXPS(Y2, Y0, Y0)
	Load(Param("lanes"), RDI)
	VMOVUPS(Y0, Mem{Base: RDI})
	VPTEST(nan, nan)
	SETNE(AL)
	Store(AL, ReturnIndex(0))
	VZEROUPPER()
	RET()
}
