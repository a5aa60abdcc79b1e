//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// Register use of fgemmAVX512 (see fgemmArgs):
//	R14 args, SI first row of the tile, R8-R13 the tile's 6 rows of A,
//	DI packed B, BX first column of the group, CX k, DX k or bias, AX
//	temporary; stack: 0-40 the 6 output rows, 48 the last row index.
//	Z0-Z23 accumulators (row r, vector v in Z(r*nv+v)), Z24-Z27 B or bias,
//	Z28 broadcast A, Z29 lo, Z30 hi. K1 masks the last vector of a group.

// ROW points reg at row r of the tile (clamped to the last row) and saves
// its output row.
#define ROW(r, reg) \
	LEAQ r(SI), AX; \
	CMPQ AX, 48(SP); \
	CMOVQGT 48(SP), AX; \
	MOVQ AX, reg; \
	IMULQ fgemmArgs_lda(R14), reg; \
	SHLQ $2, reg; \
	ADDQ fgemmArgs_a(R14), reg; \
	IMULQ fgemmArgs_ldo(R14), AX; \
	SHLQ $2, AX; \
	ADDQ fgemmArgs_out(R14), AX; \
	MOVQ AX, (r*8)(SP)

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
	ROW(0, R8)
	ROW(1, R9)
	ROW(2, R10)
	ROW(3, R11)
	ROW(4, R12)
	ROW(5, R13)
	MOVQ fgemmArgs_b(R14), DI
	XORL BX, BX

group:
	// K1 = lanes of the group's last vector that hold columns.
	MOVQ fgemmArgs_n(R14), AX
	SUBQ BX, AX
	MOVQ AX, CX
	MOVL $64, DX
	CMPQ CX, DX
	CMOVQGT DX, CX
	DECQ CX
	ANDQ $15, CX
	NEGQ CX
	ADDQ $15, CX
	MOVL $0xffff, DX
	SHRL CX, DX
	KMOVW DX, K1
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
	VMOVAPS Z24, Z0
	VMOVAPS Z25, Z1
	VMOVAPS Z26, Z2
	VMOVAPS Z27, Z3
	VMOVAPS Z24, Z4
	VMOVAPS Z25, Z5
	VMOVAPS Z26, Z6
	VMOVAPS Z27, Z7
	VMOVAPS Z24, Z8
	VMOVAPS Z25, Z9
	VMOVAPS Z26, Z10
	VMOVAPS Z27, Z11
	VMOVAPS Z24, Z12
	VMOVAPS Z25, Z13
	VMOVAPS Z26, Z14
	VMOVAPS Z27, Z15
	VMOVAPS Z24, Z16
	VMOVAPS Z25, Z17
	VMOVAPS Z26, Z18
	VMOVAPS Z27, Z19
	VMOVAPS Z24, Z20
	VMOVAPS Z25, Z21
	VMOVAPS Z26, Z22
	VMOVAPS Z27, Z23
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
	OUT(Z0, 0, 0)
	OUT(Z1, 0, 1)
	OUT(Z2, 0, 2)
	OUTM(Z3, 0, 3)
	OUT(Z4, 1, 0)
	OUT(Z5, 1, 1)
	OUT(Z6, 1, 2)
	OUTM(Z7, 1, 3)
	OUT(Z8, 2, 0)
	OUT(Z9, 2, 1)
	OUT(Z10, 2, 2)
	OUTM(Z11, 2, 3)
	OUT(Z12, 3, 0)
	OUT(Z13, 3, 1)
	OUT(Z14, 3, 2)
	OUTM(Z15, 3, 3)
	OUT(Z16, 4, 0)
	OUT(Z17, 4, 1)
	OUT(Z18, 4, 2)
	OUTM(Z19, 4, 3)
	OUT(Z20, 5, 0)
	OUT(Z21, 5, 1)
	OUT(Z22, 5, 2)
	OUTM(Z23, 5, 3)
	ADDQ $64, BX
	CMPQ BX, fgemmArgs_n(R14)
	JLT  group
	JMP  next

g3:
	BIAS3
	VMOVAPS Z24, Z0
	VMOVAPS Z25, Z1
	VMOVAPS Z26, Z2
	VMOVAPS Z24, Z3
	VMOVAPS Z25, Z4
	VMOVAPS Z26, Z5
	VMOVAPS Z24, Z6
	VMOVAPS Z25, Z7
	VMOVAPS Z26, Z8
	VMOVAPS Z24, Z9
	VMOVAPS Z25, Z10
	VMOVAPS Z26, Z11
	VMOVAPS Z24, Z12
	VMOVAPS Z25, Z13
	VMOVAPS Z26, Z14
	VMOVAPS Z24, Z15
	VMOVAPS Z25, Z16
	VMOVAPS Z26, Z17
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
	OUT(Z0, 0, 0)
	OUT(Z1, 0, 1)
	OUTM(Z2, 0, 2)
	OUT(Z3, 1, 0)
	OUT(Z4, 1, 1)
	OUTM(Z5, 1, 2)
	OUT(Z6, 2, 0)
	OUT(Z7, 2, 1)
	OUTM(Z8, 2, 2)
	OUT(Z9, 3, 0)
	OUT(Z10, 3, 1)
	OUTM(Z11, 3, 2)
	OUT(Z12, 4, 0)
	OUT(Z13, 4, 1)
	OUTM(Z14, 4, 2)
	OUT(Z15, 5, 0)
	OUT(Z16, 5, 1)
	OUTM(Z17, 5, 2)
	JMP  next

g2:
	BIAS2
	VMOVAPS Z24, Z0
	VMOVAPS Z25, Z1
	VMOVAPS Z24, Z2
	VMOVAPS Z25, Z3
	VMOVAPS Z24, Z4
	VMOVAPS Z25, Z5
	VMOVAPS Z24, Z6
	VMOVAPS Z25, Z7
	VMOVAPS Z24, Z8
	VMOVAPS Z25, Z9
	VMOVAPS Z24, Z10
	VMOVAPS Z25, Z11
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
	OUT(Z0, 0, 0)
	OUTM(Z1, 0, 1)
	OUT(Z2, 1, 0)
	OUTM(Z3, 1, 1)
	OUT(Z4, 2, 0)
	OUTM(Z5, 2, 1)
	OUT(Z6, 3, 0)
	OUTM(Z7, 3, 1)
	OUT(Z8, 4, 0)
	OUTM(Z9, 4, 1)
	OUT(Z10, 5, 0)
	OUTM(Z11, 5, 1)
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
