//go:build !purego

#include "textflag.h"
#include "go_asm.h"
#include "gemm_amd64.h"

// Register use of fgemmAVX512 (see fgemmArgs):
//	R14 args, SI first row of the tile, R8-R13 the tile's 6 rows of A,
//	DI packed B, BX first column of the group, CX k, DX k or bias, AX
//	temporary; stack: 0-40 the 6 output rows, 48 the last row index.
//	Z0-Z23 accumulators (row r, vector v in Z(r*nv+v)), Z24-Z27 B or bias,
//	Z28 broadcast A, Z29 lo, Z30 hi. K1 masks the last vector of a group.

// BIASn loads the group's bias (zero without one) into Z24-Z27, the last
// vector masked by K1.
#define BIAS4 \
	VMOVUPS (DX)(BX*4), Z24; \
	VMOVUPS 64(DX)(BX*4), Z25; \
	VMOVUPS 128(DX)(BX*4), Z26; \
	VMOVUPS.Z 192(DX)(BX*4), K1, Z27

#define BIAS3 \
	VMOVUPS (DX)(BX*4), Z24; \
	VMOVUPS 64(DX)(BX*4), Z25; \
	VMOVUPS.Z 128(DX)(BX*4), K1, Z26

#define BIAS2 \
	VMOVUPS (DX)(BX*4), Z24; \
	VMOVUPS.Z 64(DX)(BX*4), K1, Z25

#define BIAS1 \
	VMOVUPS.Z (DX)(BX*4), K1, Z24

// SETn starts a row's accumulators at the bias.
#define SET4(a0, a1, a2, a3) \
	VMOVAPS Z24, a0; \
	VMOVAPS Z25, a1; \
	VMOVAPS Z26, a2; \
	VMOVAPS Z27, a3

#define SET3(a0, a1, a2) \
	VMOVAPS Z24, a0; \
	VMOVAPS Z25, a1; \
	VMOVAPS Z26, a2

#define SET2(a0, a1) \
	VMOVAPS Z24, a0; \
	VMOVAPS Z25, a1

#define FMA4(ptr, a0, a1, a2, a3) \
	VBROADCASTSS (ptr)(CX*4), Z28; \
	VFMADD231PS Z24, Z28, a0; \
	VFMADD231PS Z25, Z28, a1; \
	VFMADD231PS Z26, Z28, a2; \
	VFMADD231PS Z27, Z28, a3

#define FMA3(ptr, a0, a1, a2) \
	VBROADCASTSS (ptr)(CX*4), Z28; \
	VFMADD231PS Z24, Z28, a0; \
	VFMADD231PS Z25, Z28, a1; \
	VFMADD231PS Z26, Z28, a2

#define FMA2(ptr, a0, a1) \
	VBROADCASTSS (ptr)(CX*4), Z28; \
	VFMADD231PS Z24, Z28, a0; \
	VFMADD231PS Z25, Z28, a1

#define FMA1(ptr, a0) \
	VBROADCASTSS (ptr)(CX*4), Z28; \
	VFMADD231PS Z24, Z28, a0

// OUT clamps acc (NaN stays NaN) and stores vector v of row r; OUTM only
// the lanes in K1.
#define OUT(acc, r, v) \
	VMAXPS acc, Z29, acc; \
	VMINPS acc, Z30, acc; \
	MOVQ (r*8)(SP), AX; \
	VMOVUPS acc, (v*64)(AX)(BX*4)

#define OUTM(acc, r, v) \
	VMAXPS acc, Z29, acc; \
	VMINPS acc, Z30, acc; \
	MOVQ (r*8)(SP), AX; \
	VMOVUPS acc, K1, (v*64)(AX)(BX*4)

// OUTn stores the n vectors of row r.
#define OUT4(r, a0, a1, a2, a3) \
	OUT(a0, r, 0); \
	OUT(a1, r, 1); \
	OUT(a2, r, 2); \
	OUTM(a3, r, 3)

#define OUT3(r, a0, a1, a2) \
	OUT(a0, r, 0); \
	OUT(a1, r, 1); \
	OUTM(a2, r, 2)

#define OUT2(r, a0, a1) \
	OUT(a0, r, 0); \
	OUTM(a1, r, 1)

// func fgemmAVX512(p *fgemmArgs)
TEXT ·fgemmAVX512(SB), NOSPLIT, $56-8
	MOVQ p+0(FP), R14
	MOVQ fgemmArgs_m(R14), AX
	DECQ AX
	MOVQ AX, 48(SP)
	VBROADCASTSS fgemmArgs_lo(R14), Z29
	VBROADCASTSS fgemmArgs_hi(R14), Z30
	XORL SI, SI

tile:
	FROW(0, R8)
	FROW(1, R9)
	FROW(2, R10)
	FROW(3, R11)
	FROW(4, R12)
	FROW(5, R13)
	MOVQ fgemmArgs_b(R14), DI
	XORL BX, BX

group:
	// K1 = lanes of the group's last vector that hold columns.
	LASTLANES(fgemmArgs_n(R14))
	XORL CX, CX
	MOVQ fgemmArgs_bias(R14), DX
	CMPQ AX, $48
	JGT  g4
	CMPQ AX, $32
	JGT  g3
	CMPQ AX, $16
	JGT  g2
	JMP  g1

g4:
	BIAS4
	SET4(Z0, Z1, Z2, Z3)
	SET4(Z4, Z5, Z6, Z7)
	SET4(Z8, Z9, Z10, Z11)
	SET4(Z12, Z13, Z14, Z15)
	SET4(Z16, Z17, Z18, Z19)
	SET4(Z20, Z21, Z22, Z23)
	MOVQ fgemmArgs_k(R14), DX

g4k:
	VMOVUPS (DI), Z24
	VMOVUPS 64(DI), Z25
	VMOVUPS 128(DI), Z26
	VMOVUPS 192(DI), Z27
	ADDQ $256, DI
	FMA4(R8, Z0, Z1, Z2, Z3)
	FMA4(R9, Z4, Z5, Z6, Z7)
	FMA4(R10, Z8, Z9, Z10, Z11)
	FMA4(R11, Z12, Z13, Z14, Z15)
	FMA4(R12, Z16, Z17, Z18, Z19)
	FMA4(R13, Z20, Z21, Z22, Z23)
	INCQ CX
	CMPQ CX, DX
	JLT  g4k
	OUT4(0, Z0, Z1, Z2, Z3)
	OUT4(1, Z4, Z5, Z6, Z7)
	OUT4(2, Z8, Z9, Z10, Z11)
	OUT4(3, Z12, Z13, Z14, Z15)
	OUT4(4, Z16, Z17, Z18, Z19)
	OUT4(5, Z20, Z21, Z22, Z23)
	ADDQ $64, BX
	CMPQ BX, fgemmArgs_n(R14)
	JLT  group
	JMP  next

g3:
	BIAS3
	SET3(Z0, Z1, Z2)
	SET3(Z3, Z4, Z5)
	SET3(Z6, Z7, Z8)
	SET3(Z9, Z10, Z11)
	SET3(Z12, Z13, Z14)
	SET3(Z15, Z16, Z17)
	MOVQ fgemmArgs_k(R14), DX

g3k:
	VMOVUPS (DI), Z24
	VMOVUPS 64(DI), Z25
	VMOVUPS 128(DI), Z26
	ADDQ $192, DI
	FMA3(R8, Z0, Z1, Z2)
	FMA3(R9, Z3, Z4, Z5)
	FMA3(R10, Z6, Z7, Z8)
	FMA3(R11, Z9, Z10, Z11)
	FMA3(R12, Z12, Z13, Z14)
	FMA3(R13, Z15, Z16, Z17)
	INCQ CX
	CMPQ CX, DX
	JLT  g3k
	OUT3(0, Z0, Z1, Z2)
	OUT3(1, Z3, Z4, Z5)
	OUT3(2, Z6, Z7, Z8)
	OUT3(3, Z9, Z10, Z11)
	OUT3(4, Z12, Z13, Z14)
	OUT3(5, Z15, Z16, Z17)
	JMP  next

g2:
	BIAS2
	SET2(Z0, Z1)
	SET2(Z2, Z3)
	SET2(Z4, Z5)
	SET2(Z6, Z7)
	SET2(Z8, Z9)
	SET2(Z10, Z11)
	MOVQ fgemmArgs_k(R14), DX

g2k:
	VMOVUPS (DI), Z24
	VMOVUPS 64(DI), Z25
	ADDQ $128, DI
	FMA2(R8, Z0, Z1)
	FMA2(R9, Z2, Z3)
	FMA2(R10, Z4, Z5)
	FMA2(R11, Z6, Z7)
	FMA2(R12, Z8, Z9)
	FMA2(R13, Z10, Z11)
	INCQ CX
	CMPQ CX, DX
	JLT  g2k
	OUT2(0, Z0, Z1)
	OUT2(1, Z2, Z3)
	OUT2(2, Z4, Z5)
	OUT2(3, Z6, Z7)
	OUT2(4, Z8, Z9)
	OUT2(5, Z10, Z11)
	JMP  next

g1:
	BIAS1
	VMOVAPS Z24, Z0
	VMOVAPS Z24, Z1
	VMOVAPS Z24, Z2
	VMOVAPS Z24, Z3
	VMOVAPS Z24, Z4
	VMOVAPS Z24, Z5
	MOVQ fgemmArgs_k(R14), DX

g1k:
	VMOVUPS (DI), Z24
	ADDQ $64, DI
	FMA1(R8, Z0)
	FMA1(R9, Z1)
	FMA1(R10, Z2)
	FMA1(R11, Z3)
	FMA1(R12, Z4)
	FMA1(R13, Z5)
	INCQ CX
	CMPQ CX, DX
	JLT  g1k
	OUTM(Z0, 0, 0)
	OUTM(Z1, 1, 0)
	OUTM(Z2, 2, 0)
	OUTM(Z3, 3, 0)
	OUTM(Z4, 4, 0)
	OUTM(Z5, 5, 0)

next:
	ADDQ $6, SI
	CMPQ SI, fgemmArgs_m(R14)
	JLT  tile
	VZEROUPPER
	RET
