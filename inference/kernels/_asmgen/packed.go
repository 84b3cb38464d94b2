package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Kernels for Q4_0 weights in the Q4_0x4 layout (see quant.PackQ4_0x4):
// block b of rows 4g..4g+3 is 72 bytes, four fp16 scales then four rows'
// 16 nibble bytes. The activation comes with its aux (kernels.Q8_0Aux): per
// block -8·Σx of each 4-value group (8 int32) and the fp32 scale 8 times.
//
// Each row keeps ggml's eight int32 lanes per block (lane k sums elements
// 4k..4k+3; low nibbles are elements 0..15), converted and FMA'd into its
// own eight float lanes in block order, then reduced as ggml's hsum_float_8:
// the same roundings as the plain-layout kernels, bit for bit.

// pkPrefetch is how far ahead of the block being computed the kernels
// prefetch: 64 groups (4.5 KiB, ~70 lines). Two workers streaming 768x1536
// packed matrices in 160 KiB chunks (Zen 4 VM, interleaved runs): 31.1-31.5
// GB/s at 8 groups ahead, 33.2-34.4 at 64, no better at 128 or 256; in the
// VM's faster periods 35-37 against 41-42.
const (
	q8AuxBytes  = 64
	x4Block     = 72
	pkPrefetch  = 64 * x4Block
	q8BlockSize = 34
)

// Registers of the packed kernels.
var (
	pkW, pkStride, pkX, pkAux, pkNB, pkOut, pkGroups = RSI, R8, RDI, RBX, RCX, RDX, R9
	pkWp, pkXp, pkAp, pkLeft, pkSkip, pkSkip2        = R10, R11, R12, R13, R14, RAX
)

// packedArgs loads the arguments of a single-group kernel. Its groups need
// not be consecutive (quant.PackQ4_0x4 interleaves pairs of groups): group
// i's blocks are stride bytes apart, and after its last block the block
// pointer plus skipA (i even) or skipB (i odd) is group i+1's block 0.
func packedArgs(name string) {
	TEXT(name, NOSPLIT, "func(w *byte, stride int, x *byte, aux *byte, nb int, out *float32, groups int, skipA int, skipB int)")
	Pragma("noescape")
	Doc(name + " sets out[r], r < 4·groups, to the dot product of row r of the Q4_0x4 groups at w (blocks stride bytes apart; the block pointer plus skipA after an even group's last block, skipB after an odd one's, is the next group's block 0) with the Q8_0 row x, whose Q8_0Aux is aux.")
	Load(Param("w"), pkW)
	Load(Param("stride"), pkStride)
	Load(Param("x"), pkX)
	Load(Param("aux"), pkAux)
	Load(Param("nb"), pkNB)
	Load(Param("out"), pkOut)
	Load(Param("groups"), pkGroups)
}

// packedSkips loads skipA and skipB, after the constants (broadcastConst
// uses AX).
func packedSkips() {
	Load(Param("skipA"), pkSkip)
	Load(Param("skipB"), pkSkip2)
}

// groupNext moves pkW to the next group's block 0 (the block loop left
// pkWp after this group's last block).
func groupNext() {
	LEAQ(Mem{Base: pkWp, Index: pkSkip, Scale: 1}, pkW)
	XCHGQ(pkSkip, pkSkip2)
}

// blockStart points the per-block pointers at block 0 of the group at pkW.
func blockStart() {
	MOVQ(pkW, pkWp)
	MOVQ(pkX, pkXp)
	MOVQ(pkAux, pkAp)
	MOVQ(pkNB, pkLeft)
}

// blockNext advances the per-block pointers by one block.
func blockNext() {
	ADDQ(pkStride, pkWp)
	ADDQ(U8(q8BlockSize), pkXp)
	ADDQ(U8(q8AuxBytes), pkAp)
	DECQ(pkLeft)
}

func vpdpbusd(signed, unsigned, acc Op) {
	Instruction(&ir.Instruction{
		Opcode:   "VPDPBUSD",
		Operands: []Op{signed, unsigned, acc},
		Inputs:   []Op{signed, unsigned, acc},
		Outputs:  []Op{acc},
	})
}

// x4Z is one group's registers in the 512-bit kernel.
type x4Z struct {
	lo, hi           VecPhysical // accumulators: lanes 4r..4r+3 are row r's ggml lanes 0-3 (lo) and 4-7 (hi)
	w, wh, sl, sh, d VecPhysical // scratch
}

// x4Shared are the 512-bit gemv kernels' registers that a block's groups
// share: the activation's bytes 0-15 and 16-31 and its Q8_0Aux -8·Σx terms
// in every 128-bit lane, the 0x0f byte mask and the scale permutation.
type x4Shared struct {
	xlo, xhi, nlo, nhi, mask, perm VecPhysical
}

// load broadcasts the activation block at pkXp and its aux at pkAp.
func (s x4Shared) load() {
	VBROADCASTI32X4(Mem{Base: pkXp, Disp: 2}, s.xlo)
	VBROADCASTI32X4(Mem{Base: pkXp, Disp: 18}, s.xhi)
	VBROADCASTI32X4(Mem{Base: pkAp}, s.nlo)
	VBROADCASTI32X4(Mem{Base: pkAp, Disp: 16}, s.nhi)
}

// group adds the group block at wq (72 bytes: four scales, four rows'
// nibbles) into g's accumulators.
func (s x4Shared) group(g x4Z, wq Mem) {
	VMOVDQU32(wq.Offset(8), g.w) // four rows × 16 nibble bytes
	VPSRLW(U8(4), g.w, g.wh)
	VPANDD(s.mask, g.w, g.w) // elements 0..15 of each row
	VPANDD(s.mask, g.wh, g.wh)
	VMOVDQA32(s.nlo, g.sl) // start the sums at -8·Σx: Σ(u-8)·x = Σu·x - 8·Σx
	VMOVDQA32(s.nhi, g.sh)
	vpdpbusd(s.xlo, g.w, g.sl)
	vpdpbusd(s.xhi, g.wh, g.sh)
	VCVTDQ2PS(g.sl, g.sl)
	VCVTDQ2PS(g.sh, g.sh)
	VCVTPH2PS(wq, g.d.AsX())                                // the four rows' scales
	VMULPS(Mem{Base: pkAp, Disp: 32}, g.d.AsX(), g.d.AsX()) // × the activation's
	VPERMPS(g.d, s.perm, g.d)                               // row r's product in lanes 4r..4r+3
	VFMADD231PS(g.d, g.sl, g.lo)
	VFMADD231PS(g.d, g.sh, g.hi)
}

// gemvQ4_0x4AVX512 does one group (4 rows) per pass on 512-bit registers:
// one register holds a block of four rows' nibbles, each 128-bit lane one
// row. It takes unpaired groups, and a pair's halves where a run starts or
// ends inside one; whole pairs go to gemvQ4_0x4PairsAVX512.
func gemvQ4_0x4AVX512() {
	packedArgs("gemvQ4_0x4AVX512")
	mask, perm, gather := Z31, Z30, Z29
	xlo, xhi, nlo, nhi := Z0, Z1, Z2, Z3
	broadcastConst(0x0f0f0f0f, mask)
	scalePerm := GLOBL("q4x4ScalePerm", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(i/4))
	}
	gatherIdx := GLOBL("q4x4Gather", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(4*(i%4)))
	}
	VMOVDQU32(scalePerm, perm)
	VMOVDQU32(gatherIdx, gather)
	ga := x4Z{Z4, Z5, Z8, Z9, Z10, Z11, Z12}

	sh := x4Shared{xlo, xhi, nlo, nhi, mask, perm}
	// store reduces each row as hsum_float_8 and writes four floats at off(out).
	store := func(g x4Z, off int) {
		q4x4ReduceAVX512(g.lo, g.hi, g.w, gather)
		VMOVUPS(g.w.AsX(), Mem{Base: pkOut, Disp: off})
	}

	packedSkips()
	Label("group")
	TESTQ(pkGroups, pkGroups)
	JZ(LabelRef("done"))
	VPXORD(ga.lo, ga.lo, ga.lo)
	VPXORD(ga.hi, ga.hi, ga.hi)
	blockStart()
	Label("block")
	TESTQ(pkLeft, pkLeft)
	JZ(LabelRef("store"))
	PREFETCHT0(Mem{Base: pkWp, Disp: pkPrefetch})
	sh.load()
	sh.group(ga, Mem{Base: pkWp})
	blockNext()
	JMP(LabelRef("block"))
	Label("store")
	store(ga, 0)
	ADDQ(U8(16), pkOut)
	groupNext()
	DECQ(pkGroups)
	JMP(LabelRef("group"))

	Label("done")
	VZEROUPPER()
	RET()
}

// pairsArgs loads the arguments of a pair kernel: pairs of groups
// interleaved block by block (144-byte blocks), back to back.
func pairsArgs(name string) {
	TEXT(name, NOSPLIT, "func(w *byte, x *byte, aux *byte, nb int, out *float32, pairs int)")
	Pragma("noescape")
	Doc(name + " sets out[r], r < 8·pairs, to the dot product of row r of the paired Q4_0x4 groups at w (pairs of nb 144-byte blocks, back to back) with the Q8_0 row x, whose Q8_0Aux is aux.")
	Load(Param("w"), pkW)
	Load(Param("x"), pkX)
	Load(Param("aux"), pkAux)
	Load(Param("nb"), pkNB)
	Load(Param("out"), pkOut)
	Load(Param("pairs"), pkGroups)
}

// pairNext advances a pair kernel's block pointers by one block.
func pairNext() {
	ADDQ(U32(2*x4Block), pkWp)
	ADDQ(U8(q8BlockSize), pkXp)
	ADDQ(U8(q8AuxBytes), pkAp)
	DECQ(pkLeft)
}

// gemvQ4_0x4PairsAVX512 does a pair of groups (8 rows, interleaved block
// by block as quant.PackQ4_0x4 stores them) per pass: the activation's and
// aux's broadcasts serve both groups, and the loop is bound by vector ops,
// so sharing them is what makes it faster than one group per pass. The
// pair's blocks are one stream, as the hardware prefetcher wants.
func gemvQ4_0x4PairsAVX512() {
	name := "gemvQ4_0x4PairsAVX512"
	pairsArgs(name)
	mask, perm, gather := Z31, Z30, Z29
	xlo, xhi, nlo, nhi := Z0, Z1, Z2, Z3
	broadcastConst(0x0f0f0f0f, mask)
	VMOVDQU32(Mem{Base: StaticBase, Symbol: Symbol{Name: "q4x4ScalePerm", Static: true}}, perm)
	VMOVDQU32(Mem{Base: StaticBase, Symbol: Symbol{Name: "q4x4Gather", Static: true}}, gather)
	gs := []x4Z{{Z4, Z5, Z8, Z9, Z10, Z11, Z12}, {Z13, Z14, Z15, Z16, Z17, Z18, Z19}}

	Label(name + "_pair")
	TESTQ(pkGroups, pkGroups)
	JZ(LabelRef(name + "_done"))
	for _, g := range gs {
		VPXORD(g.lo, g.lo, g.lo)
		VPXORD(g.hi, g.hi, g.hi)
	}
	blockStart()
	Label(name + "_block")
	TESTQ(pkLeft, pkLeft)
	JZ(LabelRef(name + "_store"))
	PREFETCHT0(Mem{Base: pkWp, Disp: 2 * pkPrefetch})
	PREFETCHT0(Mem{Base: pkWp, Disp: 2*pkPrefetch + x4Block})
	sh := x4Shared{xlo, xhi, nlo, nhi, mask, perm}
	sh.load()
	for i, g := range gs {
		sh.group(g, Mem{Base: pkWp, Disp: x4Block * i})
	}
	pairNext()
	JMP(LabelRef(name + "_block"))

	Label(name + "_store")
	for i, g := range gs {
		q4x4ReduceAVX512(g.lo, g.hi, g.w, gather)
		VMOVUPS(g.w.AsX(), Mem{Base: pkOut, Disp: 16 * i})
	}
	ADDQ(U8(32), pkOut)
	MOVQ(pkWp, pkW) // the next pair follows this one's last block
	DECQ(pkGroups)
	JMP(LabelRef(name + "_pair"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// q4x4ReduceAVX512 reduces four rows' accumulators lo, hi (row r in lanes
// 4r..4r+3 of each) as hsum_float_8 and leaves the four sums in order in
// t's low 128 bits, through the lane permutation gather; lo is clobbered.
// The AVX-512 packed kernels' store (gemv, gathered rows, four-activation
// gemm).
func q4x4ReduceAVX512(lo, hi, t, gather VecPhysical) {
	VADDPS(hi, lo, lo) // per row: lanes (0+4, 1+5, 2+6, 3+7)
	VPERMILPS(U8(0x4e), lo, t)
	VADDPS(t, lo, lo) // (0+2), (1+3)
	VMOVSHDUP(lo, t)
	VADDPS(t, lo, lo) // (0+2)+(1+3) in lane 4r
	VPERMPS(lo, gather, t)
}

// q4x4PairRegs are the registers of q4x4PairBlockAVX2: w holds a block of
// two rows' nibbles (one row per 128-bit lane) and wh is scratch; xlo, xhi
// the activation's bytes 0-15 and 16-31 in both lanes, nlo, nhi its
// Q8_0Aux -8·Σx terms; mask is 0x0f bytes, ones 0x0001 words (registers
// or memory).
type q4x4PairRegs struct {
	w, wh, xlo, xhi, nlo, nhi VecPhysical
	mask, ones                Op
}

// q4x4PairBlockAVX2 adds one block of two rows into their eight-lane
// accumulators lo (elements 0-15) and hi (16-31), scaled by d: the AVX2
// packed kernels' per-block arithmetic (gemvQ4_0x4AVX2, gemvQ4_0RowsX4AVX2).
func q4x4PairBlockAVX2(r q4x4PairRegs, d, lo, hi VecPhysical) {
	VPSRLW(U8(4), r.w, r.wh)
	VPAND(r.mask, r.w, r.w)
	VPAND(r.mask, r.wh, r.wh)
	VPMADDUBSW(r.xlo, r.w, r.w) // pairs: |2·15·127| fits int16
	VPMADDWD(r.ones, r.w, r.w)
	VPADDD(r.nlo, r.w, r.w)
	VCVTDQ2PS(r.w, r.w)
	VFMADD231PS(d, r.w, lo)
	VPMADDUBSW(r.xhi, r.wh, r.wh)
	VPMADDWD(r.ones, r.wh, r.wh)
	VPADDD(r.nhi, r.wh, r.wh)
	VCVTDQ2PS(r.wh, r.wh)
	VFMADD231PS(d, r.wh, hi)
}

// q4x4ReduceAVX2 reduces the four rows' accumulators acc (lo01, hi01, lo23,
// hi23) as hsum_float_8 and leaves the four sums in order in acc[0]'s low
// 128 bits; w is scratch.
func q4x4ReduceAVX2(acc []VecPhysical, w VecPhysical) {
	for half := 0; half < 2; half++ {
		q4x4PairReduceAVX2(acc[2*half], acc[2*half+1], w)
	}
	VMOVLHPS(acc[2].AsX(), acc[0].AsX(), acc[0].AsX())
}

// q4x4PairReduceAVX2 reduces a row pair's accumulators lo, hi (one row per
// 128-bit lane) as hsum_float_8 into lo's lanes 0 and 1; t is scratch.
func q4x4PairReduceAVX2(lo, hi, t VecPhysical) {
	VADDPS(hi, lo, lo) // per row: (0+4, 1+5, 2+6, 3+7)
	VPERMILPS(U8(0x4e), lo, t)
	VADDPS(t, lo, lo) // (0+2), (1+3)
	VMOVSHDUP(lo, t)
	VADDPS(t, lo, lo) // (0+2)+(1+3) in lanes 0 and 4
	VEXTRACTF128(U8(1), lo, t.AsX())
	VUNPCKLPS(t.AsX(), lo.AsX(), lo.AsX()) // [row 2h, row 2h+1, ...]
}

// gemvQ4_0x4PairsAVX2 does a pair of groups (8 rows, interleaved block by
// block) per pass on 256-bit registers, gemvQ4_0x4AVX2's arithmetic with
// the activation's broadcasts shared by both groups. Its sixteen registers
// hold the eight accumulators, the broadcasts and four temporaries, so the
// byte mask, the word ones and the scale spread come from memory (the
// spread as an in-lane VPERMILPS of the four products copied to both lanes).
// What it is for is the layout: one sequential stream, where the one-group
// kernel on paired groups reads each pair's blocks twice, 144 bytes apart.
func gemvQ4_0x4PairsAVX2() {
	name := "gemvQ4_0x4PairsAVX2"
	pairsArgs(name)
	ones := GLOBL("q4x4Ones16", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(0x00010001))
	}
	spread := GLOBL("q4x4Spread", RODATA|NOPTR)
	for i := 0; i < 16; i++ { // rows 0,1 then rows 2,3: lane l picks product l/4 (+2) of its 128-bit lane
		DATA(4*i, U32(i/4))
	}
	mask := Mem{Base: StaticBase, Symbol: Symbol{Name: "q4x4Mask0F", Static: true}}
	accs := [][]VecPhysical{{Y0, Y1, Y2, Y3}, {Y4, Y5, Y6, Y7}} // per group: lo01, hi01, lo23, hi23
	xlo, xhi, nlo, nhi := Y8, Y9, Y10, Y11
	d01, d23, w, wh := Y12, Y13, Y14, Y15

	Label(name + "_pair")
	TESTQ(pkGroups, pkGroups)
	JZ(LabelRef(name + "_done"))
	for _, acc := range accs {
		for _, a := range acc {
			VXORPS(a, a, a)
		}
	}
	blockStart()
	Label(name + "_block")
	TESTQ(pkLeft, pkLeft)
	JZ(LabelRef(name + "_store"))
	PREFETCHT0(Mem{Base: pkWp, Disp: 2 * pkPrefetch})
	PREFETCHT0(Mem{Base: pkWp, Disp: 2*pkPrefetch + x4Block})
	VBROADCASTI128(Mem{Base: pkXp, Disp: 2}, xlo)
	VBROADCASTI128(Mem{Base: pkXp, Disp: 18}, xhi)
	VBROADCASTI128(Mem{Base: pkAp}, nlo)
	VBROADCASTI128(Mem{Base: pkAp, Disp: 16}, nhi)
	for i, acc := range accs {
		wq := Mem{Base: pkWp, Disp: x4Block * i}
		VCVTPH2PS(wq, d01.AsX())
		VMULPS(Mem{Base: pkAp, Disp: 32}, d01.AsX(), d01.AsX())
		VINSERTF128(U8(1), d01.AsX(), d01, d01)
		VPERMILPS(spread.Offset(32), d01, d23)
		VPERMILPS(spread, d01, d01)
		for half := 0; half < 2; half++ {
			d := []VecPhysical{d01, d23}[half]
			VMOVDQU(wq.Offset(8+32*half), w) // two rows × 16 nibble bytes
			q4x4PairBlockAVX2(q4x4PairRegs{w, wh, xlo, xhi, nlo, nhi, mask, ones}, d, acc[2*half], acc[2*half+1])
		}
	}
	pairNext()
	JMP(LabelRef(name + "_block"))

	Label(name + "_store")
	for i, acc := range accs {
		q4x4ReduceAVX2(acc, w)
		VMOVUPS(acc[0].AsX(), Mem{Base: pkOut, Disp: 16 * i})
	}
	ADDQ(U8(32), pkOut)
	MOVQ(pkWp, pkW) // the next pair follows this one's last block
	DECQ(pkGroups)
	JMP(LabelRef(name + "_pair"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// gemvQ4_0x4AVX2 does one group (4 rows) per pass on 256-bit registers: one
// register holds a block of two rows' nibbles, each 128-bit lane one row.
// It is bound by vector µops, not memory, even from L2 on Zen 4, so the
// scales take the fewest: four converted from memory into one XMM, one
// multiply, then a cross-lane spread per pair of rows (5-6 µops → 4: +5 %).
// Tried and dropped: two groups per pass (8 rows sharing the broadcasts,
// mask and ones from memory) ran no faster from L2 and ~40 % slower from
// DRAM; two blocks per loop pass (half the pointer updates and branches)
// no faster.
func gemvQ4_0x4AVX2() {
	packedArgs("gemvQ4_0x4AVX2")
	mask, ones := Y15, Y14
	xlo, xhi, nlo, nhi := Y4, Y5, Y6, Y7
	d01, d23, w, wh := Y8, Y9, Y10, Y11
	acc := []VecPhysical{Y0, Y1, Y2, Y3} // lo01, hi01, lo23, hi23
	broadcastConst(0x0f0f0f0f, mask)
	broadcastConst(0x00010001, ones)
	ctl01, ctl23 := Y12, Y13
	ctl := GLOBL("q4x4ScaleCtl", RODATA|NOPTR)
	for i := 0; i < 16; i++ { // rows 0,1 then rows 2,3: lane l picks scale l/4 (+2)
		DATA(4*i, U32(i/4))
	}
	VMOVDQU(ctl, ctl01)
	VMOVDQU(ctl.Offset(32), ctl23)

	packedSkips()
	Label("group")
	TESTQ(pkGroups, pkGroups)
	JZ(LabelRef("done"))
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	blockStart()
	Label("block")
	TESTQ(pkLeft, pkLeft)
	JZ(LabelRef("store"))
	PREFETCHT0(Mem{Base: pkWp, Disp: pkPrefetch})
	VBROADCASTI128(Mem{Base: pkXp, Disp: 2}, xlo)
	VBROADCASTI128(Mem{Base: pkXp, Disp: 18}, xhi)
	VBROADCASTI128(Mem{Base: pkAp}, nlo)
	VBROADCASTI128(Mem{Base: pkAp, Disp: 16}, nhi)
	// Scales: [s0 s1 s2 s3] × dx, then spread per row.
	VCVTPH2PS(Mem{Base: pkWp}, d01.AsX())
	VMULPS(Mem{Base: pkAp, Disp: 32}, d01.AsX(), d01.AsX())
	VPERMPS(d01, ctl23, d23)
	VPERMPS(d01, ctl01, d01)
	for half := 0; half < 2; half++ {
		d := []VecPhysical{d01, d23}[half]
		VMOVDQU(Mem{Base: pkWp, Disp: 8 + 32*half}, w) // two rows × 16 nibble bytes
		q4x4PairBlockAVX2(q4x4PairRegs{w, wh, xlo, xhi, nlo, nhi, mask, ones}, d, acc[2*half], acc[2*half+1])
	}
	blockNext()
	JMP(LabelRef("block"))

	Label("store")
	q4x4ReduceAVX2(acc, w)
	VMOVUPS(acc[0].AsX(), Mem{Base: pkOut})
	ADDQ(U8(16), pkOut)
	groupNext()
	DECQ(pkGroups)
	JMP(LabelRef("group"))

	Label("done")
	VZEROUPPER()
	RET()
}
