package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The K-quant gemv kernels repeat ggml's AVX2 ggml_vec_dot_q{4,5,6}_K_q8_K
// instruction for instruction where it matters for rounding: per 256-value
// super-block, 8 int32 lanes (VPMADDUBSW, then VPMADDWD with the 16-value
// group scales), one VCVTDQ2PS and one VFMADD231PS into the accumulator;
// the mins (Q4_K: a 4-lane FMA accumulator; Q5_K: a scalar FMA) are added
// after the final horizontal sum. So they are bit-identical to the
// quant.DotQ*_KQ8_K references.

const (
	q8kBytes  = 292 // float32 d, 256 int8, 16 int16 bsums
	q8kQs     = 4
	q8kBsums  = 260
	q4kBytes  = 144
	q5kBytes  = 176
	q6kBytes  = 210
	kmask1    = 0x3f3f3f3f
	kmask2    = 0x0f0f0f0f
	kmask3    = 0x03030303
	scalesOff = 4 // Q4_K/Q5_K: fp16 d, fp16 dmin, then 12 bytes of scales
)

// Registers of the K-quant kernels.
var (
	kW, kRowBytes, kX, kOut, kRows = RSI, R8, RDI, RDX, R9
	kWp, kXp, kLeft                = R10, R11, R12
)

// kHeader loads the gemv arguments of a K-quant kernel.
func kHeader(name, doc string) {
	TEXT(name, NOSPLIT, "func(w []byte, rowBytes int, x []byte, nb int, out []float32)")
	Pragma("noescape")
	Doc(name+" sets out[r] to the dot product of row r of w ("+doc+", nb super-blocks, rows rowBytes apart)",
		"with the Q8_K row x, in the float order of ggml's AVX2 kernel.")
	Load(Param("w").Base(), kW)
	Load(Param("rowBytes"), kRowBytes)
	Load(Param("x").Base(), kX)
	Load(Param("out").Base(), kOut)
	Load(Param("out").Len(), kRows)
}

// unpackK4Scales turns the 12 scale bytes at blk+4 of a Q4_K/Q5_K block into
// 16 int16 (8 scales, then 8 mins) stored at local, as ggml's utmp shuffle
// followed by _mm256_cvtepu8_epi16; t is a scratch vector register.
func unpackK4Scales(blk Register, local Mem, t VecPhysical, gp [5]Register) {
	u0, u1, u2, a, b := gp[0], gp[1], gp[2], gp[3], gp[4]
	MOVL(Mem{Base: blk, Disp: scalesOff}, u0)
	MOVL(Mem{Base: blk, Disp: scalesOff + 4}, u1)
	MOVL(Mem{Base: blk, Disp: scalesOff + 8}, u2)
	// utmp[3] = ((utmp[2] >> 4) & kmask2) | (((utmp[1] >> 6) & kmask3) << 4)
	MOVL(u2, a)
	SHRL(U8(4), a)
	ANDL(U32(kmask2), a)
	MOVL(u1, b)
	SHRL(U8(6), b)
	ANDL(U32(kmask3), b)
	SHLL(U8(4), b)
	ORL(b, a) // a = utmp[3]: mins 4..7
	// uaux = utmp[1] & kmask1: mins 0..3
	ANDL(U32(kmask1), u1)
	// utmp[1] = (utmp[2] & kmask2) | (((utmp[0] >> 6) & kmask3) << 4): scales 4..7
	ANDL(U32(kmask2), u2)
	MOVL(u0, b)
	SHRL(U8(6), b)
	ANDL(U32(kmask3), b)
	SHLL(U8(4), b)
	ORL(b, u2)
	ANDL(U32(kmask1), u0) // scales 0..3
	VMOVD(u0, t.AsX())
	VPINSRD(U8(1), u2, t.AsX(), t.AsX())
	VPINSRD(U8(2), u1, t.AsX(), t.AsX())
	VPINSRD(U8(3), a, t.AsX(), t.AsX())
	VPMOVZXBW(t.AsX(), t)
	VMOVDQU(t, local)
}

// kScales loads d = x.d·fp16(w.d) broadcast into dv and, when dminv is not
// nil, x.d·fp16(w.dmin) (positive; callers subtract) into dminv.
func kScales(dOff int, xd Mem, dv, dminv VecPhysical) {
	if dminv == nil {
		MOVWLZX(Mem{Base: kWp, Disp: dOff}, EAX)
		VMOVD(EAX, dv.AsX())
		VCVTPH2PS(dv.AsX(), dv.AsX())
		VMULSS(xd, dv.AsX(), dv.AsX())
		VBROADCASTSS(dv.AsX(), dv)
		return
	}
	VMOVD(Mem{Base: kWp, Disp: dOff}, dv.AsX()) // d, dmin as two halves
	VCVTPH2PS(dv.AsX(), dv.AsX())
	VBROADCASTSS(xd, dminv.AsX())
	VMULPS(dminv.AsX(), dv.AsX(), dv.AsX())
	VMOVSHDUP(dv.AsX(), dminv.AsX())
	VBROADCASTSS(dminv.AsX(), dminv)
	VBROADCASTSS(dv.AsX(), dv)
}

// kRowLoop emits the loop over rows and super-blocks around block, which
// must leave the super-block's contribution in the accumulators; store
// writes the row's result from them.
func kRowLoop(wBlock int, clear, block, store func()) {
	Label("row")
	TESTQ(kRows, kRows)
	JZ(LabelRef("done"))
	clear()
	MOVQ(kW, kWp)
	MOVQ(kX, kXp)
	Load(Param("nb"), kLeft)
	Label("block")
	TESTQ(kLeft, kLeft)
	JZ(LabelRef("store"))
	block()
	ADDQ(U32(wBlock), kWp)
	ADDQ(U32(q8kBytes), kXp)
	DECQ(kLeft)
	JMP(LabelRef("block"))
	Label("store")
	store()
	ADDQ(U8(4), kOut)
	ADDQ(kRowBytes, kW)
	DECQ(kRows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// gemvQ4_5K emits the Q4_K (q5 false) or Q5_K kernel.
func gemvQ4_5K(q5 bool) {
	name, wBlock, qsOff, doc := "gemvQ4_KQ8_KAVX2", q4kBytes, 16, "Q4_K"
	if q5 {
		name, wBlock, qsOff, doc = "gemvQ5_KQ8_KAVX2", q5kBytes, 48, "Q5_K"
	}
	kHeader(name, doc)
	local := AllocLocal(32)
	acc, accm, m4, mone := Y0, Y1, Y15, Y14 // accm: Q4_K 4-lane mins, Q5_K scalar summs
	dv, dminv, sumi := Y2, Y3, Y4
	t := []VecPhysical{Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12}
	broadcastConst(0x0f0f0f0f, m4)
	if q5 {
		broadcastConst(0x01010101, mone)
	}
	xd := Mem{Base: kXp}
	kRowLoop(wBlock, func() {
		VXORPS(acc, acc, acc)
		VXORPS(accm, accm, accm)
	}, func() {
		kScales(0, xd, dv, dminv)
		unpackK4Scales(kWp, local, t[0], [5]Register{EAX, EBX, R13L, ECX, R14L})
		// mins · (pairwise sums of bsums), 4 int32 lanes
		VMOVDQU(Mem{Base: kXp, Disp: q8kBsums}, t[1])
		VEXTRACTI128(U8(1), t[1], t[2].AsX())
		VPHADDW(t[2].AsX(), t[1].AsX(), t[1].AsX())
		VPMADDWD(local.Offset(16), t[1].AsX(), t[1].AsX())
		if q5 {
			// summs += dmin·Σprod (an exact integer), one FMA
			VPHADDD(t[1].AsX(), t[1].AsX(), t[1].AsX())
			VPHADDD(t[1].AsX(), t[1].AsX(), t[1].AsX())
			VCVTDQ2PS(t[1].AsX(), t[1].AsX())
			VFNMADD231SS(t[1].AsX(), dminv.AsX(), accm.AsX())
		} else {
			VCVTDQ2PS(t[1].AsX(), t[1].AsX())
			VFNMADD231PS(t[1].AsX(), dminv.AsX(), accm.AsX())
		}
		if q5 {
			VMOVDQU(Mem{Base: kWp, Disp: 16}, t[7]) // qh
		}
		VPXOR(sumi, sumi, sumi)
		for j := 0; j < 4; j++ {
			bits, lo, hi, sc := t[0], t[1], t[2], t[3]
			VMOVDQU(Mem{Base: kWp, Disp: qsOff + 32*j}, bits)
			VPAND(m4, bits, lo)
			VPSRLW(U8(4), bits, hi)
			VPAND(m4, hi, hi)
			if q5 {
				// + 16·(bit 2j of qh), + 16·(bit 2j+1 of qh)
				for h, q := range []VecPhysical{lo, hi} {
					bit := 2*j + h
					VPSRLW(U8(bit), t[7], t[4])
					VPAND(mone, t[4], t[4])
					VPSLLW(U8(4), t[4], t[4])
					VPADDB(t[4], q, q)
				}
			}
			VPMADDUBSW(Mem{Base: kXp, Disp: q8kQs + 64*j}, lo, lo)
			VPBROADCASTW(local.Offset(2*(2*j)), sc)
			VPMADDWD(sc, lo, lo)
			VPMADDUBSW(Mem{Base: kXp, Disp: q8kQs + 64*j + 32}, hi, hi)
			VPBROADCASTW(local.Offset(2*(2*j+1)), sc)
			VPMADDWD(sc, hi, hi)
			VPADDD(hi, lo, lo)
			VPADDD(lo, sumi, sumi)
		}
		VCVTDQ2PS(sumi, sumi)
		VFMADD231PS(sumi, dv, acc)
	}, func() {
		hsum(acc, Y5)
		if !q5 {
			VMOVHLPS(accm.AsX(), accm.AsX(), Y5.AsX())
			VADDPS(Y5.AsX(), accm.AsX(), accm.AsX())
			VMOVSHDUP(accm.AsX(), Y5.AsX())
			VADDSS(Y5.AsX(), accm.AsX(), accm.AsX())
		}
		VADDSS(accm.AsX(), acc.AsX(), acc.AsX())
		VMOVSS(acc.AsX(), Mem{Base: kOut})
	})
}

// shuf row c picks Q6_K scale byte 2c into the low 8 bytes and 2c+1 into
// the high 8 (ggml's get_scale_shuffle); gemvQ6_K defines it.
var shuf Mem

// gemvQ6_K emits the Q6_K kernel.
func gemvQ6_K() {
	shuf = GLOBL("q6kScaleShuffle", RODATA|NOPTR)
	for c := 0; c < 8; c++ {
		for i := 0; i < 16; i++ {
			DATA(16*c+i, U8(2*c+i/8))
		}
	}
	kHeader("gemvQ6_KQ8_KAVX2", "Q6_K")
	acc, m4, m3, m32 := Y0, Y15, Y14, Y13
	dv, sumi, scales := Y2, Y4, Y3
	t := []VecPhysical{Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12}
	broadcastConst(0x0f0f0f0f, m4)
	broadcastConst(0x03030303, m3)
	broadcastConst(0x20202020, m32)
	kRowLoop(q6kBytes, func() {
		VXORPS(acc, acc, acc)
	}, func() {
		kScales(208, Mem{Base: kXp}, dv, nil)
		VMOVDQU(Mem{Base: kWp, Disp: 192}, scales.AsX())
		VPXOR(sumi, sumi, sumi)
		for j := 0; j < 2; j++ {
			b1, b2, bh := t[0], t[1], t[2]
			VMOVDQU(Mem{Base: kWp, Disp: 64 * j}, b1)
			VMOVDQU(Mem{Base: kWp, Disp: 64*j + 32}, b2)
			VMOVDQU(Mem{Base: kWp, Disp: 128 + 32*j}, bh)
			for l := 0; l < 4; l++ {
				q, h, s, p := t[3], t[4], t[5], t[6]
				// high 2 bits: (qh >> 2l) & 3, moved to bits 4..5
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
				x := Mem{Base: kXp, Disp: q8kQs + 128*j + 32*l}
				VMOVDQU(x, p)
				VPMADDUBSW(p, m32, s) // 32·x pairs: the -32 offset
				VPMADDUBSW(p, q, q)
				VPSUBW(s, q, q)
				c := 4*j + l
				VPSHUFB(shuf.Offset(16*c), scales.AsX(), s.AsX())
				VPMOVSXBW(s.AsX(), s)
				VPMADDWD(s, q, q)
				VPADDD(q, sumi, sumi)
			}
		}
		VCVTDQ2PS(sumi, sumi)
		VFMADD231PS(sumi, dv, acc)
	}, func() {
		hsum(acc, Y5)
		VMOVSS(acc.AsX(), Mem{Base: kOut})
	})
}
