//go:build !purego

#include "textflag.h"
#include "go_asm.h"
#include "gemm_amd64.h"

// Register use of fgemmAVX2 (see fgemmArgs):
//	R14 args, SI first row of the tile, R8-R13 the tile's 6 rows of A,
//	DI packed B, BX first column of the group, CX k, DX k or bias, AX
//	temporary; stack: 0-40 the 6 output rows, 48 the last row index.
//	Y0-Y11 accumulators (row r, vector v in Y(r*nv+v)), Y12-Y13 B, bias,
//	or lo and hi, Y14 broadcast A, Y15 lanes of the group's last vector
//	that hold columns.

#define FMA2(ptr, a0, a1) \
	VBROADCASTSS (ptr)(CX*4), Y14; \
	VFMADD231PS Y12, Y14, a0; \
	VFMADD231PS Y13, Y14, a1

#define FMA1(ptr, a0) \
	VBROADCASTSS (ptr)(CX*4), Y14; \
	VFMADD231PS Y12, Y14, a0

#define LOHI \
	VBROADCASTSS fgemmArgs_lo(R14), Y12; \
	VBROADCASTSS fgemmArgs_hi(R14), Y13

// OUT clamps acc (NaN stays NaN) and stores vector v of row r; OUTM only
// the lanes in Y15.
#define OUT(acc, r, v) \
	VMAXPS acc, Y12, acc; \
	VMINPS acc, Y13, acc; \
	MOVQ (r*8)(SP), AX; \
	VMOVUPS acc, (v*32)(AX)(BX*4)

#define OUTM(acc, r, v) \
	VMAXPS acc, Y12, acc; \
	VMINPS acc, Y13, acc; \
	MOVQ (r*8)(SP), AX; \
	VMASKMOVPS acc, Y15, (v*32)(AX)(BX*4)

// func fgemmAVX2(p *fgemmArgs)
TEXT ·fgemmAVX2(SB), NOSPLIT, $56-8
	MOVQ p+0(FP), R14
	MOVQ fgemmArgs_m(R14), AX
	DECQ AX
	MOVQ AX, 48(SP)
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
	// Y15 = lanes of the group's last vector that hold columns.
	MOVQ fgemmArgs_n(R14), AX
	SUBQ BX, AX
	MOVQ AX, CX
	MOVL $16, DX
	CMPQ CX, DX
	CMOVQGT DX, CX
	DECQ CX
	ANDQ $7, CX
	INCQ CX
	VMOVD CX, X15
	VPBROADCASTD X15, Y15
	VPCMPGTD ·iota8(SB), Y15, Y15
	XORL CX, CX
	MOVQ fgemmArgs_bias(R14), DX
	CMPQ AX, $8
	JLE  g1

	VMOVUPS (DX)(BX*4), Y12
	VMASKMOVPS 32(DX)(BX*4), Y15, Y13
	VMOVAPS Y12, Y0
	VMOVAPS Y13, Y1
	VMOVAPS Y12, Y2
	VMOVAPS Y13, Y3
	VMOVAPS Y12, Y4
	VMOVAPS Y13, Y5
	VMOVAPS Y12, Y6
	VMOVAPS Y13, Y7
	VMOVAPS Y12, Y8
	VMOVAPS Y13, Y9
	VMOVAPS Y12, Y10
	VMOVAPS Y13, Y11
	MOVQ fgemmArgs_k(R14), DX

g2k:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	ADDQ $64, DI
	FMA2(R8, Y0, Y1)
	FMA2(R9, Y2, Y3)
	FMA2(R10, Y4, Y5)
	FMA2(R11, Y6, Y7)
	FMA2(R12, Y8, Y9)
	FMA2(R13, Y10, Y11)
	INCQ CX
	CMPQ CX, DX
	JLT  g2k
	LOHI
	OUT(Y0, 0, 0)
	OUTM(Y1, 0, 1)
	OUT(Y2, 1, 0)
	OUTM(Y3, 1, 1)
	OUT(Y4, 2, 0)
	OUTM(Y5, 2, 1)
	OUT(Y6, 3, 0)
	OUTM(Y7, 3, 1)
	OUT(Y8, 4, 0)
	OUTM(Y9, 4, 1)
	OUT(Y10, 5, 0)
	OUTM(Y11, 5, 1)
	ADDQ $16, BX
	CMPQ BX, fgemmArgs_n(R14)
	JLT  group
	JMP  next

g1:
	VMASKMOVPS (DX)(BX*4), Y15, Y12
	VMOVAPS Y12, Y0
	VMOVAPS Y12, Y1
	VMOVAPS Y12, Y2
	VMOVAPS Y12, Y3
	VMOVAPS Y12, Y4
	VMOVAPS Y12, Y5
	MOVQ fgemmArgs_k(R14), DX

g1k:
	VMOVUPS (DI), Y12
	ADDQ $32, DI
	FMA1(R8, Y0)
	FMA1(R9, Y1)
	FMA1(R10, Y2)
	FMA1(R11, Y3)
	FMA1(R12, Y4)
	FMA1(R13, Y5)
	INCQ CX
	CMPQ CX, DX
	JLT  g1k
	LOHI
	OUTM(Y0, 0, 0)
	OUTM(Y1, 1, 0)
	OUTM(Y2, 2, 0)
	OUTM(Y3, 3, 0)
	OUTM(Y4, 4, 0)
	OUTM(Y5, 5, 0)

next:
	ADDQ $6, SI
	CMPQ SI, fgemmArgs_m(R14)
	JLT  tile
	VZEROUPPER
	RET
