//go:build !purego

#include "textflag.h"

// K-quant gemv kernels for arm64 (NEON + SDOT), hand-written like
// kernels_arm64.s and bit-identical to the amd64 ones (and so to ggml's
// AVX2 kernels and quant's references): per 256-value super-block, 8 int32
// lanes (SDOT sums 4 consecutive products per lane, the grouping of
// VPMADDUBSW+VPMADDWD), each 16-value group times its scale (MLA by
// element), one SCVTF and one FMLA with d into the 8-lane accumulator
// V20:V21; Q4_K's mins go to a 4-lane accumulator (FMLS, fused like
// VFNMADD) added after the AVX2-order horizontal sum. Integer arithmetic is
// exact, so only the float steps need to match.
//
// Instructions Go's assembler lacks are WORDs; the comment of each is its
// GNU as spelling (aarch64-linux-gnu-as -march=armv8.2-a+dotprod), from which
// the word was assembled.

// func gemvQ4_KQ8_KNEON(w []byte, rowBytes int, x []byte, nb int, out []float32)
// Q4_K super-blocks (144 bytes) × Q8_K; mins in the 4-lane V22.
TEXT ·gemvQ4_KQ8_KNEON(SB), NOSPLIT, $0-88
	MOVD w_base+0(FP), R0
	MOVD rowBytes+24(FP), R1
	MOVD x_base+32(FP), R2
	MOVD nb+56(FP), R3
	MOVD out_base+64(FP), R4
	MOVD out_len+72(FP), R5
	VMOVI $15, V31.B16

q4krow:
	CBZ R5, q4kdone
	MOVD R0, R6
	MOVD R2, R7
	MOVD R3, R8
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16

q4kblock:
	CBZ R8, q4kstore
	// d = x.d·w.d, dmin = x.d·w.dmin (positive; FMLS subtracts)
	MOVHU (R6), R11
	FMOVS R11, F16
	FCVTHS F16, F16
	MOVHU 2(R6), R11
	FMOVS R11, F17
	FCVTHS F17, F17
	FMOVS (R7), F18
	FMULS F18, F16, F16
	FMULS F18, F17, F17
	VDUP V16.S[0], V16.S4
	VDUP V17.S[0], V17.S4
	// 6-bit scales and mins (ggml's utmp shuffle): R12 sc0-3, R14 sc4-7, R13 mn0-3, R15 mn4-7
	MOVWU 4(R6), R12
	MOVWU 8(R6), R13
	MOVWU 12(R6), R14
	LSRW $4, R14, R15
	ANDW $0x0f0f0f0f, R15
	LSRW $6, R13, R19
	ANDW $0x03030303, R19
	LSLW $4, R19, R19
	ORRW R19, R15, R15
	ANDW $0x3f3f3f3f, R13
	ANDW $0x0f0f0f0f, R14
	LSRW $6, R12, R19
	ANDW $0x03030303, R19
	LSLW $4, R19, R19
	ORRW R19, R14, R14
	ANDW $0x3f3f3f3f, R12
	VMOV R12, V0.S[0]
	VMOV R14, V0.S[1]
	VMOV R13, V0.S[2]
	VMOV R15, V0.S[3]
	VUXTL V0.B8, V1.H8
	VUXTL2 V0.B16, V2.H8
	VUXTL V1.H4, V3.S4
	VUXTL2 V1.H8, V4.S4
	// mins: lane k = mn[2k]·(bs[4k]+bs[4k+1]) + mn[2k+1]·(bs[4k+2]+bs[4k+3])
	ADD $260, R7, R11
	VLD1 (R11), [V5.H8, V6.H8]
	VADDP V6.H8, V5.H8, V7.H8
	WORD $0x0e67c048 // smull v8.4s, v2.4h, v7.4h
	WORD $0x4e67c049 // smull2 v9.4s, v2.8h, v7.8h
	WORD $0x4ea9bd0a // addp v10.4s, v8.4s, v9.4s
	WORD $0x4e21d94a // scvtf v10.4s, v10.4s
	VFMLS V17.S4, V10.S4, V22.S4
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	ADD $4, R7, R11
	ADD $16, R6, R19
	// values 64j..64j+63: low nibbles × scale 2j, high × 2j+1
	VLD1.P 32(R19), [V24.B16, V25.B16]
	VLD1.P 64(R11), [V26.B16, V27.B16, V28.B16, V29.B16]
	VAND V31.B16, V24.B16, V0.B16
	VAND V31.B16, V25.B16, V1.B16
	VUSHR $4, V24.B16, V2.B16
	VUSHR $4, V25.B16, V5.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e9a9408 // sdot v8.4s, v0.16b, v26.16b
	WORD $0x4e9b9429 // sdot v9.4s, v1.16b, v27.16b
	WORD $0x4e9c944a // sdot v10.4s, v2.16b, v28.16b
	WORD $0x4e9d94ad // sdot v13.4s, v5.16b, v29.16b
	WORD $0x6f83010b // mla v11.4s, v8.4s, v3.s[0]
	WORD $0x6f83012c // mla v12.4s, v9.4s, v3.s[0]
	WORD $0x6fa3014b // mla v11.4s, v10.4s, v3.s[1]
	WORD $0x6fa301ac // mla v12.4s, v13.4s, v3.s[1]
	// values 64j..64j+63: low nibbles × scale 2j, high × 2j+1
	VLD1.P 32(R19), [V24.B16, V25.B16]
	VLD1.P 64(R11), [V26.B16, V27.B16, V28.B16, V29.B16]
	VAND V31.B16, V24.B16, V0.B16
	VAND V31.B16, V25.B16, V1.B16
	VUSHR $4, V24.B16, V2.B16
	VUSHR $4, V25.B16, V5.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e9a9408 // sdot v8.4s, v0.16b, v26.16b
	WORD $0x4e9b9429 // sdot v9.4s, v1.16b, v27.16b
	WORD $0x4e9c944a // sdot v10.4s, v2.16b, v28.16b
	WORD $0x4e9d94ad // sdot v13.4s, v5.16b, v29.16b
	WORD $0x6f83090b // mla v11.4s, v8.4s, v3.s[2]
	WORD $0x6f83092c // mla v12.4s, v9.4s, v3.s[2]
	WORD $0x6fa3094b // mla v11.4s, v10.4s, v3.s[3]
	WORD $0x6fa309ac // mla v12.4s, v13.4s, v3.s[3]
	// values 64j..64j+63: low nibbles × scale 2j, high × 2j+1
	VLD1.P 32(R19), [V24.B16, V25.B16]
	VLD1.P 64(R11), [V26.B16, V27.B16, V28.B16, V29.B16]
	VAND V31.B16, V24.B16, V0.B16
	VAND V31.B16, V25.B16, V1.B16
	VUSHR $4, V24.B16, V2.B16
	VUSHR $4, V25.B16, V5.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e9a9408 // sdot v8.4s, v0.16b, v26.16b
	WORD $0x4e9b9429 // sdot v9.4s, v1.16b, v27.16b
	WORD $0x4e9c944a // sdot v10.4s, v2.16b, v28.16b
	WORD $0x4e9d94ad // sdot v13.4s, v5.16b, v29.16b
	WORD $0x6f84010b // mla v11.4s, v8.4s, v4.s[0]
	WORD $0x6f84012c // mla v12.4s, v9.4s, v4.s[0]
	WORD $0x6fa4014b // mla v11.4s, v10.4s, v4.s[1]
	WORD $0x6fa401ac // mla v12.4s, v13.4s, v4.s[1]
	// values 64j..64j+63: low nibbles × scale 2j, high × 2j+1
	VLD1.P 32(R19), [V24.B16, V25.B16]
	VLD1.P 64(R11), [V26.B16, V27.B16, V28.B16, V29.B16]
	VAND V31.B16, V24.B16, V0.B16
	VAND V31.B16, V25.B16, V1.B16
	VUSHR $4, V24.B16, V2.B16
	VUSHR $4, V25.B16, V5.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e9a9408 // sdot v8.4s, v0.16b, v26.16b
	WORD $0x4e9b9429 // sdot v9.4s, v1.16b, v27.16b
	WORD $0x4e9c944a // sdot v10.4s, v2.16b, v28.16b
	WORD $0x4e9d94ad // sdot v13.4s, v5.16b, v29.16b
	WORD $0x6f84090b // mla v11.4s, v8.4s, v4.s[2]
	WORD $0x6f84092c // mla v12.4s, v9.4s, v4.s[2]
	WORD $0x6fa4094b // mla v11.4s, v10.4s, v4.s[3]
	WORD $0x6fa409ac // mla v12.4s, v13.4s, v4.s[3]
	WORD $0x4e21d96b // scvtf v11.4s, v11.4s
	WORD $0x4e21d98c // scvtf v12.4s, v12.4s
	VFMLA V16.S4, V11.S4, V20.S4
	VFMLA V16.S4, V12.S4, V21.S4
	ADD $144, R6
	ADD $292, R7
	SUB $1, R8
	B q4kblock

q4kstore:
	WORD $0x4e35d694 // fadd v20.4s, v20.4s, v21.4s
	WORD $0x6e144285 // ext v5.16b, v20.16b, v20.16b, #8
	WORD $0x4e25d694 // fadd v20.4s, v20.4s, v5.4s
	WORD $0x7e30da94 // faddp s20, v20.2s
	WORD $0x6e1642c5 // ext v5.16b, v22.16b, v22.16b, #8
	WORD $0x4e25d6d6 // fadd v22.4s, v22.4s, v5.4s
	WORD $0x7e30dad6 // faddp s22, v22.2s
	FADDS F22, F20, F20
	FMOVS F20, (R4)
	ADD $4, R4
	ADD R1, R0
	SUB $1, R5
	B q4krow

q4kdone:
	RET

// func gemvQ6_KQ8_KNEON(w []byte, rowBytes int, x []byte, nb int, out []float32)
// Q6_K super-blocks (210 bytes) × Q8_K.
TEXT ·gemvQ6_KQ8_KNEON(SB), NOSPLIT, $0-88
	MOVD w_base+0(FP), R0
	MOVD rowBytes+24(FP), R1
	MOVD x_base+32(FP), R2
	MOVD nb+56(FP), R3
	MOVD out_base+64(FP), R4
	MOVD out_len+72(FP), R5
	VMOVI $15, V31.B16
	VMOVI $3, V30.B16
	VMOVI $32, V19.B16

q6krow:
	CBZ R5, q6kdone
	MOVD R0, R6
	MOVD R2, R7
	MOVD R3, R8
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16

q6kblock:
	CBZ R8, q6kstore
	MOVHU 208(R6), R11
	FMOVS R11, F16
	FCVTHS F16, F16
	FMOVS (R7), F18
	FMULS F18, F16, F16
	VDUP V16.S[0], V16.S4
	// the 16 int8 scales as int32: V3 0-3, V4 4-7, V6 8-11, V7 12-15
	ADD $192, R6, R11
	VLD1 (R11), [V0.B16]
	WORD $0x0f08a401 // sxtl v1.8h, v0.8b
	WORD $0x4f08a402 // sxtl2 v2.8h, v0.16b
	WORD $0x0f10a423 // sxtl v3.4s, v1.4h
	WORD $0x4f10a424 // sxtl2 v4.4s, v1.8h
	WORD $0x0f10a446 // sxtl v6.4s, v2.4h
	WORD $0x4f10a447 // sxtl2 v7.4s, v2.8h
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	MOVD R6, R19
	ADD $128, R6, R13
	ADD $4, R7, R11
	VLD1.P 64(R19), [V24.B16, V25.B16, V26.B16, V27.B16]
	VLD1.P 32(R13), [V28.B16, V29.B16]
	// values 128j+32l..+31: ql nibble | qh bits 2l,2l+1 << 4, minus 32
	VLD1.P 32(R11), [V8.B16, V9.B16]
	VAND V31.B16, V24.B16, V0.B16
	VAND V31.B16, V25.B16, V1.B16
	VAND V30.B16, V28.B16, V2.B16
	VAND V30.B16, V29.B16, V5.B16
	VSHL $4, V2.B16, V2.B16
	VSHL $4, V5.B16, V5.B16
	VORR V2.B16, V0.B16, V0.B16
	VORR V5.B16, V1.B16, V1.B16
	VSUB V19.B16, V0.B16, V0.B16
	VSUB V19.B16, V1.B16, V1.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e88940a // sdot v10.4s, v0.16b, v8.16b
	WORD $0x4e89942d // sdot v13.4s, v1.16b, v9.16b
	WORD $0x6f83014b // mla v11.4s, v10.4s, v3.s[0]
	WORD $0x6fa301ac // mla v12.4s, v13.4s, v3.s[1]
	// values 128j+32l..+31: ql nibble | qh bits 2l,2l+1 << 4, minus 32
	VLD1.P 32(R11), [V8.B16, V9.B16]
	VAND V31.B16, V26.B16, V0.B16
	VAND V31.B16, V27.B16, V1.B16
	VUSHR $2, V28.B16, V2.B16
	VUSHR $2, V29.B16, V5.B16
	VAND V30.B16, V2.B16, V2.B16
	VAND V30.B16, V5.B16, V5.B16
	VSHL $4, V2.B16, V2.B16
	VSHL $4, V5.B16, V5.B16
	VORR V2.B16, V0.B16, V0.B16
	VORR V5.B16, V1.B16, V1.B16
	VSUB V19.B16, V0.B16, V0.B16
	VSUB V19.B16, V1.B16, V1.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e88940a // sdot v10.4s, v0.16b, v8.16b
	WORD $0x4e89942d // sdot v13.4s, v1.16b, v9.16b
	WORD $0x6f83094b // mla v11.4s, v10.4s, v3.s[2]
	WORD $0x6fa309ac // mla v12.4s, v13.4s, v3.s[3]
	// values 128j+32l..+31: ql nibble | qh bits 2l,2l+1 << 4, minus 32
	VLD1.P 32(R11), [V8.B16, V9.B16]
	VUSHR $4, V24.B16, V0.B16
	VUSHR $4, V25.B16, V1.B16
	VUSHR $4, V28.B16, V2.B16
	VUSHR $4, V29.B16, V5.B16
	VAND V30.B16, V2.B16, V2.B16
	VAND V30.B16, V5.B16, V5.B16
	VSHL $4, V2.B16, V2.B16
	VSHL $4, V5.B16, V5.B16
	VORR V2.B16, V0.B16, V0.B16
	VORR V5.B16, V1.B16, V1.B16
	VSUB V19.B16, V0.B16, V0.B16
	VSUB V19.B16, V1.B16, V1.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e88940a // sdot v10.4s, v0.16b, v8.16b
	WORD $0x4e89942d // sdot v13.4s, v1.16b, v9.16b
	WORD $0x6f84014b // mla v11.4s, v10.4s, v4.s[0]
	WORD $0x6fa401ac // mla v12.4s, v13.4s, v4.s[1]
	// values 128j+32l..+31: ql nibble | qh bits 2l,2l+1 << 4, minus 32
	VLD1.P 32(R11), [V8.B16, V9.B16]
	VUSHR $4, V26.B16, V0.B16
	VUSHR $4, V27.B16, V1.B16
	VUSHR $6, V28.B16, V2.B16
	VUSHR $6, V29.B16, V5.B16
	VAND V30.B16, V2.B16, V2.B16
	VAND V30.B16, V5.B16, V5.B16
	VSHL $4, V2.B16, V2.B16
	VSHL $4, V5.B16, V5.B16
	VORR V2.B16, V0.B16, V0.B16
	VORR V5.B16, V1.B16, V1.B16
	VSUB V19.B16, V0.B16, V0.B16
	VSUB V19.B16, V1.B16, V1.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e88940a // sdot v10.4s, v0.16b, v8.16b
	WORD $0x4e89942d // sdot v13.4s, v1.16b, v9.16b
	WORD $0x6f84094b // mla v11.4s, v10.4s, v4.s[2]
	WORD $0x6fa409ac // mla v12.4s, v13.4s, v4.s[3]
	VLD1.P 64(R19), [V24.B16, V25.B16, V26.B16, V27.B16]
	VLD1.P 32(R13), [V28.B16, V29.B16]
	// values 128j+32l..+31: ql nibble | qh bits 2l,2l+1 << 4, minus 32
	VLD1.P 32(R11), [V8.B16, V9.B16]
	VAND V31.B16, V24.B16, V0.B16
	VAND V31.B16, V25.B16, V1.B16
	VAND V30.B16, V28.B16, V2.B16
	VAND V30.B16, V29.B16, V5.B16
	VSHL $4, V2.B16, V2.B16
	VSHL $4, V5.B16, V5.B16
	VORR V2.B16, V0.B16, V0.B16
	VORR V5.B16, V1.B16, V1.B16
	VSUB V19.B16, V0.B16, V0.B16
	VSUB V19.B16, V1.B16, V1.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e88940a // sdot v10.4s, v0.16b, v8.16b
	WORD $0x4e89942d // sdot v13.4s, v1.16b, v9.16b
	WORD $0x6f86014b // mla v11.4s, v10.4s, v6.s[0]
	WORD $0x6fa601ac // mla v12.4s, v13.4s, v6.s[1]
	// values 128j+32l..+31: ql nibble | qh bits 2l,2l+1 << 4, minus 32
	VLD1.P 32(R11), [V8.B16, V9.B16]
	VAND V31.B16, V26.B16, V0.B16
	VAND V31.B16, V27.B16, V1.B16
	VUSHR $2, V28.B16, V2.B16
	VUSHR $2, V29.B16, V5.B16
	VAND V30.B16, V2.B16, V2.B16
	VAND V30.B16, V5.B16, V5.B16
	VSHL $4, V2.B16, V2.B16
	VSHL $4, V5.B16, V5.B16
	VORR V2.B16, V0.B16, V0.B16
	VORR V5.B16, V1.B16, V1.B16
	VSUB V19.B16, V0.B16, V0.B16
	VSUB V19.B16, V1.B16, V1.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e88940a // sdot v10.4s, v0.16b, v8.16b
	WORD $0x4e89942d // sdot v13.4s, v1.16b, v9.16b
	WORD $0x6f86094b // mla v11.4s, v10.4s, v6.s[2]
	WORD $0x6fa609ac // mla v12.4s, v13.4s, v6.s[3]
	// values 128j+32l..+31: ql nibble | qh bits 2l,2l+1 << 4, minus 32
	VLD1.P 32(R11), [V8.B16, V9.B16]
	VUSHR $4, V24.B16, V0.B16
	VUSHR $4, V25.B16, V1.B16
	VUSHR $4, V28.B16, V2.B16
	VUSHR $4, V29.B16, V5.B16
	VAND V30.B16, V2.B16, V2.B16
	VAND V30.B16, V5.B16, V5.B16
	VSHL $4, V2.B16, V2.B16
	VSHL $4, V5.B16, V5.B16
	VORR V2.B16, V0.B16, V0.B16
	VORR V5.B16, V1.B16, V1.B16
	VSUB V19.B16, V0.B16, V0.B16
	VSUB V19.B16, V1.B16, V1.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e88940a // sdot v10.4s, v0.16b, v8.16b
	WORD $0x4e89942d // sdot v13.4s, v1.16b, v9.16b
	WORD $0x6f87014b // mla v11.4s, v10.4s, v7.s[0]
	WORD $0x6fa701ac // mla v12.4s, v13.4s, v7.s[1]
	// values 128j+32l..+31: ql nibble | qh bits 2l,2l+1 << 4, minus 32
	VLD1.P 32(R11), [V8.B16, V9.B16]
	VUSHR $4, V26.B16, V0.B16
	VUSHR $4, V27.B16, V1.B16
	VUSHR $6, V28.B16, V2.B16
	VUSHR $6, V29.B16, V5.B16
	VAND V30.B16, V2.B16, V2.B16
	VAND V30.B16, V5.B16, V5.B16
	VSHL $4, V2.B16, V2.B16
	VSHL $4, V5.B16, V5.B16
	VORR V2.B16, V0.B16, V0.B16
	VORR V5.B16, V1.B16, V1.B16
	VSUB V19.B16, V0.B16, V0.B16
	VSUB V19.B16, V1.B16, V1.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V13.B16, V13.B16, V13.B16
	WORD $0x4e88940a // sdot v10.4s, v0.16b, v8.16b
	WORD $0x4e89942d // sdot v13.4s, v1.16b, v9.16b
	WORD $0x6f87094b // mla v11.4s, v10.4s, v7.s[2]
	WORD $0x6fa709ac // mla v12.4s, v13.4s, v7.s[3]
	WORD $0x4e21d96b // scvtf v11.4s, v11.4s
	WORD $0x4e21d98c // scvtf v12.4s, v12.4s
	VFMLA V16.S4, V11.S4, V20.S4
	VFMLA V16.S4, V12.S4, V21.S4
	ADD $210, R6
	ADD $292, R7
	SUB $1, R8
	B q6kblock

q6kstore:
	WORD $0x4e35d694 // fadd v20.4s, v20.4s, v21.4s
	WORD $0x6e144285 // ext v5.16b, v20.16b, v20.16b, #8
	WORD $0x4e25d694 // fadd v20.4s, v20.4s, v5.4s
	WORD $0x7e30da94 // faddp s20, v20.2s
	FMOVS F20, (R4)
	ADD $4, R4
	ADD R1, R0
	SUB $1, R5
	B q6krow

q6kdone:
	RET
