//go:build !purego

#include "textflag.h"

// Hand-written (avo has no arm64 backend). Tested under emulation with
//
//	GOARCH=arm64 go test -c -o k.test . && qemu-aarch64 -cpu max ./k.test
//
// (-cpu cortex-a72, which lacks SDOT, exercises the purego fallback.)
// SDOT is not known to Go's assembler, so it is emitted as a WORD: SDOT Vd.4S, Vn.16B, Vm.16B =
// 0x4E809400 | m<<16 | n<<5 | d (checked with GNU as -march=armv8.2-a+dotprod).
#define SDOT_V5_V1_V3 WORD $0x4e839425
#define SDOT_V5_V2_V4 WORD $0x4e849445

// ACT4 is one activation's share of a gemm4 block: x block at xbase+R13,
// d = d_w (F16) · d_x, acc += float32(Σ w·x) · d, with w's halves in V1/V2.
#define ACT4(xbase, acc) \
	ADD     R13, xbase, R15 \
	MOVHU   (R15), R19 \
	FMOVS   R19, F17 \
	FCVTHS  F17, F17 \
	FMULS   F17, F16, F18 \
	ADD     $2, R15, R15 \
	VLD1    (R15), [V3.B16, V4.B16] \
	VEOR    V5.B16, V5.B16, V5.B16 \
	SDOT_V5_V1_V3 \
	SDOT_V5_V2_V4 \
	VADDV   V5.S4, V5 \
	FMOVS   F5, R19 \
	SCVTFWS R19, F19 \
	FMADDS  F18, acc, F19, acc

// GEMM4 emits gemm4<name>NEON: o_j[r] = dot(row r of w, x_j) for j < 4,
// r < rows, one weight block unpacked once for the four activations, in the
// same arithmetic order as the gemv kernels (so the results are identical).
// Registers: R0 w row, R1 rowBytes, R2-R5 x_j, R6 nb, R7-R10 o_j, R11 rows
// left, R12 w cursor, R13 x offset, R14 blocks left, R15/R19 scratch;
// F20-F23 the four sums.
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
lblock: \
	CBZ    R14, lstore \
	MOVHU  (R12), R15 \
	FMOVS  R15, F16 \
	FCVTHS F16, F16 \
	ADD    $2, R12, R15 \
	UNPACK \
	ACT4(R2, F20) \
	ACT4(R3, F21) \
	ACT4(R4, F22) \
	ACT4(R5, F23) \
	ADD    $wblock, R12 \
	ADD    $34, R13 \
	SUB    $1, R14 \
	B      lblock \
lstore: \
	FMOVS F20, (R7) \
	FMOVS F21, (R8) \
	FMOVS F22, (R9) \
	FMOVS F23, (R10) \
	ADD   $4, R7 \
	ADD   $4, R8 \
	ADD   $4, R9 \
	ADD   $4, R10 \
	ADD   R1, R0 \
	SUB   $1, R11 \
	B     lrow \
ldone: \
	RET

// Q4_0: 16 bytes of nibbles at R15 → V1 (elements 0..15), V2 (16..31), minus 8.
#define UNPACK_Q4 \
	VLD1  (R15), [V0.B16] \
	VAND  V31.B16, V0.B16, V1.B16 \
	VUSHR $4, V0.B16, V2.B16 \
	VSUB  V30.B16, V1.B16, V1.B16 \
	VSUB  V30.B16, V2.B16, V2.B16

#define UNPACK_Q8 \
	VLD1 (R15), [V1.B16, V2.B16]

// Registers: R0 w row, R1 rowBytes, R2 x, R3 nb, R4 out, R5 rows left,
// R6/R7 w/x block cursors, R8 blocks left. Vector V0-V5 scratch, V30 = 8s,
// V31 = 0x0F mask. Scalars live in F16-F20 (the low lanes of V16-V20) so
// they do not clobber the vectors.

// func gemvQ4_0Q8_0NEON(w []byte, rowBytes int, x []byte, nb int, out []float32)
TEXT ·gemvQ4_0Q8_0NEON(SB), NOSPLIT, $0-88
	MOVD w_base+0(FP), R0
	MOVD rowBytes+24(FP), R1
	MOVD x_base+32(FP), R2
	MOVD nb+56(FP), R3
	MOVD out_base+64(FP), R4
	MOVD out_len+72(FP), R5
	VMOVI $15, V31.B16
	VMOVI $8, V30.B16

q4row:
	CBZ  R5, q4done
	MOVD R0, R6
	MOVD R2, R7
	MOVD R3, R8
	VEOR V20.B16, V20.B16, V20.B16 // F20 = 0: the row sum

q4block:
	CBZ    R8, q4store
	MOVHU  (R6), R9
	MOVHU  (R7), R10
	FMOVS  R9, F16
	FMOVS  R10, F17
	FCVTHS F16, F16
	FCVTHS F17, F17
	FMULS  F17, F16, F18 // d = d_w·d_x
	ADD    $2, R6, R11
	VLD1   (R11), [V0.B16]
	ADD    $2, R7, R12
	VLD1   (R12), [V3.B16, V4.B16]
	VAND   V31.B16, V0.B16, V1.B16 // low nibbles: elements 0..15
	VUSHR  $4, V0.B16, V2.B16      // high nibbles: elements 16..31
	VSUB   V30.B16, V1.B16, V1.B16
	VSUB   V30.B16, V2.B16, V2.B16
	VEOR   V5.B16, V5.B16, V5.B16
	SDOT_V5_V1_V3
	SDOT_V5_V2_V4
	VADDV  V5.S4, V5
	FMOVS  F5, R13
	SCVTFWS R13, F19              // exact: |Σ| < 2^24
	FMADDS F18, F20, F19, F20     // sum += float32(s)·d
	ADD    $18, R6
	ADD    $34, R7
	SUB    $1, R8
	B      q4block

q4store:
	FMOVS F20, (R4)
	ADD   $4, R4
	ADD   R1, R0
	SUB   $1, R5
	B     q4row

q4done:
	RET

// func gemvQ8_0Q8_0NEON(w []byte, rowBytes int, x []byte, nb int, out []float32)
TEXT ·gemvQ8_0Q8_0NEON(SB), NOSPLIT, $0-88
	MOVD w_base+0(FP), R0
	MOVD rowBytes+24(FP), R1
	MOVD x_base+32(FP), R2
	MOVD nb+56(FP), R3
	MOVD out_base+64(FP), R4
	MOVD out_len+72(FP), R5

q8row:
	CBZ  R5, q8done
	MOVD R0, R6
	MOVD R2, R7
	MOVD R3, R8
	VEOR V20.B16, V20.B16, V20.B16

q8block:
	CBZ    R8, q8store
	MOVHU  (R6), R9
	MOVHU  (R7), R10
	FMOVS  R9, F16
	FMOVS  R10, F17
	FCVTHS F16, F16
	FCVTHS F17, F17
	FMULS  F17, F16, F18
	ADD    $2, R6, R11
	VLD1   (R11), [V1.B16, V2.B16]
	ADD    $2, R7, R12
	VLD1   (R12), [V3.B16, V4.B16]
	VEOR   V5.B16, V5.B16, V5.B16
	SDOT_V5_V1_V3
	SDOT_V5_V2_V4
	VADDV  V5.S4, V5
	FMOVS  F5, R13
	SCVTFWS R13, F19
	FMADDS F18, F20, F19, F20
	ADD    $34, R6
	ADD    $34, R7
	SUB    $1, R8
	B      q8block

q8store:
	FMOVS F20, (R4)
	ADD   $4, R4
	ADD   R1, R0
	SUB   $1, R5
	B     q8row

q8done:
	RET

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
