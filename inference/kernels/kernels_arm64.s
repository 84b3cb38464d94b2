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
