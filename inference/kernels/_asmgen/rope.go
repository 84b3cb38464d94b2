package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// ropeNeox is RopeNeox for half-heads that are whole 8-float vectors: per
// 8 pairs, r0 = x0·cos − x1·sin and r1 = x0·sin + x1·cos with the second
// product rounded first and the first fused (VFMSUB231PS / VFMADD231PS),
// as the plain-Go version's fma32 calls.
func ropeNeox() {
	TEXT("ropeNeoxAVX2", NOSPLIT, "func(x *float32, heads int, half int, cos *float32, sin *float32)")
	Pragma("noescape")
	Doc("ropeNeoxAVX2 rotates heads heads of 2·half floats at x in place (half a multiple of 8).")
	Load(Param("x"), RSI)
	Load(Param("heads"), RCX)
	Load(Param("half"), RDX)
	SHLQ(U8(2), RDX) // half in bytes: x1 = x0 + RDX
	Label("head")
	TESTQ(RCX, RCX)
	JZ(LabelRef("done"))
	Load(Param("cos"), R8)
	Load(Param("sin"), R9)
	XORQ(RAX, RAX)
	Label("vec")
	CMPQ(RAX, RDX)
	JAE(LabelRef("next"))
	x0, x1, c, s, t1, t2 := Y0, Y1, Y2, Y3, Y4, Y5
	VMOVUPS(Mem{Base: RSI, Index: RAX, Scale: 1}, x0)
	LEAQ(Mem{Base: RSI, Index: RDX, Scale: 1}, RDI)
	VMOVUPS(Mem{Base: RDI, Index: RAX, Scale: 1}, x1)
	VMOVUPS(Mem{Base: R8, Index: RAX, Scale: 1}, c)
	VMOVUPS(Mem{Base: R9, Index: RAX, Scale: 1}, s)
	VMULPS(s, x1, t1)      // x1·sin, rounded
	VMULPS(c, x1, t2)      // x1·cos, rounded
	VFMSUB231PS(c, x0, t1) // t1 = x0·cos − t1
	VFMADD231PS(s, x0, t2) // t2 = x0·sin + t2
	VMOVUPS(t1, Mem{Base: RSI, Index: RAX, Scale: 1})
	VMOVUPS(t2, Mem{Base: RDI, Index: RAX, Scale: 1})
	ADDQ(U8(32), RAX)
	JMP(LabelRef("vec"))
	Label("next")
	LEAQ(Mem{Base: RSI, Index: RDX, Scale: 2}, RSI)
	DECQ(RCX)
	JMP(LabelRef("head"))
	Label("done")
	VZEROUPPER()
	RET()
}
