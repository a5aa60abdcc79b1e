//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// dwPerm0 and dwPerm1 gather channels 0-15 and 16-31 back into order from
// the two products of vpunpck{l,h}wd (see avx512PairLane): index i < 16
// takes lane i of the low product, 16+i lane i of the high one.
DATA dwPerm0<>+0(SB)/8, $0x0000000100000000
DATA dwPerm0<>+8(SB)/8, $0x0000000300000002
DATA dwPerm0<>+16(SB)/8, $0x0000001100000010
DATA dwPerm0<>+24(SB)/8, $0x0000001300000012
DATA dwPerm0<>+32(SB)/8, $0x0000000500000004
DATA dwPerm0<>+40(SB)/8, $0x0000000700000006
DATA dwPerm0<>+48(SB)/8, $0x0000001500000014
DATA dwPerm0<>+56(SB)/8, $0x0000001700000016
GLOBL dwPerm0<>(SB), RODATA|NOPTR, $64

DATA dwPerm1<>+0(SB)/8, $0x0000000900000008
DATA dwPerm1<>+8(SB)/8, $0x0000000b0000000a
DATA dwPerm1<>+16(SB)/8, $0x0000001900000018
DATA dwPerm1<>+24(SB)/8, $0x0000001b0000001a
DATA dwPerm1<>+32(SB)/8, $0x0000000d0000000c
DATA dwPerm1<>+40(SB)/8, $0x0000000f0000000e
DATA dwPerm1<>+48(SB)/8, $0x0000001d0000001c
DATA dwPerm1<>+56(SB)/8, $0x0000001f0000001e
GLOBL dwPerm1<>(SB), RODATA|NOPTR, $64

// DWOUT requantizes the 16 channels in acc starting at channel CX+off and
// stores the lanes in mask: acc + bias (+ fix when signed), times the
// scale rounded to nearest even (saturating like RoundEven), plus OutZP,
// clamped to [Lo, Hi].
#define DWOUT(acc, off, mask) \
	MOVQ qdwArgs_bias(R14), AX; \
	VPADDD (off*4)(AX)(CX*4), acc, mask, acc; \
	CMPQ qdwArgs_signed(R14), $0; \
	JEQ  3(PC); \
	MOVQ qdwArgs_fix(R14), AX; \
	VPADDD (off*4)(AX)(CX*4), acc, mask, acc; \
	MOVQ qdwArgs_scale(R14), AX; \
	VCVTDQ2PS acc, acc; \
	VMULPS (off*4)(AX)(CX*4), acc, mask, acc; \
	VCMPPS $0x1d, Z12, acc, K5; \
	VCVTPS2DQ acc, acc; \
	VMOVDQA32 Z11, K5, acc; \
	VPADDD Z8, acc, acc; \
	VPMAXSD Z9, acc, acc; \
	VPMINSD Z10, acc, acc; \
	VPMOVDB acc, mask, off(R9)(CX*1)

// Register use of qdwAVX512 (see qdwArgs):
//	R14 args, R8 the pixel's tap offsets, R9 its output, R10 in, R11 pad,
//	R12 packed weights, R13 taps or pairs*16, BX pixels left, CX first
//	channel of the block, DX tap, AX, SI temporaries; stack: one input
//	pointer per tap (the pad for the partner of an odd last tap).
//	Z0, Z1 the low and high products' sums, Z2-Z5 inputs, Z6, Z7 dwPerm,
//	Z8 OutZP, Z9 Lo, Z10 Hi, Z11 MaxInt32, Z12 2^31 as float32, K1 the
//	block's channels, K2 and K3 its two halves.
//
// func qdwAVX512(p *qdwArgs)
TEXT ·qdwAVX512(SB), NOSPLIT, $400-8
	MOVQ p+0(FP), R14
	VMOVDQU32 dwPerm0<>(SB), Z6
	VMOVDQU32 dwPerm1<>(SB), Z7
	VPBROADCASTD qdwArgs_outZP(R14), Z8
	VPBROADCASTD qdwArgs_lo(R14), Z9
	VPBROADCASTD qdwArgs_hi(R14), Z10
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z11
	MOVL $0x4f000000, AX
	VPBROADCASTD AX, Z12
	MOVQ qdwArgs_offs(R14), R8
	MOVQ qdwArgs_out(R14), R9
	MOVQ qdwArgs_in(R14), R10
	MOVQ qdwArgs_pad(R14), R11
	MOVQ qdwArgs_npix(R14), BX

pixel:
	MOVQ qdwArgs_taps(R14), R13
	XORL DX, DX

ptrs:
	MOVLQSX (R8)(DX*4), AX
	LEAQ (R10)(AX*1), SI
	TESTQ AX, AX
	CMOVQLT R11, SI
	MOVQ SI, (SP)(DX*8)
	INCQ DX
	CMPQ DX, R13
	JLT  ptrs
	MOVQ R11, (SP)(DX*8)
	LEAQ (R8)(R13*4), R8
	INCQ R13
	SHRQ $1, R13
	SHLQ $4, R13
	MOVQ qdwArgs_w(R14), R12
	XORL CX, CX

block:
	// K1-K3 = the block's channels.
	MOVQ qdwArgs_c(R14), AX
	SUBQ CX, AX
	CMPQ AX, $32
	JGE  full
	MOVQ AX, SI
	MOVL $1, AX
	SHLXL SI, AX, AX
	DECL AX
	JMP  masks

full:
	MOVL $-1, AX

masks:
	KMOVD AX, K1
	KMOVW AX, K2
	SHRL $16, AX
	KMOVW AX, K3
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	XORL DX, DX
	CMPQ qdwArgs_signed(R14), $0
	JNE  pairsx

pairzx:
	MOVQ (SP)(DX*1), AX
	MOVQ 8(SP)(DX*1), SI
	VPMOVZXBW.Z (AX)(CX*1), K1, Z2
	VPMOVZXBW.Z (SI)(CX*1), K1, Z3
	VPUNPCKLWD Z3, Z2, Z4
	VPUNPCKHWD Z3, Z2, Z5
	VPMADDWD (R12), Z4, Z4
	VPMADDWD 64(R12), Z5, Z5
	VPADDD Z4, Z0, Z0
	VPADDD Z5, Z1, Z1
	ADDQ $128, R12
	ADDQ $16, DX
	CMPQ DX, R13
	JLT  pairzx
	JMP  reorder

pairsx:
	MOVQ (SP)(DX*1), AX
	MOVQ 8(SP)(DX*1), SI
	VPMOVSXBW.Z (AX)(CX*1), K1, Z2
	VPMOVSXBW.Z (SI)(CX*1), K1, Z3
	VPUNPCKLWD Z3, Z2, Z4
	VPUNPCKHWD Z3, Z2, Z5
	VPMADDWD (R12), Z4, Z4
	VPMADDWD 64(R12), Z5, Z5
	VPADDD Z4, Z0, Z0
	VPADDD Z5, Z1, Z1
	ADDQ $128, R12
	ADDQ $16, DX
	CMPQ DX, R13
	JLT  pairsx

reorder:
	VMOVDQA32 Z0, Z2
	VPERMT2D Z1, Z6, Z2
	VPERMT2D Z1, Z7, Z0
	DWOUT(Z2, 0, K2)
	DWOUT(Z0, 16, K3)
	ADDQ $32, CX
	CMPQ CX, qdwArgs_c(R14)
	JLT  block
	ADDQ qdwArgs_ldo(R14), R9
	DECQ BX
	JNZ  pixel
	VZEROUPPER
	RET

// Register use of fdwAVX512 (see fdwArgs):
//	R14 args, R8 the pixel's tap offsets, R9 its output, R10 in, R11 pad,
//	R12 the weights of the tap, R13 taps*8, BX pixels left, CX first
//	channel of the block, DX tap*8, AX, SI temporaries; stack: one input
//	pointer per tap.
//	Z0, Z1 sums of even and odd taps, Z2, Z3 inputs, Z4 lo, Z5 hi, K1 the
//	block's channels.
//
// func fdwAVX512(p *fdwArgs)
TEXT ·fdwAVX512(SB), NOSPLIT, $400-8
	MOVQ p+0(FP), R14
	VBROADCASTSS fdwArgs_lo(R14), Z4
	VBROADCASTSS fdwArgs_hi(R14), Z5
	MOVQ fdwArgs_offs(R14), R8
	MOVQ fdwArgs_out(R14), R9
	MOVQ fdwArgs_in(R14), R10
	MOVQ fdwArgs_pad(R14), R11
	MOVQ fdwArgs_npix(R14), BX
	MOVQ fdwArgs_taps(R14), R13
	SHLQ $3, R13

fpixel:
	XORL DX, DX

fptrs:
	MOVLQSX (R8)(DX*1), AX
	LEAQ (R10)(AX*4), SI
	TESTQ AX, AX
	CMOVQLT R11, SI
	MOVQ SI, (SP)(DX*2)
	ADDQ $4, DX
	CMPQ DX, fdwArgs_taps4(R14)
	JLT  fptrs
	ADDQ DX, R8
	XORL CX, CX

fblock:
	// K1 = the block's channels.
	MOVQ fdwArgs_c(R14), AX
	SUBQ CX, AX
	CMPQ AX, $16
	JGE  ffull
	MOVQ AX, SI
	MOVL $1, AX
	SHLXL SI, AX, AX
	DECL AX
	JMP  fmask

ffull:
	MOVL $0xffff, AX

fmask:
	KMOVW AX, K1
	MOVQ fdwArgs_bias(R14), AX
	VMOVUPS.Z (AX)(CX*4), K1, Z0
	VPXORD Z1, Z1, Z1
	MOVQ fdwArgs_w(R14), R12
	XORL DX, DX

ftap2:
	LEAQ 16(DX), AX
	CMPQ AX, R13
	JGT  ftap1
	MOVQ (SP)(DX*1), AX
	MOVQ 8(SP)(DX*1), SI
	VMOVUPS.Z (AX)(CX*4), K1, Z2
	VMOVUPS.Z (SI)(CX*4), K1, Z3
	VFMADD231PS (R12)(CX*4), Z2, Z0
	ADDQ fdwArgs_cp4(R14), R12
	VFMADD231PS (R12)(CX*4), Z3, Z1
	ADDQ fdwArgs_cp4(R14), R12
	ADDQ $16, DX
	JMP  ftap2

ftap1:
	CMPQ DX, R13
	JGE  fsum
	MOVQ (SP)(DX*1), AX
	VMOVUPS.Z (AX)(CX*4), K1, Z2
	VFMADD231PS (R12)(CX*4), Z2, Z0

fsum:
	VADDPS Z1, Z0, Z0
	VMAXPS Z0, Z4, Z0
	VMINPS Z0, Z5, Z0
	VMOVUPS Z0, K1, (R9)(CX*4)
	ADDQ $16, CX
	CMPQ CX, fdwArgs_c(R14)
	JLT  fblock
	MOVQ fdwArgs_ldo(R14), AX
	LEAQ (R9)(AX*4), R9
	DECQ BX
	JNZ  fpixel
	VZEROUPPER
	RET
