//go:build !purego

#include "textflag.h"
#include "go_asm.h"
#include "gemm_amd64.h"

// Register use of qgemmAVX2 (see qgemmArgs):
//	R14 args, SI first row of the tile, R8-R11 the tile's 4 rows of A,
//	DI packed B, BX first column of the group, CX k offset, DX kp or the
//	scales, R12 columns in the group's last vector, AX, R13 temporaries;
//	stack: 0-24 the 4 output rows, 32-44 the 4 row terms, 48 the last row.
//	Y0-Y7 accumulators (row r, vector v in Y(r*nv+v)), Y8-Y9 B, Y10 A,
//	Y11 products, Y12 the xor bytes, Y13 lanes of the last vector that
//	hold columns; in the epilogue Y8 scales, Y9 OutZP, Y10 Lo, Y11 Hi,
//	Y14 temporary, Y15 the byte gather.

#define ROW(r, reg) QROW(r, reg, 48, 32)

#define INIT2(r, a0, a1) \
	VPBROADCASTD (32+r*4)(SP), Y10; \
	VPADDD Y8, Y10, a0; \
	VPADDD Y9, Y10, a1

#define INIT1(r, a0) \
	VPBROADCASTD (32+r*4)(SP), Y10; \
	VPADDD Y8, Y10, a0

// WIDEN broadcasts 2 k of row ptr, zero-extended to int16 pairs; WIDENX
// first XORs them.
#define WIDEN(ptr) \
	VPBROADCASTW (ptr)(CX*1), X10; \
	VPMOVZXBW X10, Y10

#define WIDENX(ptr) \
	VPBROADCASTW (ptr)(CX*1), X10; \
	VPXOR X12, X10, X10; \
	VPMOVZXBW X10, Y10

#define MADD2(a0, a1) \
	VPMADDWD Y8, Y10, Y11; \
	VPADDD Y11, a0, a0; \
	VPMADDWD Y9, Y10, Y11; \
	VPADDD Y11, a1, a1

#define MADD1(a0) \
	VPMADDWD Y8, Y10, Y11; \
	VPADDD Y11, a0, a0

// KLOOPn runs the k loop of an n-vector group with widen (WIDEN or
// WIDENX): it loads the group's B vectors and adds 2 k of the 4 rows, until
// k = kp.
#define KLOOP2(loop, widen) \
loop: \
	VMOVDQU (DI), Y8; \
	VMOVDQU 32(DI), Y9; \
	ADDQ $64, DI; \
	widen(R8); \
	MADD2(Y0, Y1); \
	widen(R9); \
	MADD2(Y2, Y3); \
	widen(R10); \
	MADD2(Y4, Y5); \
	widen(R11); \
	MADD2(Y6, Y7); \
	ADDQ $2, CX; \
	CMPQ CX, DX; \
	JLT  loop

#define KLOOP1(loop, widen) \
loop: \
	VMOVDQU (DI), Y8; \
	ADDQ $32, DI; \
	widen(R8); \
	MADD1(Y0); \
	widen(R9); \
	MADD1(Y1); \
	widen(R10); \
	MADD1(Y2); \
	widen(R11); \
	MADD1(Y3); \
	ADDQ $2, CX; \
	CMPQ CX, DX; \
	JLT  loop

#define EPICONST \
	VPBROADCASTD qgemmArgs_outZP(R14), Y9; \
	VPBROADCASTD qgemmArgs_lo(R14), Y10; \
	VPBROADCASTD qgemmArgs_hi(R14), Y11; \
	VMOVDQU ·lowBytes(SB), Y15; \
	MOVQ qgemmArgs_scale(R14), DX

// REQ requantizes acc in place and leaves its 8 bytes in the low half of
// acc's xmm: float32(acc)*scale rounded to nearest even (saturating like
// RoundEven), plus OutZP, clamped to [Lo, Hi].
#define REQ(acc, accx) \
	VCVTDQ2PS acc, acc; \
	VMULPS Y8, acc, acc; \
	VCMPPS $0x1d, ·two31x8(SB), acc, Y14; \
	VCVTPS2DQ acc, acc; \
	VBLENDVPS Y14, ·maxInt32x8(SB), acc, acc; \
	VPADDD Y9, acc, acc; \
	VPMAXSD Y10, acc, acc; \
	VPMINSD Y11, acc, acc; \
	VPSHUFB Y15, acc, acc; \
	VEXTRACTI128 $1, acc, X14; \
	VPUNPCKLDQ X14, accx, accx

// OUT stores the 8 bytes of vector v of row r; OUTM the first R12.
#define OUT(acc, accx, r, v) \
	REQ(acc, accx); \
	MOVQ (r*8)(SP), AX; \
	VMOVQ accx, (v*8)(AX)(BX*1)

#define OUTM(acc, accx, r, v) \
	REQ(acc, accx); \
	MOVQ (r*8)(SP), AX; \
	LEAQ (v*8)(AX)(BX*1), AX; \
	VMOVQ accx, R13; \
	CALL storeTail<>(SB)

// storeTail stores the low R12 bytes of R13 at AX (clobbering AX, R13).
TEXT storeTail<>(SB), NOSPLIT|NOFRAME, $0-0
	PUSHQ R12

tailbyte:
	MOVB R13, (AX)
	SHRQ $8, R13
	INCQ AX
	DECQ R12
	JNZ  tailbyte
	POPQ R12
	RET

// func qgemmAVX2(p *qgemmArgs)
TEXT ·qgemmAVX2(SB), NOSPLIT, $64-8
	MOVQ p+0(FP), R14
	MOVQ qgemmArgs_m(R14), AX
	DECQ AX
	MOVQ AX, 48(SP)
	VPBROADCASTD qgemmArgs_xor(R14), Y12
	XORL SI, SI

tile:
	ROW(0, R8)
	ROW(1, R9)
	ROW(2, R10)
	ROW(3, R11)
	MOVQ qgemmArgs_b(R14), DI
	XORL BX, BX

group:
	// R12 = columns in the group's last vector, Y13 = its lanes.
	MOVQ qgemmArgs_n(R14), AX
	SUBQ BX, AX
	MOVQ AX, R12
	MOVL $16, DX
	CMPQ R12, DX
	CMOVQGT DX, R12
	DECQ R12
	ANDQ $7, R12
	INCQ R12
	VMOVD R12, X13
	VPBROADCASTD X13, Y13
	VPCMPGTD ·iota8(SB), Y13, Y13
	XORL CX, CX
	MOVQ qgemmArgs_kp(R14), DX
	MOVQ qgemmArgs_bias(R14), R13
	CMPQ AX, $8
	JLE  g1

	VMOVDQU (R13)(BX*4), Y8
	VPMASKMOVD 32(R13)(BX*4), Y13, Y9
	INIT2(0, Y0, Y1)
	INIT2(1, Y2, Y3)
	INIT2(2, Y4, Y5)
	INIT2(3, Y6, Y7)
	CMPL qgemmArgs_xor(R14), $0
	JNE  g2x
	KLOOP2(g2k, WIDEN)
	JMP  g2out

	KLOOP2(g2x, WIDENX)

g2out:
	EPICONST
	VMOVUPS (DX)(BX*4), Y8
	OUT(Y0, X0, 0, 0)
	OUT(Y2, X2, 1, 0)
	OUT(Y4, X4, 2, 0)
	OUT(Y6, X6, 3, 0)
	VMASKMOVPS 32(DX)(BX*4), Y13, Y8
	OUTM(Y1, X1, 0, 1)
	OUTM(Y3, X3, 1, 1)
	OUTM(Y5, X5, 2, 1)
	OUTM(Y7, X7, 3, 1)
	ADDQ $16, BX
	CMPQ BX, qgemmArgs_n(R14)
	JLT  group
	JMP  next

g1:
	VPMASKMOVD (R13)(BX*4), Y13, Y8
	INIT1(0, Y0)
	INIT1(1, Y1)
	INIT1(2, Y2)
	INIT1(3, Y3)
	CMPL qgemmArgs_xor(R14), $0
	JNE  g1x
	KLOOP1(g1k, WIDEN)
	JMP  g1out

	KLOOP1(g1x, WIDENX)

g1out:
	EPICONST
	VMASKMOVPS (DX)(BX*4), Y13, Y8
	OUTM(Y0, X0, 0, 0)
	OUTM(Y1, X1, 1, 0)
	OUTM(Y2, X2, 2, 0)
	OUTM(Y3, X3, 3, 0)

next:
	ADDQ $4, SI
	CMPQ SI, qgemmArgs_m(R14)
	JLT  tile
	VZEROUPPER
	RET

// func rowSumsAVX2(a *byte, lda, m, k int, xor uint32, mul int32, dst *int32)
TEXT ·rowSumsAVX2(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), BX
	MOVQ m+16(FP), R8
	MOVQ k+24(FP), R9
	MOVL xor+32(FP), R11
	VMOVD R11, X15
	VPBROADCASTD X15, Y15
	MOVL R11, R12
	ANDL $0xff, R12
	MOVQ R11, AX
	SHLQ $32, AX
	ORQ  AX, R11
	MOVL mul+36(FP), R10
	MOVQ dst+40(FP), DI
	VPXOR Y14, Y14, Y14

rsrow:
	VPXOR Y0, Y0, Y0
	XORL CX, CX
	LEAQ 32(CX), DX
	CMPQ DX, R9
	JGT  rs8

rs32:
	VPXOR (SI)(CX*1), Y15, Y1
	VPSADBW Y14, Y1, Y1
	VPADDQ Y1, Y0, Y0
	ADDQ $32, CX
	LEAQ 32(CX), DX
	CMPQ DX, R9
	JLE  rs32

rs8:
	LEAQ 8(CX), DX
	CMPQ DX, R9
	JGT  rsreduce
	MOVQ (SI)(CX*1), DX
	XORQ R11, DX
	VMOVQ DX, X1
	VPSADBW X14, X1, X1
	VPADDQ Y1, Y0, Y0
	ADDQ $8, CX
	JMP  rs8

rsreduce:
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDQ X1, X0, X0
	VMOVQ X0, AX

rs1:
	CMPQ CX, R9
	JGE  rsdone
	MOVBLZX (SI)(CX*1), DX
	XORL R12, DX
	ADDL DX, AX
	INCQ CX
	JMP  rs1

rsdone:
	IMULL R10, AX
	MOVL AX, (DI)
	ADDQ $4, DI
	ADDQ BX, SI
	DECQ R8
	JNZ  rsrow
	VZEROUPPER
	RET
