package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// ggml's float32 dot products and softmax in the reference's exact rounding
// order; see ../ggml.go.

func dotF32GGML() {
	TEXT("dotF32GGMLAVX2", NOSPLIT, "func(a, b *float32, n int) float32")
	Pragma("noescape")
	Doc("dotF32GGMLAVX2 is ggml_vec_dot_f32: blocks of 32 into four FMA accumulators, reduced",
		"(0+2)+(1+3), lo+hi, two VHADDPS; then the n%32 leftovers by scalar FMA.")
	a, b, n := RSI, RDI, RCX
	Load(Param("a"), a)
	Load(Param("b"), b)
	Load(Param("n"), n)
	acc := [4]VecPhysical{Y0, Y1, Y2, Y3}
	for _, r := range acc {
		VXORPS(r, r, r)
	}
	Label("loop32")
	CMPQ(n, U8(32))
	JB(LabelRef("reduce"))
	for i, r := range acc {
		VMOVUPS(Mem{Base: a, Disp: 32 * i}, Y4)
		VFMADD231PS(Mem{Base: b, Disp: 32 * i}, Y4, r)
	}
	ADDQ(U8(128), a)
	ADDQ(U8(128), b)
	SUBQ(U8(32), n)
	JMP(LabelRef("loop32"))
	Label("reduce")
	reduce32(acc, Y1)
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	VMOVSS(Mem{Base: a}, X1)
	VFMADD231SS(Mem{Base: b}, X1, X0)
	ADDQ(U8(4), a)
	ADDQ(U8(4), b)
	DECQ(n)
	JMP(LabelRef("tail"))
	Label("done")
	VZEROUPPER()
	Store(X0, ReturnIndex(0))
	RET()
}

func sgemmDotF32() {
	TEXT("sgemmDotF32AVX2", NOSPLIT, "func(a, b *float32, n int) float32")
	Pragma("noescape")
	Doc("sgemmDotF32AVX2 is one output of llamafile's tinyBLAS (n a multiple of 8): a single 8-lane FMA",
		"accumulator, then lo+hi, movehl, movehdup.")
	a, b, n := RSI, RDI, RCX
	Load(Param("a"), a)
	Load(Param("b"), b)
	Load(Param("n"), n)
	VXORPS(Y0, Y0, Y0)
	Label("loop8")
	CMPQ(n, U8(8))
	JB(LabelRef("sum"))
	VMOVUPS(Mem{Base: a}, Y4)
	VFMADD231PS(Mem{Base: b}, Y4, Y0)
	ADDQ(U8(32), a)
	ADDQ(U8(32), b)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop8"))
	Label("sum")
	hsum(Y0, Y1)
	VZEROUPPER()
	Store(X0, ReturnIndex(0))
	RET()
}

// ggml_v_expf's constants (names as in ggml), each broadcast to 8 lanes (32 bytes) of expc.
const (
	expR     = 32 * iota // 0x1.8p23f: rounds to an integer
	expLog2e             // log2(e)
	expLn2Hi             // ln2, high part
	expLn2Lo             // ln2, low part
	expOne               // 1.0f bits
	expAbs               // abs mask
	exp126               // 126.0f
	expC3                // the polynomial: c3, c4, c1, c2, c0
	expC4
	expC1
	expC2
	expC0
	expSign  // 0x82000000
	expBias  // 0x7f000000
	exp192   // 192.0f
	expBytes // size of expc
)

var expConsts = [...]uint32{
	0x4b400000, 0x3fb8aa3b, 0x3f317200, 0x35bfbe8e, 0x3f800000, 0x7fffffff, 0x42fc0000,
	0x3d2b9f17, 0x3c072010, 0x3efffedb, 0x3e2aaf33, 0x3f7ffff6,
	0x82000000, 0x7f000000, 0x43400000,
}

func softmaxGroups() {
	expc := GLOBL("expc", RODATA|NOPTR)
	for i, c := range expConsts {
		for l := 0; l < 8; l++ {
			DATA(32*i+4*l, U32(c))
		}
	}
	if len(expConsts)*32 != expBytes {
		panic("expc layout")
	}
	k := func(off int) Mem { return expc.Offset(off) }

	TEXT("softmaxGroupsAVX2", NOSPLIT, "func(x *float32, groups int, max float32, sum float64) float64")
	Pragma("noescape")
	Doc("softmaxGroupsAVX2 is ggml_vec_soft_max_f32's AVX2 loop: for each 8 floats, x = ggml_v_expf(x - max)",
		"stored back, summed lo+hi, movehl, movehdup, and added in float64 to sum.")
	x, groups := RSI, RCX
	Load(Param("x"), x)
	Load(Param("groups"), groups)
	VBROADCASTSS(paramAddr(Param("max")), Y14)
	Load(Param("sum"), X13)

	Label("loop")
	TESTQ(groups, groups)
	JZ(LabelRef("done"))
	// ggml_v_expf(Y0), the result in Y11
	VMOVUPS(Mem{Base: x}, Y0)
	VSUBPS(Y14, Y0, Y0)
	VMOVUPS(k(expR), Y1)
	VFMADD231PS(k(expLog2e), Y0, Y1) // z
	VSUBPS(k(expR), Y1, Y2)          // n
	VMOVAPS(Y0, Y3)
	VFNMADD231PS(k(expLn2Hi), Y2, Y3)
	VFNMADD231PS(k(expLn2Lo), Y2, Y3) // b
	VPSLLD(U8(23), Y1, Y4)            // e
	VPADDD(k(expOne), Y4, Y5)         // k
	VANDPS(k(expAbs), Y2, Y6)
	VCMPPS(U8(0x1e), k(exp126), Y6, Y6) // c: |n| > 126
	VMULPS(Y3, Y3, Y7)                  // u
	VMOVUPS(k(expC3), Y8)
	VFMADD231PS(k(expC4), Y3, Y8)
	VMOVUPS(k(expC1), Y9)
	VFMADD231PS(k(expC2), Y3, Y9)
	VFMADD231PS(Y7, Y8, Y9)
	VMULPS(k(expC0), Y3, Y10)
	VFMADD231PS(Y7, Y9, Y10) // j
	VMOVAPS(Y5, Y11)
	VFMADD231PS(Y5, Y10, Y11)
	VMOVMSKPS(Y6, EAX)
	TESTL(EAX, EAX)
	JZ(LabelRef("store")) // no lane out of range
	VXORPS(Y7, Y7, Y7)
	VCMPPS(U8(0x12), Y7, Y2, Y7) // n <= 0
	VANDPS(k(expSign), Y7, Y7)   // g
	VPADDD(k(expBias), Y7, Y8)   // s1
	VPSUBD(Y7, Y4, Y9)           // s2
	VANDPS(k(expAbs), Y2, Y12)
	VCMPPS(U8(0x1e), k(exp192), Y12, Y12) // d: |n| > 192
	VMULPS(Y8, Y8, Y1)
	VMOVAPS(Y9, Y0)
	VFMADD231PS(Y10, Y9, Y0)
	VMULPS(Y8, Y0, Y0)
	VANDPS(Y6, Y0, Y0)
	VANDNPS(Y11, Y6, Y2)
	VORPS(Y2, Y0, Y0)
	VANDPS(Y12, Y1, Y1)
	VANDNPS(Y0, Y12, Y0)
	VORPS(Y1, Y0, Y11)

	Label("store")
	VMOVUPS(Y11, Mem{Base: x})
	VEXTRACTF128(U8(1), Y11, X1)
	VADDPS(X11, X1, X1)
	VMOVHLPS(X1, X1, X2)
	VADDPS(X2, X1, X1)
	VMOVSHDUP(X1, X2)
	VADDSS(X2, X1, X1)
	VCVTSS2SD(X1, X1, X1)
	VADDSD(X1, X13, X13)
	ADDQ(U8(32), x)
	DECQ(groups)
	JMP(LabelRef("loop"))

	Label("done")
	VZEROUPPER()
	Store(X13, ReturnIndex(0))
	RET()
}
