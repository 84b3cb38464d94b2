//go:build !purego

#include "textflag.h"

// Hand-written (avo has no arm64 backend). Tested under emulation with
//
//	GOARCH=arm64 go test -c -o k.test . && qemu-aarch64 -cpu max ./k.test
//
// (-cpu cortex-a72, which lacks SDOT, exercises the fallbacks.)
//
// The quantized dots reproduce the amd64 kernels bit for bit (and so
// llama.cpp's AVX2 numbers): per 32-element block, 8 int32 lanes of 4
// products each (SDOT into V5 for elements 0..15, V6 for 16..31, the same
// grouping as VPMADDUBSW+VPMADDWD), converted to float and FMA'd with
// d = d_w·d_x into an 8-lane accumulator (two 4-lane registers), reduced at
// the end as AVX2 does: lo+hi, then movehl, then movehdup.
//
// Instructions Go's assembler lacks are WORDs, each checked against GNU as
// (-march=armv8.2-a+dotprod):
#define SDOT_V5_V1_V3 WORD $0x4e839425 // SDOT V5.4S, V1.16B, V3.16B
#define SDOT_V6_V2_V4 WORD $0x4e849446 // SDOT V6.4S, V2.16B, V4.16B
#define SCVTF_V5 WORD $0x4e21d8a5      // SCVTF V5.4S, V5.4S
#define SCVTF_V6 WORD $0x4e21d8c6      // SCVTF V6.4S, V6.4S

// HSUM_Vn leaves in Fn the AVX2-order sum of the 8 lanes Vn:Vn+1 (V5 scratch):
// FADD Vn, Vn, Vn+1; EXT V5, Vn, Vn, #8; FADD Vn, Vn, V5; FADDP Sn, Vn.2S.
#define HSUM_V20 WORD $0x4e35d694; WORD $0x6e144285; WORD $0x4e25d694; WORD $0x7e30da94
#define HSUM_V22 WORD $0x4e37d6d6; WORD $0x6e1642c5; WORD $0x4e25d6d6; WORD $0x7e30dad6
#define HSUM_V24 WORD $0x4e39d718; WORD $0x6e184305; WORD $0x4e25d718; WORD $0x7e30db18
#define HSUM_V26 WORD $0x4e3bd75a; WORD $0x6e1a4345; WORD $0x4e25d75a; WORD $0x7e30db5a

// UNPACK_Q4(p): the Q4_0 nibbles at p → V1 (elements 0..15), V2 (16..31),
// minus 8 (V30 = 8s, V31 = 0x0F).
#define UNPACK_Q4(p) \
	VLD1  (p), [V0.B16] \
	VAND  V31.B16, V0.B16, V1.B16 \
	VUSHR $4, V0.B16, V2.B16 \
	VSUB  V30.B16, V1.B16, V1.B16 \
	VSUB  V30.B16, V2.B16, V2.B16

// UNPACK_Q8(p): the Q8_0 bytes at p → V1 (elements 0..15), V2 (16..31).
#define UNPACK_Q8(p) \
	VLD1 (p), [V1.B16, V2.B16]

// LANES(xq, accLo, accHi): with d_w in F16 and the weights in V1/V2, and xq
// pointing at a Q8_0 block, accumulate d·lanes(w·x) into accLo (lanes 0..3)
// and accHi (4..7). R19 scratch.
#define LANES(xq, accLo, accHi) \
	MOVHU  (xq), R19 \
	FMOVS  R19, F17 \
	FCVTHS F17, F17 \
	FMULS  F17, F16, F18 \
	VDUP   V18.S[0], V19.S4 \
	ADD    $2, xq, R19 \
	VLD1   (R19), [V3.B16, V4.B16] \
	VEOR   V5.B16, V5.B16, V5.B16 \
	VEOR   V6.B16, V6.B16, V6.B16 \
	SDOT_V5_V1_V3 \
	SDOT_V6_V2_V4 \
	SCVTF_V5 \
	SCVTF_V6 \
	VFMLA  V19.S4, V5.S4, accLo \
	VFMLA  V19.S4, V6.S4, accHi

// GEMV(UNPACK, wblock, ...): out[r] = dot(row r of w, x).
// R0 w row, R1 rowBytes, R2 x, R3 nb, R4 out, R5 rows left, R6/R7 w/x
// block cursors, R8 blocks left, R11 scratch; sums in V20:V21.
#define GEMV(UNPACK, wblock, lrow, lblock, lstore, ldone) \
	MOVD w_base+0(FP), R0 \
	MOVD rowBytes+24(FP), R1 \
	MOVD x_base+32(FP), R2 \
	MOVD nb+56(FP), R3 \
	MOVD out_base+64(FP), R4 \
	MOVD out_len+72(FP), R5 \
	VMOVI $15, V31.B16 \
	VMOVI $8, V30.B16 \
lrow: \
	CBZ  R5, ldone \
	MOVD R0, R6 \
	MOVD R2, R7 \
	MOVD R3, R8 \
	VEOR V20.B16, V20.B16, V20.B16 \
	VEOR V21.B16, V21.B16, V21.B16 \
lblock: \
	CBZ    R8, lstore \
	MOVHU  (R6), R11 \
	FMOVS  R11, F16 \
	FCVTHS F16, F16 \
	ADD    $2, R6, R11 \
	UNPACK(R11) \
	LANES(R7, V20.S4, V21.S4) \
	ADD    $wblock, R6 \
	ADD    $34, R7 \
	SUB    $1, R8 \
	B      lblock \
lstore: \
	HSUM_V20 \
	FMOVS F20, (R4) \
	ADD   $4, R4 \
	ADD   R1, R0 \
	SUB   $1, R5 \
	B     lrow \
ldone: \
	RET

// GEMM4(UNPACK, wblock, ...): o_j[r] = dot(row r of w, x_j) for j < 4, one
// weight block unpacked once for the four activations, each in GEMV's order.
// R0 w row, R1 rowBytes, R2-R5 x_j, R6 nb, R7-R10 o_j, R11 rows left,
// R12 w cursor, R13 x offset, R14 blocks left, R15 scratch; sums in
// V20:V21, V22:V23, V24:V25, V26:V27.
#define GEMM4(UNPACK, wblock, lrow, lblock, lstore, ldone) \
	MOVD w+0(FP), R0 \
	MOVD rowBytes+8(FP), R1 \
	MOVD x0+16(FP), R2 \
	MOVD x1+24(FP), R3 \
	MOVD x2+32(FP), R4 \
	MOVD x3+40(FP), R5 \
	MOVD nb+48(FP), R6 \
	MOVD o0+56(FP), R7 \
	MOVD o1+64(FP), R8 \
	MOVD o2+72(FP), R9 \
	MOVD o3+80(FP), R10 \
	MOVD rows+88(FP), R11 \
	VMOVI $15, V31.B16 \
	VMOVI $8, V30.B16 \
lrow: \
	CBZ  R11, ldone \
	MOVD R0, R12 \
	MOVD ZR, R13 \
	MOVD R6, R14 \
	VEOR V20.B16, V20.B16, V20.B16 \
	VEOR V21.B16, V21.B16, V21.B16 \
	VEOR V22.B16, V22.B16, V22.B16 \
	VEOR V23.B16, V23.B16, V23.B16 \
	VEOR V24.B16, V24.B16, V24.B16 \
	VEOR V25.B16, V25.B16, V25.B16 \
	VEOR V26.B16, V26.B16, V26.B16 \
	VEOR V27.B16, V27.B16, V27.B16 \
lblock: \
	CBZ    R14, lstore \
	MOVHU  (R12), R15 \
	FMOVS  R15, F16 \
	FCVTHS F16, F16 \
	ADD    $2, R12, R15 \
	UNPACK(R15) \
	ADD    R13, R2, R15 \
	LANES(R15, V20.S4, V21.S4) \
	ADD    R13, R3, R15 \
	LANES(R15, V22.S4, V23.S4) \
	ADD    R13, R4, R15 \
	LANES(R15, V24.S4, V25.S4) \
	ADD    R13, R5, R15 \
	LANES(R15, V26.S4, V27.S4) \
	ADD    $wblock, R12 \
	ADD    $34, R13 \
	SUB    $1, R14 \
	B      lblock \
lstore: \
	HSUM_V20 \
	HSUM_V22 \
	HSUM_V24 \
	HSUM_V26 \
	FMOVS F20, (R7) \
	FMOVS F22, (R8) \
	FMOVS F24, (R9) \
	FMOVS F26, (R10) \
	ADD   $4, R7 \
	ADD   $4, R8 \
	ADD   $4, R9 \
	ADD   $4, R10 \
	ADD   R1, R0 \
	SUB   $1, R11 \
	B     lrow \
ldone: \
	RET

// func gemvQ4_0Q8_0NEON(w []byte, rowBytes int, x []byte, nb int, out []float32)
TEXT ·gemvQ4_0Q8_0NEON(SB), NOSPLIT, $0-88
	GEMV(UNPACK_Q4, 18, v4row, v4block, v4store, v4done)

// func gemvQ8_0Q8_0NEON(w []byte, rowBytes int, x []byte, nb int, out []float32)
TEXT ·gemvQ8_0Q8_0NEON(SB), NOSPLIT, $0-88
	GEMV(UNPACK_Q8, 34, v8row, v8block, v8store, v8done)

// func gemm4Q4_0Q8_0NEON(w *byte, rowBytes int, x0, x1, x2, x3 *byte, nb int, o0, o1, o2, o3 *float32, rows int)
TEXT ·gemm4Q4_0Q8_0NEON(SB), NOSPLIT, $0-96
	GEMM4(UNPACK_Q4, 18, g4row, g4block, g4store, g4done)

// func gemm4Q8_0Q8_0NEON(w *byte, rowBytes int, x0, x1, x2, x3 *byte, nb int, o0, o1, o2, o3 *float32, rows int)
TEXT ·gemm4Q8_0Q8_0NEON(SB), NOSPLIT, $0-96
	GEMM4(UNPACK_Q8, 34, g8row, g8block, g8store, g8done)

// func dotF32NEON(a, b *float32, n int) float32
// n is a multiple of 16; four 4-lane FMA accumulators, then a pairwise sum.
TEXT ·dotF32NEON(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16

dotloop:
	CBZ    R2, dotsum
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	VFMLA  V4.S4, V8.S4, V0.S4
	VFMLA  V5.S4, V9.S4, V1.S4
	VFMLA  V6.S4, V10.S4, V2.S4
	VFMLA  V7.S4, V11.S4, V3.S4
	SUB    $16, R2
	B      dotloop

dotsum:
	WORD  $0x4e21d400 // FADD V0.4S, V0.4S, V1.4S
	WORD  $0x4e23d442 // FADD V2.4S, V2.4S, V3.4S
	WORD  $0x4e22d400 // FADD V0.4S, V0.4S, V2.4S
	WORD  $0x6e20d400 // FADDP V0.4S, V0.4S, V0.4S
	WORD  $0x7e30d800 // FADDP S0, V0.2S
	FMOVS F0, ret+24(FP)
	RET

// func axpyNEON(a float32, x, y *float32, n int)
// y[i] += a·x[i] (fused) for n a multiple of 16.
TEXT ·axpyNEON(SB), NOSPLIT, $0-32
	FMOVS a+0(FP), F16
	VDUP  V16.S[0], V16.S4
	MOVD  x+8(FP), R0
	MOVD  y+16(FP), R1
	MOVD  n+24(FP), R2

axpyloop:
	CBZ    R2, axpydone
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1   (R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V16.S4, V0.S4, V4.S4
	VFMLA  V16.S4, V1.S4, V5.S4
	VFMLA  V16.S4, V2.S4, V6.S4
	VFMLA  V16.S4, V3.S4, V7.S4
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R1)
	SUB    $16, R2
	B      axpyloop

axpydone:
	RET
