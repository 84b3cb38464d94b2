package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Four-activation kernels for the Q4_0x4 layout (prompt batches): each
// block's nibbles are loaded and unpacked, and the rows' fp16 scales
// converted and spread, once for four activations. Every (row, activation)
// keeps gemvQ4_0x4's int32 lanes, its scale product s_row·d_x (spread
// first, then multiplied: the same products), its FMAs in block order into
// its own float lanes and its final reduction, so the outputs are gemvQ4_0x4's
// bit for bit.

// Registers of the four-activation packed kernels: the activation and aux
// pointers advance with the weights (scalar adds are free next to the
// vector work), so no index registers are needed.
var (
	g4X              = []Register{RDI, R9, R10, R11}
	g4A              = []Register{R12, R13, R14, RBX}
	g4W, g4Left, g4O = RSI, RCX, RDX // weights, blocks left, output offset
	g4Groups, g4Tmp  = R8, RAX
)

func gemm4PackedArgs(name string) {
	TEXT(name, NOSPLIT, "func(w *byte, stride, skipA, skipB int, x0, x1, x2, x3, a0, a1, a2, a3 *byte, nb int, o0, o1, o2, o3 *float32, groups int)")
	Pragma("noescape")
	Doc(name + " sets o_j[r], r < 4·groups, j < 4, to the dot product of row r of the Q4_0x4 groups at w (blocks stride bytes apart, groups as gemvQ4_0x4's) with the Q8_0 row x_j, whose Q8_0Aux is a_j.")
	Load(Param("w"), g4W)
	Load(Param("groups"), g4Groups)
	XORQ(g4O, g4O)
}

// gemm4PackedStart points the activation pointers at block 0 and sets the
// block count.
func gemm4PackedStart() {
	for j := 0; j < 4; j++ {
		Load(Param(fmt.Sprintf("x%d", j)), g4X[j])
		Load(Param(fmt.Sprintf("a%d", j)), g4A[j])
	}
	Load(Param("nb"), g4Left)
}

func gemm4PackedNext() {
	for j := 0; j < 4; j++ {
		ADDQ(U8(q8BlockSize), g4X[j])
		ADDQ(U8(q8AuxBytes), g4A[j])
	}
	ADDQ(NewParamAddr("stride", 8), g4W)
	DECQ(g4Left)
}

// gemm4PackedGroupNext moves g4W from after this group's last block to the
// next group's block 0: skipA after an even group, skipB after an odd one
// (the parity is bit 4 of the output offset, 16 bytes a group).
func gemm4PackedGroupNext() {
	MOVQ(NewParamAddr("skipA", 16), g4Tmp)
	TESTQ(U32(16), g4O)
	CMOVQNE(NewParamAddr("skipB", 24), g4Tmp)
	ADDQ(g4Tmp, g4W)
}

// gemm4AVX512 is the four-activation AVX-512 Q4_0 kernels' shared part
// (gemm4Q4_0x4AVX512 on packed groups, gemm4Q4_0RowsAVX512 on gathered
// plain rows): their registers, the nibble unpacking and the per-block
// arithmetic of each activation, which is the packed kernels' own, and
// the final reduction and stores.
type gemm4AVX512 struct {
	mask, perm, gather VecPhysical
	w, wh, d           VecPhysical // a block's nibbles (low, high) and the four rows' scales
	tmps               [2]struct{ x, sl, sh, ds VecPhysical }
}

// newGemm4AVX512 assigns the registers and loads the constants.
func newGemm4AVX512() *gemm4AVX512 {
	g := &gemm4AVX512{mask: Z31, perm: Z30, gather: Z29, w: Z8, wh: Z9, d: Z10}
	g.tmps[0].x, g.tmps[0].sl, g.tmps[0].sh, g.tmps[0].ds = Z11, Z12, Z13, Z14
	g.tmps[1].x, g.tmps[1].sl, g.tmps[1].sh, g.tmps[1].ds = Z15, Z16, Z17, Z18
	broadcastConst(0x0f0f0f0f, g.mask)
	VMOVDQU32(Mem{Base: StaticBase, Symbol: Symbol{Name: "q4x4ScalePerm", Static: true}}, g.perm)
	VMOVDQU32(Mem{Base: StaticBase, Symbol: Symbol{Name: "q4x4Gather", Static: true}}, g.gather)
	return g
}

// acc is activation j's two accumulators (gemvQ4_0x4AVX512's lo and hi).
func (g *gemm4AVX512) acc(j int) (lo, hi VecPhysical) {
	return []VecPhysical{Z0, Z2, Z4, Z6}[j], []VecPhysical{Z1, Z3, Z5, Z7}[j]
}

// zero clears the accumulators, each activation's then calling perAct(j)
// if it is not nil.
func (g *gemm4AVX512) zero(perAct func(j int)) {
	for j := 0; j < 4; j++ {
		lo, hi := g.acc(j)
		VPXORD(lo, lo, lo)
		VPXORD(hi, hi, hi)
		if perAct != nil {
			perAct(j)
		}
	}
}

// unpack splits the nibbles in w into elements 0..15 (w) and 16..31 (wh)
// of each row.
func (g *gemm4AVX512) unpack() {
	VPSRLW(U8(4), g.w, g.wh)
	VPANDD(g.mask, g.w, g.w)
	VPANDD(g.mask, g.wh, g.wh)
}

// block spreads the four rows' fp16 scales, converted into d's low
// lanes, to lanes 4r..4r+3, then adds the block's products with each
// activation j (its Q8_0 block at x[j], its Q8_0Aux block at aux(j),
// called before any of its use) into j's accumulators.
func (g *gemm4AVX512) block(x []Register, aux func(j int) Mem) {
	VPERMPS(g.d, g.perm, g.d) // row r's in lanes 4r..4r+3
	for j := 0; j < 4; j++ {
		t := g.tmps[j%2]
		lo, hi := g.acc(j)
		a := aux(j)
		VBROADCASTI32X4(Mem{Base: x[j], Disp: 2}, t.x)
		VBROADCASTI32X4(a, t.sl) // -8·Σx: Σ(u-8)·x = Σu·x - 8·Σx
		vpdpbusd(t.x, g.w, t.sl)
		VBROADCASTI32X4(Mem{Base: x[j], Disp: 18}, t.x)
		VBROADCASTI32X4(a.Offset(16), t.sh)
		vpdpbusd(t.x, g.wh, t.sh)
		VCVTDQ2PS(t.sl, t.sl)
		VCVTDQ2PS(t.sh, t.sh)
		VMULPS_BCST(a.Offset(32), g.d, t.ds) // × the activation's scale
		VFMADD231PS(t.ds, t.sl, lo)
		VFMADD231PS(t.ds, t.sh, hi)
	}
}

// store reduces each activation's accumulators to the quad's four results
// and stores them at output o_j plus off bytes (tmp is scratch).
func (g *gemm4AVX512) store(tmp, off Register) {
	for j := 0; j < 4; j++ {
		lo, hi := g.acc(j)
		t := g.tmps[j%2].x
		q4x4ReduceAVX512(lo, hi, t, g.gather)
		Load(Param(fmt.Sprintf("o%d", j)), tmp)
		VMOVUPS(t.AsX(), Mem{Base: tmp, Index: off, Scale: 1})
	}
}

// gemm4Q4_0x4AVX512 does one group (4 rows) × 4 activations per pass: 8
// accumulators, each activation's as gemvQ4_0x4AVX512's lo and hi.
func gemm4Q4_0x4AVX512() {
	name := "gemm4Q4_0x4AVX512"
	gemm4PackedArgs(name)
	g := newGemm4AVX512()
	w, d := g.w, g.d

	Label(name + "_group")
	TESTQ(g4Groups, g4Groups)
	JZ(LabelRef(name + "_done"))
	g.zero(nil)
	gemm4PackedStart()
	Label(name + "_block")
	TESTQ(g4Left, g4Left)
	JZ(LabelRef(name + "_store"))
	PREFETCHT0(Mem{Base: g4W, Disp: pkPrefetch})
	VMOVDQU32(Mem{Base: g4W, Disp: 8}, w) // four rows × 16 nibble bytes
	g.unpack()
	VCVTPH2PS(Mem{Base: g4W}, d.AsX()) // the four rows' scales
	g.block(g4X, func(j int) Mem { return Mem{Base: g4A[j]} })
	gemm4PackedNext()
	JMP(LabelRef(name + "_block"))

	Label(name + "_store")
	g.store(g4Tmp, g4O)
	gemm4PackedGroupNext()
	ADDQ(U8(16), g4O)
	DECQ(g4Groups)
	JMP(LabelRef(name + "_group"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// gemm4Q4_0x4AVX2 does two rows × 4 activations per pass over a group's
// blocks (rows 0-1, then 2-3): 4 rows × 4 activations would need 16
// accumulators. Each activation's two accumulators are gemvQ4_0x4AVX2's lo
// and hi of that row pair.
func gemm4Q4_0x4AVX2() {
	name := "gemm4Q4_0x4AVX2"
	gemm4PackedArgs(name)
	ones, ctl := Y12, Y11
	w, wh, d, ds, x, t := Y8, Y9, Y10, Y13, Y14, Y15
	mask := GLOBL("q4x4Mask0F", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(0x0f0f0f0f))
	}
	acc := func(j int) (lo, hi VecPhysical) {
		return []VecPhysical{Y0, Y2, Y4, Y6}[j], []VecPhysical{Y1, Y3, Y5, Y7}[j]
	}
	broadcastConst(0x00010001, ones)

	Label(name + "_group")
	TESTQ(g4Groups, g4Groups)
	JZ(LabelRef(name + "_done"))
	for half := 0; half < 2; half++ {
		block, store := fmt.Sprintf("%s_block%d", name, half), fmt.Sprintf("%s_store%d", name, half)
		if half == 1 { // back to the group's block 0
			Load(Param("nb"), g4Tmp)
			IMULQ(NewParamAddr("stride", 8), g4Tmp)
			SUBQ(g4Tmp, g4W)
		}
		// Lane l picks scale l/4 (+2): gemvQ4_0x4AVX2's spread.
		VMOVDQU(Mem{Base: StaticBase, Symbol: Symbol{Name: "q4x4ScaleCtl", Static: true}, Disp: 32 * half}, ctl)
		for j := 0; j < 4; j++ {
			lo, hi := acc(j)
			VXORPS(lo, lo, lo)
			VXORPS(hi, hi, hi)
		}
		gemm4PackedStart()
		Label(block)
		TESTQ(g4Left, g4Left)
		JZ(LabelRef(store))
		if half == 0 {
			PREFETCHT0(Mem{Base: g4W, Disp: pkPrefetch})
		}
		VCVTPH2PS(Mem{Base: g4W}, d.AsX())
		VPERMPS(d, ctl, d)
		VMOVDQU(Mem{Base: g4W, Disp: 8 + 32*half}, w) // two rows × 16 nibble bytes
		VPSRLW(U8(4), w, wh)
		VPAND(mask, w, w)
		VPAND(mask, wh, wh)
		for j := 0; j < 4; j++ {
			lo, hi := acc(j)
			VMULPS(Mem{Base: g4A[j], Disp: 32}, d, ds) // the activation's scale 8 times
			VBROADCASTI128(Mem{Base: g4X[j], Disp: 2}, x)
			VPMADDUBSW(x, w, t) // pairs: |2·15·127| fits int16
			VPMADDWD(ones, t, t)
			VBROADCASTI128(Mem{Base: g4A[j]}, x)
			VPADDD(x, t, t)
			VCVTDQ2PS(t, t)
			VFMADD231PS(ds, t, lo)
			VBROADCASTI128(Mem{Base: g4X[j], Disp: 18}, x)
			VPMADDUBSW(x, wh, t)
			VPMADDWD(ones, t, t)
			VBROADCASTI128(Mem{Base: g4A[j], Disp: 16}, x)
			VPADDD(x, t, t)
			VCVTDQ2PS(t, t)
			VFMADD231PS(ds, t, hi)
		}
		gemm4PackedNext()
		JMP(LabelRef(block))

		Label(store)
		for j := 0; j < 4; j++ {
			lo, hi := acc(j)
			q4x4PairReduceAVX2(lo, hi, t)
			Load(Param(fmt.Sprintf("o%d", j)), g4Tmp)
			VMOVQ(lo.AsX(), Mem{Base: g4Tmp, Index: g4O, Scale: 1, Disp: 8 * half})
		}
	}
	gemm4PackedGroupNext()
	ADDQ(U8(16), g4O)
	DECQ(g4Groups)
	JMP(LabelRef(name + "_group"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}
