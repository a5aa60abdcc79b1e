//go:build !purego

#include "textflag.h"
#include "go_asm.h"
#include "gemm_amd64.h"

// Register use of qgemmAVX512 (see qgemmArgs):
//	R14 args, SI first row of the tile, R8-R13 the tile's 6 rows of A,
//	DI packed B, BX first column of the group, CX k offset, DX kp,
//	AX temporary; stack: 0-40 the 6 output rows, 48-68 the 6 row terms,
//	72 the last row index.
//	Z0-Z23 accumulators (row r, vector v in Z(r*nv+v)), Z24-Z27 B or
//	epilogue values, Z28 broadcast A, Z29 MaxInt32, Z30 2^31 as float32,
//	Z31 the xor bytes. K1 masks the last vector of a group.

#define ROW(r, reg) QROW(r, reg, 72, 48)

// INITn sets the accumulators of row r to bias + row term.
#define INIT4(r, a0, a1, a2, a3) \
	VPBROADCASTD (48+r*4)(SP), Z28; \
	VPADDD Z24, Z28, a0; \
	VPADDD Z25, Z28, a1; \
	VPADDD Z26, Z28, a2; \
	VPADDD Z27, Z28, a3

#define INIT3(r, a0, a1, a2) \
	VPBROADCASTD (48+r*4)(SP), Z28; \
	VPADDD Z24, Z28, a0; \
	VPADDD Z25, Z28, a1; \
	VPADDD Z26, Z28, a2

#define INIT2(r, a0, a1) \
	VPBROADCASTD (48+r*4)(SP), Z28; \
	VPADDD Z24, Z28, a0; \
	VPADDD Z25, Z28, a1

#define INIT1(r, a0) \
	VPBROADCASTD (48+r*4)(SP), Z28; \
	VPADDD Z24, Z28, a0

// DOTn adds 4 k of row ptr times the group's B vectors; DOTnX first XORs
// the row's bytes.
#define DOT4(ptr, a0, a1, a2, a3) \
	VPBROADCASTD (ptr)(CX*1), Z28; \
	VPDPBUSD Z24, Z28, a0; \
	VPDPBUSD Z25, Z28, a1; \
	VPDPBUSD Z26, Z28, a2; \
	VPDPBUSD Z27, Z28, a3

#define DOT4X(ptr, a0, a1, a2, a3) \
	VPBROADCASTD (ptr)(CX*1), Z28; \
	VPXORD Z31, Z28, Z28; \
	VPDPBUSD Z24, Z28, a0; \
	VPDPBUSD Z25, Z28, a1; \
	VPDPBUSD Z26, Z28, a2; \
	VPDPBUSD Z27, Z28, a3

#define DOT3(ptr, a0, a1, a2) \
	VPBROADCASTD (ptr)(CX*1), Z28; \
	VPDPBUSD Z24, Z28, a0; \
	VPDPBUSD Z25, Z28, a1; \
	VPDPBUSD Z26, Z28, a2

#define DOT3X(ptr, a0, a1, a2) \
	VPBROADCASTD (ptr)(CX*1), Z28; \
	VPXORD Z31, Z28, Z28; \
	VPDPBUSD Z24, Z28, a0; \
	VPDPBUSD Z25, Z28, a1; \
	VPDPBUSD Z26, Z28, a2

#define DOT2(ptr, a0, a1) \
	VPBROADCASTD (ptr)(CX*1), Z28; \
	VPDPBUSD Z24, Z28, a0; \
	VPDPBUSD Z25, Z28, a1

#define DOT2X(ptr, a0, a1) \
	VPBROADCASTD (ptr)(CX*1), Z28; \
	VPXORD Z31, Z28, Z28; \
	VPDPBUSD Z24, Z28, a0; \
	VPDPBUSD Z25, Z28, a1

#define DOT1(ptr, a0) \
	VPBROADCASTD (ptr)(CX*1), Z28; \
	VPDPBUSD Z24, Z28, a0

#define DOT1X(ptr, a0) \
	VPBROADCASTD (ptr)(CX*1), Z28; \
	VPXORD Z31, Z28, Z28; \
	VPDPBUSD Z24, Z28, a0

// KLOOPn runs the k loop of an n-vector group with dot (DOTn or DOTnX):
// it loads the group's B vectors and adds 4 k of the 6 rows, until k = kp.
#define KLOOP4(loop, dot) \
loop: \
	VMOVDQU32 (DI), Z24; \
	VMOVDQU32 64(DI), Z25; \
	VMOVDQU32 128(DI), Z26; \
	VMOVDQU32 192(DI), Z27; \
	ADDQ $256, DI; \
	dot(R8, Z0, Z1, Z2, Z3); \
	dot(R9, Z4, Z5, Z6, Z7); \
	dot(R10, Z8, Z9, Z10, Z11); \
	dot(R11, Z12, Z13, Z14, Z15); \
	dot(R12, Z16, Z17, Z18, Z19); \
	dot(R13, Z20, Z21, Z22, Z23); \
	ADDQ $4, CX; \
	CMPQ CX, DX; \
	JLT  loop

#define KLOOP3(loop, dot) \
loop: \
	VMOVDQU32 (DI), Z24; \
	VMOVDQU32 64(DI), Z25; \
	VMOVDQU32 128(DI), Z26; \
	ADDQ $192, DI; \
	dot(R8, Z0, Z1, Z2); \
	dot(R9, Z3, Z4, Z5); \
	dot(R10, Z6, Z7, Z8); \
	dot(R11, Z9, Z10, Z11); \
	dot(R12, Z12, Z13, Z14); \
	dot(R13, Z15, Z16, Z17); \
	ADDQ $4, CX; \
	CMPQ CX, DX; \
	JLT  loop

#define KLOOP2(loop, dot) \
loop: \
	VMOVDQU32 (DI), Z24; \
	VMOVDQU32 64(DI), Z25; \
	ADDQ $128, DI; \
	dot(R8, Z0, Z1); \
	dot(R9, Z2, Z3); \
	dot(R10, Z4, Z5); \
	dot(R11, Z6, Z7); \
	dot(R12, Z8, Z9); \
	dot(R13, Z10, Z11); \
	ADDQ $4, CX; \
	CMPQ CX, DX; \
	JLT  loop

#define KLOOP1(loop, dot) \
loop: \
	VMOVDQU32 (DI), Z24; \
	ADDQ $64, DI; \
	dot(R8, Z0); \
	dot(R9, Z1); \
	dot(R10, Z2); \
	dot(R11, Z3); \
	dot(R12, Z4); \
	dot(R13, Z5); \
	ADDQ $4, CX; \
	CMPQ CX, DX; \
	JLT  loop

// EPICONST loads the epilogue's constants (Z24 is left for the scales).
#define EPICONST \
	VPBROADCASTD qgemmArgs_outZP(R14), Z25; \
	VPBROADCASTD qgemmArgs_lo(R14), Z26; \
	VPBROADCASTD qgemmArgs_hi(R14), Z27; \
	MOVQ qgemmArgs_scale(R14), DX

// REQ requantizes acc in place: float32(acc)*scale rounded to nearest even
// (saturating like RoundEven), plus OutZP, clamped to [Lo, Hi]. Without
// qgemmArgs.sat no product reaches 2^31, and REQN skips the saturation.
#define REQ(acc) \
	VCVTDQ2PS acc, acc; \
	VMULPS Z24, acc, acc; \
	VCMPPS $0x1d, Z30, acc, K2; \
	VCVTPS2DQ acc, acc; \
	VMOVDQA32 Z29, K2, acc; \
	VPADDD Z25, acc, acc; \
	VPMAXSD Z26, acc, acc; \
	VPMINSD Z27, acc, acc

#define REQN(acc) \
	VCVTDQ2PS acc, acc; \
	VMULPS Z24, acc, acc; \
	VCVTPS2DQ acc, acc; \
	VPADDD Z25, acc, acc; \
	VPMAXSD Z26, acc, acc; \
	VPMINSD Z27, acc, acc

// OUT stores the 16 bytes of vector v of row r after req; OUTM only the
// lanes in K1.
#define OUT(req, acc, r, v) \
	req(acc); \
	MOVQ (r*8)(SP), AX; \
	VPMOVDB acc, (v*16)(AX)(BX*1)

#define OUTM(req, acc, r, v) \
	req(acc); \
	MOVQ (r*8)(SP), AX; \
	VPMOVDB acc, K1, (v*16)(AX)(BX*1)

// The group epilogues: EPIn stores the n vectors of the 6 rows.
#define EPI4(req) \
	SCALE(0); \
	OUT(req, Z0, 0, 0); \
	OUT(req, Z4, 1, 0); \
	OUT(req, Z8, 2, 0); \
	OUT(req, Z12, 3, 0); \
	OUT(req, Z16, 4, 0); \
	OUT(req, Z20, 5, 0); \
	SCALE(1); \
	OUT(req, Z1, 0, 1); \
	OUT(req, Z5, 1, 1); \
	OUT(req, Z9, 2, 1); \
	OUT(req, Z13, 3, 1); \
	OUT(req, Z17, 4, 1); \
	OUT(req, Z21, 5, 1); \
	SCALE(2); \
	OUT(req, Z2, 0, 2); \
	OUT(req, Z6, 1, 2); \
	OUT(req, Z10, 2, 2); \
	OUT(req, Z14, 3, 2); \
	OUT(req, Z18, 4, 2); \
	OUT(req, Z22, 5, 2); \
	SCALEM(3); \
	OUTM(req, Z3, 0, 3); \
	OUTM(req, Z7, 1, 3); \
	OUTM(req, Z11, 2, 3); \
	OUTM(req, Z15, 3, 3); \
	OUTM(req, Z19, 4, 3); \
	OUTM(req, Z23, 5, 3)

#define EPI3(req) \
	SCALE(0); \
	OUT(req, Z0, 0, 0); \
	OUT(req, Z3, 1, 0); \
	OUT(req, Z6, 2, 0); \
	OUT(req, Z9, 3, 0); \
	OUT(req, Z12, 4, 0); \
	OUT(req, Z15, 5, 0); \
	SCALE(1); \
	OUT(req, Z1, 0, 1); \
	OUT(req, Z4, 1, 1); \
	OUT(req, Z7, 2, 1); \
	OUT(req, Z10, 3, 1); \
	OUT(req, Z13, 4, 1); \
	OUT(req, Z16, 5, 1); \
	SCALEM(2); \
	OUTM(req, Z2, 0, 2); \
	OUTM(req, Z5, 1, 2); \
	OUTM(req, Z8, 2, 2); \
	OUTM(req, Z11, 3, 2); \
	OUTM(req, Z14, 4, 2); \
	OUTM(req, Z17, 5, 2)

#define EPI2(req) \
	SCALE(0); \
	OUT(req, Z0, 0, 0); \
	OUT(req, Z2, 1, 0); \
	OUT(req, Z4, 2, 0); \
	OUT(req, Z6, 3, 0); \
	OUT(req, Z8, 4, 0); \
	OUT(req, Z10, 5, 0); \
	SCALEM(1); \
	OUTM(req, Z1, 0, 1); \
	OUTM(req, Z3, 1, 1); \
	OUTM(req, Z5, 2, 1); \
	OUTM(req, Z7, 3, 1); \
	OUTM(req, Z9, 4, 1); \
	OUTM(req, Z11, 5, 1)

#define EPI1(req) \
	SCALEM(0); \
	OUTM(req, Z0, 0, 0); \
	OUTM(req, Z1, 1, 0); \
	OUTM(req, Z2, 2, 0); \
	OUTM(req, Z3, 3, 0); \
	OUTM(req, Z4, 4, 0); \
	OUTM(req, Z5, 5, 0)

// STORE requantizes and stores the group with epi (EPIn), saturating
// only where qgemmArgs.sat says a product may reach 2^31.
#define STORE(epi, sat, done) \
	EPICONST; \
	CMPB qgemmArgs_sat(R14), $0; \
	JNE  sat; \
	epi(REQN); \
	JMP  done; \
sat: \
	epi(REQ); \
done:

// SCALE loads the scales of vector v of the group; SCALEM only the lanes
// in K1.
#define SCALE(v) VMOVUPS (v*64)(DX)(BX*4), Z24
#define SCALEM(v) VMOVUPS.Z (v*64)(DX)(BX*4), K1, Z24
#define BIAS(v, z) VMOVDQU32 (v*64)(AX)(BX*4), z
#define BIASM(v, z) VMOVDQU32.Z (v*64)(AX)(BX*4), K1, z

// func qgemmAVX512(p *qgemmArgs)
TEXT ·qgemmAVX512(SB), NOSPLIT, $80-8
	MOVQ p+0(FP), R14
	MOVQ qgemmArgs_m(R14), AX
	DECQ AX
	MOVQ AX, 72(SP)
	VPBROADCASTD qgemmArgs_xor(R14), Z31
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z29
	MOVL $0x4f000000, AX
	VPBROADCASTD AX, Z30
	XORL SI, SI

tile:
	ROW(0, R8)
	ROW(1, R9)
	ROW(2, R10)
	ROW(3, R11)
	ROW(4, R12)
	ROW(5, R13)
	MOVQ qgemmArgs_b(R14), DI
	XORL BX, BX

group:
	// K1 = lanes of the group's last vector that hold columns.
	LASTLANES(qgemmArgs_n(R14))
	XORL CX, CX
	MOVQ qgemmArgs_kp(R14), DX
	CMPQ AX, $48
	JGT  g4
	CMPQ AX, $32
	JGT  g3
	CMPQ AX, $16
	JGT  g2
	JMP  g1

g4:
	MOVQ qgemmArgs_bias(R14), AX
	BIAS(0, Z24)
	BIAS(1, Z25)
	BIAS(2, Z26)
	BIASM(3, Z27)
	INIT4(0, Z0, Z1, Z2, Z3)
	INIT4(1, Z4, Z5, Z6, Z7)
	INIT4(2, Z8, Z9, Z10, Z11)
	INIT4(3, Z12, Z13, Z14, Z15)
	INIT4(4, Z16, Z17, Z18, Z19)
	INIT4(5, Z20, Z21, Z22, Z23)
	CMPL qgemmArgs_xor(R14), $0
	JNE  g4x
	KLOOP4(g4k, DOT4)
	JMP  g4out

	KLOOP4(g4x, DOT4X)

g4out:
	STORE(EPI4, g4sat, g4done)
	ADDQ $64, BX
	CMPQ BX, qgemmArgs_n(R14)
	JLT  group
	JMP  next

g3:
	MOVQ qgemmArgs_bias(R14), AX
	BIAS(0, Z24)
	BIAS(1, Z25)
	BIASM(2, Z26)
	INIT3(0, Z0, Z1, Z2)
	INIT3(1, Z3, Z4, Z5)
	INIT3(2, Z6, Z7, Z8)
	INIT3(3, Z9, Z10, Z11)
	INIT3(4, Z12, Z13, Z14)
	INIT3(5, Z15, Z16, Z17)
	CMPL qgemmArgs_xor(R14), $0
	JNE  g3x
	KLOOP3(g3k, DOT3)
	JMP  g3out

	KLOOP3(g3x, DOT3X)

g3out:
	STORE(EPI3, g3sat, g3done)
	JMP  next

g2:
	MOVQ qgemmArgs_bias(R14), AX
	BIAS(0, Z24)
	BIASM(1, Z25)
	INIT2(0, Z0, Z1)
	INIT2(1, Z2, Z3)
	INIT2(2, Z4, Z5)
	INIT2(3, Z6, Z7)
	INIT2(4, Z8, Z9)
	INIT2(5, Z10, Z11)
	CMPL qgemmArgs_xor(R14), $0
	JNE  g2x
	KLOOP2(g2k, DOT2)
	JMP  g2out

	KLOOP2(g2x, DOT2X)

g2out:
	STORE(EPI2, g2sat, g2done)
	JMP  next

g1:
	MOVQ qgemmArgs_bias(R14), AX
	BIASM(0, Z24)
	INIT1(0, Z0)
	INIT1(1, Z1)
	INIT1(2, Z2)
	INIT1(3, Z3)
	INIT1(4, Z4)
	INIT1(5, Z5)
	CMPL qgemmArgs_xor(R14), $0
	JNE  g1x
	KLOOP1(g1k, DOT1)
	JMP  g1out

	KLOOP1(g1x, DOT1X)

g1out:
	STORE(EPI1, g1sat, g1done)

next:
	ADDQ $6, SI
	CMPQ SI, qgemmArgs_m(R14)
	JLT  tile
	VZEROUPPER
	RET

// func rowSumsAVX512(a *byte, lda, m, k int, xor uint32, mul int32, dst *int32)
TEXT ·rowSumsAVX512(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), BX
	MOVQ m+16(FP), R8
	MOVQ k+24(FP), R9
	MOVL xor+32(FP), AX
	VPBROADCASTD AX, Z31
	MOVL mul+36(FP), R10
	MOVQ dst+40(FP), DI
	// K1 = the bytes of the last partial 64-byte chunk.
	MOVQ R9, CX
	ANDQ $63, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVQ AX, K1
	MOVQ R9, DX
	ANDQ $-64, DX
	VPXORD Z30, Z30, Z30

rsrow:
	VPXORD Z0, Z0, Z0
	XORL CX, CX
	CMPQ CX, DX
	JGE  rstail

rschunk:
	VMOVDQU8 (SI)(CX*1), Z1
	VPXORD Z31, Z1, Z1
	VPSADBW Z30, Z1, Z1
	VPADDQ Z1, Z0, Z0
	ADDQ $64, CX
	CMPQ CX, DX
	JLT  rschunk

rstail:
	VMOVDQU8.Z (SI)(CX*1), K1, Z1
	VPXORD Z31, Z1, Z1
	VMOVDQU8.Z Z1, K1, Z1
	VPSADBW Z30, Z1, Z1
	VPADDQ Z1, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPADDQ Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDQ X1, X0, X0
	VMOVQ X0, AX
	IMULL R10, AX
	MOVL AX, (DI)
	ADDQ $4, DI
	ADDQ BX, SI
	DECQ R8
	JNZ  rsrow
	VZEROUPPER
	RET
