//go:build !purego

#include "textflag.h"

// Hand-written attention kernels in ggml's float order; see attn.go.

// REDUCE32 leaves GGML_F32_VEC_REDUCE of a0..a3 in the low lane of a0:
// (a0+a2)+(a1+a3), lo+hi, two VHADDPS. t is a scratch X register.
#define REDUCE32(a0, a1, a2, a3, x0, t) \
	VADDPS       a2, a0, a0; \
	VADDPS       a3, a1, a1; \
	VADDPS       a1, a0, a0; \
	VEXTRACTF128 $0x01, a0, t; \
	VADDPS       t, x0, x0; \
	VHADDPS      x0, x0, x0; \
	VHADDPS      x0, x0, x0

// func attnScoresAVX2(q, k *float32, stride, n, d int, scale float32, out *float32)
// out[i] = ggml_vec_dot_f32(k+i*stride, q, d) * scale; stride in bytes,
// d a multiple of 32. Two positions at a time share the loads of q.
TEXT ·attnScoresAVX2(SB), NOSPLIT, $0-56
	MOVQ   q+0(FP), SI
	MOVQ   k+8(FP), DI
	MOVQ   stride+16(FP), BX
	MOVQ   n+24(FP), CX
	MOVQ   d+32(FP), DX
	VMOVSS scale+40(FP), X15
	MOVQ   out+48(FP), R8

pairs:
	CMPQ   CX, $2
	JB     single
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   SI, R9
	MOVQ   DI, R10
	LEAQ   (DI)(BX*1), R11
	MOVQ   DX, R12

pblk:
	VMOVUPS     (R9), Y8
	VFMADD231PS (R10), Y8, Y0
	VFMADD231PS (R11), Y8, Y4
	VMOVUPS     32(R9), Y9
	VFMADD231PS 32(R10), Y9, Y1
	VFMADD231PS 32(R11), Y9, Y5
	VMOVUPS     64(R9), Y10
	VFMADD231PS 64(R10), Y10, Y2
	VFMADD231PS 64(R11), Y10, Y6
	VMOVUPS     96(R9), Y11
	VFMADD231PS 96(R10), Y11, Y3
	VFMADD231PS 96(R11), Y11, Y7
	ADDQ        $0x80, R9
	ADDQ        $0x80, R10
	ADDQ        $0x80, R11
	SUBQ        $0x20, R12
	JNZ         pblk
	REDUCE32(Y0, Y1, Y2, Y3, X0, X8)
	REDUCE32(Y4, Y5, Y6, Y7, X4, X9)
	VMULSS      X15, X0, X0
	VMULSS      X15, X4, X4
	VMOVSS      X0, (R8)
	VMOVSS      X4, 4(R8)
	ADDQ        $8, R8
	LEAQ        (DI)(BX*2), DI
	SUBQ        $2, CX
	JMP         pairs

single:
	TESTQ  CX, CX
	JZ     done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   SI, R9
	MOVQ   DI, R10
	MOVQ   DX, R12

sblk:
	VMOVUPS     (R9), Y8
	VFMADD231PS (R10), Y8, Y0
	VMOVUPS     32(R9), Y9
	VFMADD231PS 32(R10), Y9, Y1
	VMOVUPS     64(R9), Y10
	VFMADD231PS 64(R10), Y10, Y2
	VMOVUPS     96(R9), Y11
	VFMADD231PS 96(R10), Y11, Y3
	ADDQ        $0x80, R9
	ADDQ        $0x80, R10
	SUBQ        $0x20, R12
	JNZ         sblk
	REDUCE32(Y0, Y1, Y2, Y3, X0, X8)
	VMULSS      X15, X0, X0
	VMOVSS      X0, (R8)

done:
	VZEROUPPER
	RET

// func attnAccumAVX2(acc *float32, d, lanes, lane0 int, s, v *float32, stride, n int)
// d (a multiple of 64 floats) and stride in bytes. For each 64-float chunk of
// the head and each lane l, the lane's 64 accumulators stay in Y0-Y7 while
// its rows i = (l-lane0) mod lanes, +lanes, ... are FMA'd in, in order.
TEXT ·attnAccumAVX2(SB), NOSPLIT, $0-64
	MOVQ d+8(FP), DX
	MOVQ lanes+16(FP), CX
	MOVQ s+32(FP), SI
	MOVQ v+40(FP), DI
	MOVQ n+56(FP), AX
	MOVQ CX, BX
	IMULQ stride+48(FP), BX // bytes from a lane's row to its next
	XORQ R8, R8             // byte offset of the chunk in the head

chunk:
	MOVQ acc+0(FP), R11
	ADDQ R8, R11            // lane 0's accumulators for this chunk
	MOVQ CX, R10
	SUBQ lane0+24(FP), R10  // first row of lane 0: (0-lane0) mod lanes
	CMPQ R10, CX
	JB   lanesetup
	XORQ R10, R10

lanesetup:
	MOVQ CX, R9 // lanes left

lane:
	CMPQ    R10, AX
	JAE     nextlane          // no row for this lane
	VMOVUPS (R11), Y0
	VMOVUPS 32(R11), Y1
	VMOVUPS 64(R11), Y2
	VMOVUPS 96(R11), Y3
	VMOVUPS 128(R11), Y4
	VMOVUPS 160(R11), Y5
	VMOVUPS 192(R11), Y6
	VMOVUPS 224(R11), Y7
	MOVQ    R10, R12
	LEAQ    (SI)(R10*4), R13
	MOVQ    stride+48(FP), R14
	IMULQ   R10, R14
	ADDQ    DI, R14
	ADDQ    R8, R14

row:
	VBROADCASTSS (R13), Y8
	VFMADD231PS  (R14), Y8, Y0
	VFMADD231PS  32(R14), Y8, Y1
	VFMADD231PS  64(R14), Y8, Y2
	VFMADD231PS  96(R14), Y8, Y3
	VFMADD231PS  128(R14), Y8, Y4
	VFMADD231PS  160(R14), Y8, Y5
	VFMADD231PS  192(R14), Y8, Y6
	VFMADD231PS  224(R14), Y8, Y7
	LEAQ         (R13)(CX*4), R13
	ADDQ         BX, R14
	ADDQ         CX, R12
	CMPQ         R12, AX
	JB           row
	VMOVUPS      Y0, (R11)
	VMOVUPS      Y1, 32(R11)
	VMOVUPS      Y2, 64(R11)
	VMOVUPS      Y3, 96(R11)
	VMOVUPS      Y4, 128(R11)
	VMOVUPS      Y5, 160(R11)
	VMOVUPS      Y6, 192(R11)
	VMOVUPS      Y7, 224(R11)

nextlane:
	ADDQ DX, R11
	INCQ R10
	CMPQ R10, CX
	JB   lanedone
	XORQ R10, R10

lanedone:
	DECQ R9
	JNZ  lane
	ADDQ $256, R8
	CMPQ R8, DX
	JB   chunk
	VZEROUPPER
	RET

// func attnReduce32AVX2(out, acc *float32, d int)
// d in bytes (a multiple of 32): out = GGML_F32_VEC_REDUCE over the 32 lanes
// acc[l*d/4 + e], eight elements at a time.
TEXT ·attnReduce32AVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ acc+8(FP), SI
	MOVQ d+16(FP), DX
	MOVQ DX, R8
	SHLQ $3, R8 // 8 lanes
	XORQ CX, CX

r32:
	LEAQ (SI)(CX*1), R9  // lane l
	LEAQ (R9)(R8*1), R10 // lane 8+l

#define LANE32(v) \
	VMOVUPS (R9), v; \
	VADDPS  (R9)(R8*2), v, v; \
	VMOVUPS (R10), Y9; \
	VADDPS  (R10)(R8*2), Y9, Y9; \
	VADDPS  Y9, v, v; \
	ADDQ    DX, R9; \
	ADDQ    DX, R10

	LANE32(Y0)
	LANE32(Y1)
	LANE32(Y2)
	LANE32(Y3)
	LANE32(Y4)
	LANE32(Y5)
	LANE32(Y6)
	LANE32(Y7)
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	VADDPS  Y1, Y0, Y0
	VADDPS  Y3, Y2, Y2
	VADDPS  Y2, Y0, Y0
	VMOVUPS Y0, (DI)(CX*1)
	ADDQ    $32, CX
	CMPQ    CX, DX
	JB      r32
	VZEROUPPER
	RET

// func attnReduce8AVX2(out, acc *float32, d int)
// d in bytes (a multiple of 32): out = hsum8 over the 8 lanes acc[l*d/4 + e]:
// (l+4) onto l, then (0+2)+(1+3).
TEXT ·attnReduce8AVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ acc+8(FP), SI
	MOVQ d+16(FP), DX
	LEAQ (DX)(DX*2), R8 // 3 lanes
	MOVQ DX, R11
	SHLQ $2, R11        // 4 lanes
	XORQ CX, CX

r8:
	LEAQ    (SI)(CX*1), R9
	LEAQ    (R9)(R8*1), R10
	VMOVUPS (R9), Y0
	VADDPS  (R9)(R11*1), Y0, Y0
	VMOVUPS (R9)(DX*1), Y1
	VADDPS  (R10)(DX*2), Y1, Y1
	VMOVUPS (R9)(DX*2), Y2
	VADDPS  (R10)(R8*1), Y2, Y2
	VMOVUPS (R10), Y3
	VADDPS  (R10)(R11*1), Y3, Y3
	VADDPS  Y2, Y0, Y0
	VADDPS  Y3, Y1, Y1
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)(CX*1)
	ADDQ    $32, CX
	CMPQ    CX, DX
	JB      r8
	VZEROUPPER
	RET
