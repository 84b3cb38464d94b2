// Command _asmgen generates the amd64 assembly of package kernels with avo:
//
//	cd inference/kernels && go generate
//
// It lives in its own module so that avo is not a dependency of the app.
// Registers are assigned by hand (as in a hand-written kernel) so that the
// raw-encoded AVX-VNNI instructions can name them.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// variant is the instruction set a quantized dot kernel is generated for.
type variant int

const (
	avx2       variant = iota // VPMADDUBSW + VPMADDWD
	avx512vnni                // EVEX VPDPBUSD on 256-bit registers (AVX512-VNNI + AVX512VL)
	avxvnni                   // VEX VPDPBUSD (AVX-VNNI), emitted as bytes: Go's assembler knows only the EVEX form
)

func (v variant) suffix() string { return [...]string{"AVX2", "AVX512VNNI", "AVXVNNI"}[v] }

func main() {
	ConstraintExpr("!purego")
	for _, v := range []variant{avx2, avx512vnni, avxvnni} {
		gemvQ4_0Q8_0(v)
		gemvQ8_0Q8_0(v)
		gemm4(v, true)
		gemm4(v, false)
		gemvRowsQ(v, true)
		gemvRowsQ(v, false)
	}
	gemvQ4_5K(false)
	gemvQ4_5K(true)
	gemvQ6_K()
	gemm4Q4_0Pre()
	gemvQ4_0x4AVX2()
	gemvQ4_0x4PairsAVX2()
	gemvQ4_0x4AVX512()
	gemvQ4_0x4PairsAVX512()
	gemm4Q4_0x4AVX2()
	gemm4Q4_0x4AVX512()
	gemm4Q4_0RowsAVX512()
	gemvQ4_0RowsX4AVX2()
	gemvQ4_0RowsX4AVX512()
	gemm4Q4_5K(false)
	gemm4Q4_5K(true)
	gemm4Q6_K()
	dotHalf("dotF16AVX2", false)
	dotHalf("dotBF16AVX2", true)
	dotF32()
	axpy()
	scale()
	scaleMul()
	toF16()
	quantizeQ8_0()
	q8_0Aux()
	ropeNeox()
	maxF32()
	attnReduce32()
	attnReduce8()
	attnScoresHeads()
	attnAccumHeads()
	attnScoresHeadsF16()
	attnAccumHeadsF16()
	attnAccumHeadsF16AVX512()
	dotF32GGML()
	sgemmDotF32()
	softmaxGroups()
	Generate()
}

// broadcastConst fills y with the 32-bit pattern c.
func broadcastConst(c uint32, y VecPhysical) {
	MOVL(U32(c), EAX)
	VMOVD(EAX, y.AsX())
	VPBROADCASTD(y.AsX(), y)
}

// Registers shared by the two quantized gemv kernels.
var (
	wRow, rowBytes, xBase, nBlocks, outPtr, rows = RSI, R8, RDI, RCX, RDX, R9
	wp, xp, left                                 = R10, R11, R12
	mask0F, eight, onesW                         = Y13, Y14, Y15
)

// dotBlock emits one 32-element block: acc += fp32(d_w)·fp32(d_x) · Σ w·x,
// with the weight block at w (18 or 34 bytes) and the Q8_0 block at x.
// t holds 5 scratch registers.
func dotBlock(v variant, q4 bool, w, x Mem, acc VecPhysical, t [5]VecPhysical) {
	d, xs, ws, aw, sum := t[0], t[1], t[2], t[3], t[4]
	// Broadcast each fp16 scale to 8 halves and widen: d in every lane.
	VPBROADCASTW(w, d.AsX())
	VCVTPH2PS(d.AsX(), d)
	VPBROADCASTW(x, xs.AsX())
	VCVTPH2PS(xs.AsX(), xs)
	VMULPS(xs, d, d)
	if q4 {
		// low nibbles are elements 0..15, high nibbles 16..31
		VMOVDQU(w.Offset(2), ws.AsX())
		VPSRLW(U8(4), ws.AsX(), aw.AsX())
		VINSERTI128(U8(1), aw.AsX(), ws, ws)
		VPAND(mask0F, ws, ws)
		VPSUBB(eight, ws, ws)
	} else {
		VMOVDQU(w.Offset(2), ws)
	}
	VMOVDQU(x.Offset(2), xs)
	// |w| (unsigned) times x·sign(w) (signed) = w·x, the operand form the
	// byte multiply-adds need.
	VPSIGNB(ws, ws, aw)
	VPSIGNB(ws, xs, xs)
	switch v {
	case avx2:
		VPMADDUBSW(xs, aw, sum) // pairs: |2·8·127| and |2·127·127| fit int16
		VPMADDWD(onesW, sum, sum)
	case avx512vnni:
		VPXOR(sum, sum, sum)
		Instruction(&ir.Instruction{
			Opcode:   "VPDPBUSD",
			Operands: []Op{xs, aw, sum},
			Inputs:   []Op{xs, aw, sum},
			Outputs:  []Op{sum},
		})
	case avxvnni:
		VPXOR(sum, sum, sum)
		vexDPBUSD(sum, aw, xs)
	}
	VCVTDQ2PS(sum, sum)
	VFMADD231PS(sum, d, acc)
}

// dotBlockShared is dotBlock for an activation block already loaded: dx
// holds fp32(d_x) in every lane, xv the block's 32 int8 values and, for Q4_0
// weights, x8 the int32 lanes 8·(sum of each lane's 4 x values). It yields
// the same int32 lanes as dotBlock, hence the same float rounding: for Q4_0
// Σ(u-8)·x is computed exactly as Σu·x - 8·Σx on the unsigned nibbles u,
// which saves the sign tricks. t holds 4 scratch registers (AVX2 uses 3).
func dotBlockShared(v variant, q4 bool, w Mem, dx, xv, x8, acc VecPhysical, t [4]VecPhysical) {
	d, ws, aw, sum := t[0], t[1], t[2], t[3]
	VPBROADCASTW(w, d.AsX())
	VCVTPH2PS(d.AsX(), d)
	VMULPS(dx, d, d)
	// aw: the unsigned operand, xs: the signed one.
	xs := xv
	if q4 {
		// low nibbles are elements 0..15, high nibbles 16..31
		VMOVDQU(w.Offset(2), aw.AsX())
		VPSRLW(U8(4), aw.AsX(), ws.AsX())
		VINSERTI128(U8(1), ws.AsX(), aw, aw)
		VPAND(mask0F, aw, aw)
	} else {
		VMOVDQU(w.Offset(2), ws)
		VPSIGNB(ws, ws, aw) // |w|
		VPSIGNB(ws, xv, ws) // x·sign(w)
		xs = ws
	}
	switch v {
	case avx2:
		VPMADDUBSW(xs, aw, aw) // pairs: |2·15·127| and |2·127·127| fit int16
		VPMADDWD(onesW, aw, aw)
		sum = aw
	case avx512vnni:
		VPXOR(sum, sum, sum)
		Instruction(&ir.Instruction{
			Opcode:   "VPDPBUSD",
			Operands: []Op{xs, aw, sum},
			Inputs:   []Op{xs, aw, sum},
			Outputs:  []Op{sum},
		})
	case avxvnni:
		VPXOR(sum, sum, sum)
		vexDPBUSD(sum, aw, xs)
	}
	if q4 {
		VPSUBD(x8, sum, sum)
	}
	VCVTDQ2PS(sum, sum)
	VFMADD231PS(sum, d, acc)
}

// sum8x sets x8's int32 lanes to 8·(the sum of each lane's 4 int8 of xv).
func sum8x(v variant, xv, x8 VecPhysical) {
	switch v {
	case avx2:
		VPMADDUBSW(xv, eight, x8)
		VPMADDWD(onesW, x8, x8)
	case avx512vnni:
		VPXOR(x8, x8, x8)
		Instruction(&ir.Instruction{
			Opcode:   "VPDPBUSD",
			Operands: []Op{xv, eight, x8},
			Inputs:   []Op{xv, eight, x8},
			Outputs:  []Op{x8},
		})
	case avxvnni:
		VPXOR(x8, x8, x8)
		vexDPBUSD(x8, eight, xv)
	}
}

// vexDPBUSD emits the VEX encoding of VPDPBUSD dst, src1, src2 (Intel
// operand order: dst += Σ u8(src1)·s8(src2)).
func vexDPBUSD(dst, src1, src2 VecPhysical) {
	d, s1, s2 := int(dst.PhysicalIndex()), int(src1.PhysicalIndex()), int(src2.PhysicalIndex())
	Comment(fmt.Sprintf("VPDPBUSD (VEX) Y%d, Y%d, Y%d (Intel order)", d, s1, s2))
	for i, b := range vexDPBUSDBytes(d, s1, s2) {
		ins := &ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(b)}}
		if i == 0 {
			ins.Inputs = []Op{dst, src1, src2}
			ins.Outputs = []Op{dst}
		}
		Instruction(ins)
	}
}

// vexDPBUSDBytes encodes VPDPBUSD ymm(dst), ymm(src1), ymm(src2) as
// VEX.256.66.0F38.W0 50 /r with a three-byte VEX prefix.
func vexDPBUSDBytes(dst, src1, src2 int) []byte {
	b1 := byte(0x02) // map 0F38
	if dst < 8 {
		b1 |= 0x80 // inverted REX.R
	}
	b1 |= 0x40 // inverted REX.X
	if src2 < 8 {
		b1 |= 0x20 // inverted REX.B
	}
	b2 := byte((^src1&0xf)<<3 | 1<<2 | 1) // W0, vvvv = ~src1, L=256, pp=66
	modrm := byte(0xc0 | (dst&7)<<3 | src2&7)
	return []byte{0xc4, b1, b2, 0x50, modrm}
}

// hsum leaves the sum of the 8 lanes of y in the low lane of y.AsX(); t is scratch.
func hsum(y, t VecPhysical) {
	VEXTRACTF128(U8(1), y, t.AsX())
	VADDPS(t.AsX(), y.AsX(), y.AsX())
	VMOVHLPS(y.AsX(), y.AsX(), t.AsX())
	VADDPS(t.AsX(), y.AsX(), y.AsX())
	VMOVSHDUP(y.AsX(), t.AsX())
	VADDSS(t.AsX(), y.AsX(), y.AsX())
}

func gemvQ4_0Q8_0(v variant) { gemvQ(v, true) }
func gemvQ8_0Q8_0(v variant) { gemvQ(v, false) }

// gemvQ: out[r] = dot(row r of w, x) for r < len(out); each row is nb
// blocks, rows are rowBytes apart.
func gemvQ(v variant, q4 bool) {
	name, wBlock := "gemvQ8_0Q8_0", 34
	if q4 {
		name, wBlock = "gemvQ4_0Q8_0", 18
	}
	TEXT(name+v.suffix(), NOSPLIT, "func(w []byte, rowBytes int, x []byte, nb int, out []float32)")
	Pragma("noescape")
	Doc(name + v.suffix() + " sets out[r] to the dot product of row r of w (nb blocks, rows rowBytes apart) with the Q8_0 row x.")
	Load(Param("w").Base(), wRow)
	Load(Param("rowBytes"), rowBytes)
	Load(Param("x").Base(), xBase)
	Load(Param("nb"), nBlocks)
	Load(Param("out").Base(), outPtr)
	Load(Param("out").Len(), rows)
	if q4 {
		broadcastConst(0x0f0f0f0f, mask0F)
		broadcastConst(0x08080808, eight)
	}
	if v == avx2 {
		broadcastConst(0x00010001, onesW)
	}
	// One accumulator, blocks added in order: Gemm's four-activation kernel
	// does the same, so the two give bit-identical results. (A second
	// accumulator measured no faster: the block's integer work hides the
	// FMA latency.)
	acc := Y0
	ta := [5]VecPhysical{Y1, Y2, Y3, Y4, Y5}
	tb := [5]VecPhysical{Y6, Y7, Y9, Y10, Y11}

	// Four rows at a time share each activation block's load and scale
	// conversion, and their four independent accumulator chains hide the
	// FMA latency; each row still adds its blocks in order into one
	// accumulator, so the result is the one-row loop's, bit for bit.
	rowBytes3 := R13
	LEAQ(Mem{Base: rowBytes, Index: rowBytes, Scale: 2}, rowBytes3)
	quadAcc := []VecPhysical{Y0, Y1, Y2, Y3}
	dx, xv := Y4, Y5
	x8 := Y12
	quadTemps := [][4]VecPhysical{{Y6, Y7, Y8, Y9}, {Y10, Y11, Y8, Y9}}
	quadRow := []Mem{
		{Base: wp},
		{Base: wp, Index: rowBytes, Scale: 1},
		{Base: wp, Index: rowBytes, Scale: 2},
		{Base: wp, Index: rowBytes3, Scale: 1},
	}

	// The four rows are four short streams (a 1536-wide Q4_0 row is 13.5
	// cache lines), too short for the hardware prefetcher to pick up, so
	// each block step prefetches the next four rows' bytes in address order.
	pf := RBX
	pfStep := 4 * wBlock

	Label("quad")
	CMPQ(rows, U8(4))
	JB(LabelRef("row"))
	for _, a := range quadAcc {
		VXORPS(a, a, a)
	}
	MOVQ(wRow, wp)
	LEAQ(Mem{Base: wRow, Index: rowBytes, Scale: 4}, pf)
	MOVQ(xBase, xp)
	MOVQ(nBlocks, left)

	Label("quadBlock")
	TESTQ(left, left)
	JZ(LabelRef("quadStore"))
	VPBROADCASTW(Mem{Base: xp}, dx.AsX())
	VCVTPH2PS(dx.AsX(), dx)
	VMOVDQU(Mem{Base: xp, Disp: 2}, xv)
	for off := 0; off < pfStep; off += 64 {
		PREFETCHT0(Mem{Base: pf, Disp: off})
	}
	if q4 {
		sum8x(v, xv, x8)
	}
	for r, a := range quadAcc {
		dotBlockShared(v, q4, quadRow[r], dx, xv, x8, a, quadTemps[r%2])
	}
	ADDQ(U32(pfStep), pf)
	ADDQ(U8(wBlock), wp)
	ADDQ(U8(34), xp)
	DECQ(left)
	JMP(LabelRef("quadBlock"))

	Label("quadStore")
	for r, a := range quadAcc {
		hsum(a, Y6)
		VMOVSS(a.AsX(), Mem{Base: outPtr, Disp: 4 * r})
	}
	ADDQ(U8(16), outPtr)
	LEAQ(Mem{Base: wRow, Index: rowBytes, Scale: 4}, wRow)
	SUBQ(U8(4), rows)
	JMP(LabelRef("quad"))

	Label("row")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	VXORPS(acc, acc, acc)
	MOVQ(wRow, wp)
	MOVQ(xBase, xp)
	MOVQ(nBlocks, left)

	Label("pair")
	CMPQ(left, U8(2))
	JB(LabelRef("single"))
	dotBlock(v, q4, Mem{Base: wp}, Mem{Base: xp}, acc, ta)
	dotBlock(v, q4, Mem{Base: wp, Disp: wBlock}, Mem{Base: xp, Disp: 34}, acc, tb)
	ADDQ(U32(2*wBlock), wp)
	ADDQ(U32(2*34), xp)
	SUBQ(U8(2), left)
	JMP(LabelRef("pair"))

	Label("single")
	TESTQ(left, left)
	JZ(LabelRef("store"))
	dotBlock(v, q4, Mem{Base: wp}, Mem{Base: xp}, acc, ta)

	Label("store")
	hsum(acc, Y1)
	VMOVSS(acc.AsX(), Mem{Base: outPtr})
	ADDQ(U8(4), outPtr)
	ADDQ(rowBytes, wRow)
	DECQ(rows)
	JMP(LabelRef("row"))

	Label("done")
	VZEROUPPER()
	RET()
}

// dotHalf: Σ w[i]·x[i] over n 16-bit floats (n a multiple of 8), F16 or BF16.
func dotHalf(name string, bf16 bool) {
	TEXT(name, NOSPLIT, "func(w, x *byte, n int) float32")
	Pragma("noescape")
	kind := "F16"
	if bf16 {
		kind = "BF16"
	}
	Doc(name + " returns the dot product of n " + kind + " values at w and x; n is a multiple of 8.")
	Load(Param("w"), RSI)
	Load(Param("x"), RDI)
	Load(Param("n"), RCX)
	acc := []VecPhysical{Y0, Y1, Y2, Y3}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	widen := func(m Mem, y VecPhysical) {
		if bf16 {
			VPMOVZXWD(m, y)
			VPSLLD(U8(16), y, y)
		} else {
			VCVTPH2PS(m, y)
		}
	}
	Label("loop32")
	CMPQ(RCX, U8(32))
	JB(LabelRef("loop8"))
	for i, a := range acc {
		widen(Mem{Base: RSI, Disp: 16 * i}, Y4)
		widen(Mem{Base: RDI, Disp: 16 * i}, Y5)
		VFMADD231PS(Y5, Y4, a)
	}
	ADDQ(U8(64), RSI)
	ADDQ(U8(64), RDI)
	SUBQ(U8(32), RCX)
	JMP(LabelRef("loop32"))
	Label("loop8")
	CMPQ(RCX, U8(8))
	JB(LabelRef("sum"))
	widen(Mem{Base: RSI}, Y4)
	widen(Mem{Base: RDI}, Y5)
	VFMADD231PS(Y5, Y4, Y0)
	ADDQ(U8(16), RSI)
	ADDQ(U8(16), RDI)
	SUBQ(U8(8), RCX)
	JMP(LabelRef("loop8"))
	Label("sum")
	VADDPS(Y1, Y0, Y0)
	VADDPS(Y3, Y2, Y2)
	VADDPS(Y2, Y0, Y0)
	hsum(Y0, Y1)
	VZEROUPPER()
	Store(X0, ReturnIndex(0))
	RET()
}

// dotF32: Σ a[i]·b[i] over n float32 (n a multiple of 8).
func dotF32() {
	TEXT("dotF32AVX2", NOSPLIT, "func(a, b *float32, n int) float32")
	Pragma("noescape")
	Doc("dotF32AVX2 returns the dot product of n float32 at a and b; n is a multiple of 8.")
	Load(Param("a"), RSI)
	Load(Param("b"), RDI)
	Load(Param("n"), RCX)
	acc := []VecPhysical{Y0, Y1, Y2, Y3}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	Label("loop32")
	CMPQ(RCX, U8(32))
	JB(LabelRef("loop8"))
	for i, a := range acc {
		VMOVUPS(Mem{Base: RSI, Disp: 32 * i}, Y4)
		VFMADD231PS(Mem{Base: RDI, Disp: 32 * i}, Y4, a)
	}
	ADDQ(U8(128), RSI)
	ADDQ(U8(128), RDI)
	SUBQ(U8(32), RCX)
	JMP(LabelRef("loop32"))
	Label("loop8")
	CMPQ(RCX, U8(8))
	JB(LabelRef("sum"))
	VMOVUPS(Mem{Base: RSI}, Y4)
	VFMADD231PS(Mem{Base: RDI}, Y4, Y0)
	ADDQ(U8(32), RSI)
	ADDQ(U8(32), RDI)
	SUBQ(U8(8), RCX)
	JMP(LabelRef("loop8"))
	Label("sum")
	VADDPS(Y1, Y0, Y0)
	VADDPS(Y3, Y2, Y2)
	VADDPS(Y2, Y0, Y0)
	hsum(Y0, Y1)
	VZEROUPPER()
	Store(X0, ReturnIndex(0))
	RET()
}

// f32Loop emits a loop over n float32 (n a multiple of 8), 32 then 8 at a
// time, calling body with the byte offset of each 8-lane group.
func f32Loop(n Register, ptrs []Register, body func(off int)) {
	widths := make([]int, len(ptrs))
	for i := range widths {
		widths[i] = 4
	}
	f32LoopWidths(n, ptrs, widths, body)
}

// f32LoopWidths is f32Loop over arrays of other element sizes: ptrs[i]
// advances widths[i] bytes per element (body's off stays the float32 one).
func f32LoopWidths(n Register, ptrs []Register, widths []int, body func(off int)) {
	Label("loop32")
	CMPQ(n, U8(32))
	JB(LabelRef("loop8"))
	for i := 0; i < 4; i++ {
		body(32 * i)
	}
	for i, p := range ptrs {
		ADDQ(U8(32*widths[i]), p)
	}
	SUBQ(U8(32), n)
	JMP(LabelRef("loop32"))
	Label("loop8")
	CMPQ(n, U8(8))
	JB(LabelRef("done"))
	body(0)
	for i, p := range ptrs {
		ADDQ(U8(8*widths[i]), p)
	}
	SUBQ(U8(8), n)
	JMP(LabelRef("loop8"))
	Label("done")
	VZEROUPPER()
	RET()
}

func axpy() {
	TEXT("axpyAVX2", NOSPLIT, "func(a float32, x, y *float32, n int)")
	Pragma("noescape")
	Doc("axpyAVX2 does y[i] += a·x[i] (fused) for n float32; n is a multiple of 8.")
	Load(Param("a"), X15)
	VBROADCASTSS(X15, Y15)
	Load(Param("x"), RSI)
	Load(Param("y"), RDI)
	Load(Param("n"), RCX)
	f32Loop(RCX, []Register{RSI, RDI}, func(off int) {
		y := []VecPhysical{Y0, Y1, Y2, Y3}[off/32]
		VMOVUPS(Mem{Base: RSI, Disp: off}, y)
		VFMADD213PS(Mem{Base: RDI, Disp: off}, Y15, y)
		VMOVUPS(y, Mem{Base: RDI, Disp: off})
	})
}

func scale() {
	TEXT("scaleAVX2", NOSPLIT, "func(a float32, x *float32, n int)")
	Pragma("noescape")
	Doc("scaleAVX2 does x[i] *= a for n float32; n is a multiple of 8.")
	Load(Param("a"), X15)
	VBROADCASTSS(X15, Y15)
	Load(Param("x"), RSI)
	Load(Param("n"), RCX)
	f32Loop(RCX, []Register{RSI}, func(off int) {
		y := []VecPhysical{Y0, Y1, Y2, Y3}[off/32]
		VMULPS(Mem{Base: RSI, Disp: off}, Y15, y)
		VMOVUPS(y, Mem{Base: RSI, Disp: off})
	})
}

// toF16 converts with F16C's VCVTPS2PH in round-to-nearest-even, which is
// quant.FP32ToFP16's rounding (NaNs keep their sign and top payload bits
// and come out quiet, as there).
func toF16() {
	TEXT("toF16AVX2", NOSPLIT, "func(dst *uint16, x *float32, n int)")
	Pragma("noescape")
	Doc("toF16AVX2 does dst[i] = fp16(x[i]) (round to nearest even) for n float32; n is a multiple of 8.")
	Load(Param("dst"), RDI)
	Load(Param("x"), RSI)
	Load(Param("n"), RCX)
	f32LoopWidths(RCX, []Register{RSI, RDI}, []int{4, 2}, func(off int) {
		y := []VecPhysical{Y0, Y1, Y2, Y3}[off/32]
		VMOVUPS(Mem{Base: RSI, Disp: off}, y)
		VCVTPS2PH(U8(0), y, Mem{Base: RDI, Disp: off / 2})
	})
}

func scaleMul() {
	TEXT("scaleMulAVX2", NOSPLIT, "func(dst, x, w *float32, a float32, n int)")
	Pragma("noescape")
	Doc("scaleMulAVX2 does dst[i] = x[i]·a·w[i] (in that order) for n float32; n is a multiple of 8.")
	Load(Param("dst"), RDX)
	Load(Param("x"), RSI)
	Load(Param("w"), RDI)
	Load(Param("a"), X15)
	VBROADCASTSS(X15, Y15)
	Load(Param("n"), RCX)
	f32Loop(RCX, []Register{RDX, RSI, RDI}, func(off int) {
		y := []VecPhysical{Y0, Y1, Y2, Y3}[off/32]
		VMULPS(Mem{Base: RSI, Disp: off}, Y15, y)
		VMULPS(Mem{Base: RDI, Disp: off}, y, y)
		VMOVUPS(y, Mem{Base: RDX, Disp: off})
	})
}

// quantizeQ8_0 is quant.QuantizeActQ8_0, i.e. ggml's quantize_row_q8_0_ref
// (what the reference outputs were made with): d = amax/127 stored as fp16,
// id = 1/d, q = roundf(x·id) (ties away from zero), 32 floats per block.
func quantizeQ8_0() {
	perm := GLOBL("q8_0Perm", RODATA|NOPTR)
	for i, v := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(4*i, U32(v))
	}
	TEXT("quantizeQ8_0AVX2", NOSPLIT, "func(x *float32, dst *byte, nb int)")
	Pragma("noescape")
	Doc("quantizeQ8_0AVX2 quantizes nb blocks of 32 float32 at x to Q8_0 at dst",
		"with d = amax/127 (fp16), q = roundf(x/d) (ties away from zero).")
	Load(Param("x"), RSI)
	Load(Param("dst"), RDI)
	Load(Param("nb"), RCX)
	absMask, c127, permY, zero, one, half := Y15, Y14, Y13, Y12, Y11, Y10
	broadcastConst(0x7fffffff, absMask)
	broadcastConst(0x42fe0000, c127) // 127.0
	broadcastConst(0x3f800000, one)
	broadcastConst(0x3f000000, half)
	VMOVDQU(perm, permY)
	VXORPS(zero, zero, zero)
	v := []VecPhysical{Y0, Y1, Y2, Y3}

	Label("block")
	TESTQ(RCX, RCX)
	JZ(LabelRef("done"))
	for i, y := range v {
		VMOVUPS(Mem{Base: RSI, Disp: 32 * i}, y)
	}
	VANDPS(absMask, Y0, Y4)
	for _, y := range v[1:] {
		VANDPS(absMask, y, Y5)
		VMAXPS(Y5, Y4, Y4)
	}
	VEXTRACTF128(U8(1), Y4, X5)
	VMAXPS(X5, X4, X4)
	VMOVHLPS(X4, X4, X5)
	VMAXPS(X5, X4, X4)
	VMOVSHDUP(X4, X5)
	VMAXSS(X5, X4, X4)         // amax
	VDIVSS(c127.AsX(), X4, X5) // d = amax/127
	VCVTPS2PH(U8(0), X5, X8)   // round to nearest even, like FP32ToFP16
	VMOVD(X8, EAX)
	MOVW(AX, Mem{Base: RDI})
	// id = d != 0 ? 1/d : 0
	VDIVSS(X5, one.AsX(), X6)
	VCMPSS(U8(4), zero.AsX(), X5, X7) // d != 0
	VANDPS(X7, X6, X6)
	VBROADCASTSS(X6, Y6)
	for _, y := range v {
		VMULPS(Y6, y, y)
		// roundf: t = trunc(y); t ± 1 when |y - t| ≥ 0.5 (the difference is exact)
		VROUNDPS(U8(3), y, Y7)
		VSUBPS(Y7, y, Y8)
		VANDPS(absMask, Y8, Y8)
		VCMPPS(U8(0x0d), half, Y8, Y8) // ≥ 0.5
		VANDNPS(y, absMask, Y9)        // sign of y
		VORPS(one, Y9, Y9)             // ±1
		VANDPS(Y8, Y9, Y9)
		VADDPS(Y9, Y7, y)
		VCVTPS2DQ(y, y)
	}
	VPACKSSDW(Y1, Y0, Y0)
	VPACKSSDW(Y3, Y2, Y2)
	VPACKSSWB(Y2, Y0, Y0)
	VPERMD(Y0, permY, Y0) // undo the per-lane order of the packs
	VMOVDQU(Y0, Mem{Base: RDI, Disp: 2})
	ADDQ(U8(128), RSI)
	ADDQ(U8(34), RDI)
	DECQ(RCX)
	JMP(LabelRef("block"))

	Label("done")
	VZEROUPPER()
	RET()
}

// gemm4 multiplies rows of w by four activation rows at once, so that each
// weight block is loaded, unpacked and sign-split once for four dots:
// o_j[r] = dot(row r of w, x_j) for r < rows, j < 4.
func gemm4(v variant, q4 bool) {
	name, wBlock := "gemm4Q8_0Q8_0", 34
	if q4 {
		name, wBlock = "gemm4Q4_0Q8_0", 18
	}
	TEXT(name+v.suffix(), NOSPLIT, "func(w *byte, rowBytes int, x0, x1, x2, x3 *byte, nb int, o0, o1, o2, o3 *float32, rows int)")
	Pragma("noescape")
	Doc(name + v.suffix() + " sets o_j[r] to the dot product of row r of w (nb blocks, rows rowBytes apart) with the Q8_0 row x_j, for j < 4 and r < rows.")
	wRow, rowBytes, end, wp, idx, rowsLeft, outOff, outPtr := RSI, R8, RCX, RBX, RDX, RAX, R12, R13
	xs := []Register{RDI, R9, R10, R11}
	Load(Param("w"), wRow)
	Load(Param("rowBytes"), rowBytes)
	for j, x := range xs {
		Load(Param(fmt.Sprintf("x%d", j)), x)
	}
	Load(Param("nb"), end)
	IMUL3Q(U8(34), end, end) // activation bytes per row
	if q4 {
		broadcastConst(0x0f0f0f0f, mask0F)
		broadcastConst(0x08080808, eight)
	}
	if v == avx2 {
		broadcastConst(0x00010001, onesW)
	}
	Load(Param("rows"), rowsLeft) // after broadcastConst, which uses AX
	XORQ(outOff, outOff)
	acc := []VecPhysical{Y0, Y1, Y2, Y3}
	dw, ws, aw := Y4, Y5, Y6
	temps := [][3]VecPhysical{{Y7, Y8, Y9}, {Y10, Y11, Y12}}

	Label("row")
	TESTQ(rowsLeft, rowsLeft)
	JZ(LabelRef("done"))
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	MOVQ(wRow, wp)
	XORQ(idx, idx)

	Label("block")
	CMPQ(idx, end)
	JAE(LabelRef("store"))
	VPBROADCASTW(Mem{Base: wp}, dw.AsX())
	VCVTPH2PS(dw.AsX(), dw)
	if q4 {
		VMOVDQU(Mem{Base: wp, Disp: 2}, ws.AsX())
		VPSRLW(U8(4), ws.AsX(), aw.AsX())
		VINSERTI128(U8(1), aw.AsX(), ws, ws)
		VPAND(mask0F, ws, ws)
		VPSUBB(eight, ws, ws)
	} else {
		VMOVDQU(Mem{Base: wp, Disp: 2}, ws)
	}
	VPSIGNB(ws, ws, aw) // |w|
	for j, x := range xs {
		d, xv, sum := temps[j%2][0], temps[j%2][1], temps[j%2][2]
		VPBROADCASTW(Mem{Base: x, Index: idx, Scale: 1}, d.AsX())
		VCVTPH2PS(d.AsX(), d)
		VMULPS(dw, d, d)
		VMOVDQU(Mem{Base: x, Index: idx, Scale: 1, Disp: 2}, xv)
		VPSIGNB(ws, xv, xv) // x·sign(w)
		switch v {
		case avx2:
			VPMADDUBSW(xv, aw, sum)
			VPMADDWD(onesW, sum, sum)
		case avx512vnni:
			VPXOR(sum, sum, sum)
			Instruction(&ir.Instruction{
				Opcode:   "VPDPBUSD",
				Operands: []Op{xv, aw, sum},
				Inputs:   []Op{xv, aw, sum},
				Outputs:  []Op{sum},
			})
		case avxvnni:
			VPXOR(sum, sum, sum)
			vexDPBUSD(sum, aw, xv)
		}
		VCVTDQ2PS(sum, sum)
		VFMADD231PS(sum, d, acc[j])
	}
	ADDQ(U8(wBlock), wp)
	ADDQ(U8(34), idx)
	JMP(LabelRef("block"))

	Label("store")
	for j, a := range acc {
		hsum(a, Y4)
		Load(Param(fmt.Sprintf("o%d", j)), outPtr)
		VMOVSS(a.AsX(), Mem{Base: outPtr, Index: outOff, Scale: 1})
	}
	ADDQ(U8(4), outOff)
	ADDQ(rowBytes, wRow)
	DECQ(rowsLeft)
	JMP(LabelRef("row"))

	Label("done")
	VZEROUPPER()
	RET()
}

// gemm4PreStride is the scratch bytes per block of gemm4Q4_0Q8_0PreAVX2:
// four activations' 8·Σx int32 lanes (32 bytes each), then their fp32 scales.
const gemm4PreStride = 4*32 + 4*4

// gemm4Q4_0Pre is the AVX2 four-activation Q4_0 kernel on unsigned nibbles:
// a first pass stores, per activation block, fp32(d_x) and the int32 lanes
// 8·Σx into pre (nb·gemm4PreStride bytes); each (row, block, activation)
// then needs no scale conversion and no sign tricks, and Σu·x − 8·Σx gives
// the same int32 lanes as Σ(u−8)·x, so the floats are gemm4's bit for bit.
func gemm4Q4_0Pre() {
	TEXT("gemm4Q4_0Q8_0PreAVX2", NOSPLIT, "func(w *byte, rowBytes int, x0, x1, x2, x3 *byte, pre *byte, nb int, o0, o1, o2, o3 *float32, rows int)")
	Pragma("noescape")
	Doc("gemm4Q4_0Q8_0PreAVX2 is gemm4Q4_0Q8_0AVX2 with pre (nb·144 bytes) as scratch.")
	wRow, rowBytes, end, wp, idx, rowsLeft, outOff, pp, preBase := RSI, R8, RCX, RBX, RDX, RAX, R12, R13, R14
	xs := []Register{RDI, R9, R10, R11}
	Load(Param("w"), wRow)
	Load(Param("rowBytes"), rowBytes)
	for j, x := range xs {
		Load(Param(fmt.Sprintf("x%d", j)), x)
	}
	Load(Param("pre"), preBase)
	Load(Param("nb"), end)
	IMUL3Q(U8(34), end, end) // activation bytes per row
	broadcastConst(0x0f0f0f0f, mask0F)
	broadcastConst(0x08080808, eight)
	broadcastConst(0x00010001, onesW)
	Load(Param("rows"), rowsLeft) // after broadcastConst, which uses AX

	// Pass 1: the activations' scales and 8·Σx, once per call.
	MOVQ(preBase, pp)
	XORQ(idx, idx)
	Label("prep")
	CMPQ(idx, end)
	JAE(LabelRef("prepDone"))
	for j, x := range xs {
		VPBROADCASTW(Mem{Base: x, Index: idx, Scale: 1}, X0)
		VCVTPH2PS(X0, X0)
		VMOVSS(X0, Mem{Base: pp, Disp: 128 + 4*j})
		VMOVDQU(Mem{Base: x, Index: idx, Scale: 1, Disp: 2}, Y1)
		sum8x(avx2, Y1, Y2)
		VMOVDQU(Y2, Mem{Base: pp, Disp: 32 * j})
	}
	ADDQ(U8(34), idx)
	ADDQ(U32(gemm4PreStride), pp)
	JMP(LabelRef("prep"))
	Label("prepDone")

	XORQ(outOff, outOff)
	acc := []VecPhysical{Y0, Y1, Y2, Y3}
	dw, aw, hi := Y4, Y5, Y6
	temps := [][2]VecPhysical{{Y7, Y8}, {Y9, Y10}}

	Label("row")
	TESTQ(rowsLeft, rowsLeft)
	JZ(LabelRef("done"))
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	MOVQ(wRow, wp)
	MOVQ(preBase, pp)
	XORQ(idx, idx)

	Label("block")
	CMPQ(idx, end)
	JAE(LabelRef("store"))
	VPBROADCASTW(Mem{Base: wp}, dw.AsX())
	VCVTPH2PS(dw.AsX(), dw)
	// unsigned nibbles: low are elements 0..15, high 16..31
	VMOVDQU(Mem{Base: wp, Disp: 2}, aw.AsX())
	VPSRLW(U8(4), aw.AsX(), hi.AsX())
	VINSERTI128(U8(1), hi.AsX(), aw, aw)
	VPAND(mask0F, aw, aw)
	for j, x := range xs {
		d, sum := temps[j%2][0], temps[j%2][1]
		VBROADCASTSS(Mem{Base: pp, Disp: 128 + 4*j}, d)
		VMULPS(dw, d, d)
		VPMADDUBSW(Mem{Base: x, Index: idx, Scale: 1, Disp: 2}, aw, sum) // pairs: |2·15·128| fits int16
		VPMADDWD(onesW, sum, sum)
		VPSUBD(Mem{Base: pp, Disp: 32 * j}, sum, sum)
		VCVTDQ2PS(sum, sum)
		VFMADD231PS(sum, d, acc[j])
	}
	ADDQ(U8(18), wp)
	ADDQ(U8(34), idx)
	ADDQ(U32(gemm4PreStride), pp)
	JMP(LabelRef("block"))

	Label("store")
	for j, a := range acc {
		hsum(a, Y4)
		Load(Param(fmt.Sprintf("o%d", j)), pp) // pp is free until the next row
		VMOVSS(a.AsX(), Mem{Base: pp, Index: outOff, Scale: 1})
	}
	ADDQ(U8(4), outOff)
	ADDQ(rowBytes, wRow)
	DECQ(rowsLeft)
	JMP(LabelRef("row"))

	Label("done")
	VZEROUPPER()
	RET()
}
