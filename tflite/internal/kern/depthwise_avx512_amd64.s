//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// dwPerm0 and dwPerm1 gather channels 0-15 and 16-31 back into order from
// the two products of vpunpck{l,h}wd (see pairLane): index i < 16
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

// DWOUT requantizes the 16 channels in acc at channel CX+off of the output
// row R9 and stores the lanes in mask: acc + bias (with fix), times the
// scale rounded to nearest even (saturating like RoundEven), plus OutZP,
// clamped to [Lo, Hi].
#define DWOUT(acc, bias, scale, off, mask) \
	VPADDD bias, acc, acc; \
	VCVTDQ2PS acc, acc; \
	VMULPS scale, acc, acc; \
	VCMPPS $0x1d, Z12, acc, K5; \
	VCVTPS2DQ acc, acc; \
	VMOVDQA32 Z11, K5, acc; \
	VPADDD Z8, acc, acc; \
	VPMAXSD Z9, acc, acc; \
	VPMINSD Z10, acc, acc; \
	VPMOVDB acc, mask, off(R9)(CX*1)

// PIXELS computes the block of 32 channels at CX for every pixel; widen is
// VPMOVZXBW or VPMOVSXBW. It adds the taps of a pixel in pairs to Z0 and
// Z1 (vpdpwssd: the sum of the two int16 products of each dword lane).
#define PIXELS(widen, pixel, pair) \
pixel: \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	MOVQ R11, R12; \
	XORL DX, DX; \
pair: \
	MOVQ (R8)(DX*1), AX; \
	MOVQ 8(R8)(DX*1), SI; \
	widen.Z (AX)(CX*1), K1, Z2; \
	widen.Z (SI)(CX*1), K1, Z3; \
	VPUNPCKLWD Z3, Z2, Z4; \
	VPUNPCKHWD Z3, Z2, Z5; \
	VPDPWSSD (R12), Z4, Z0; \
	VPDPWSSD 64(R12), Z5, Z1; \
	ADDQ $128, R12; \
	ADDQ $16, DX; \
	CMPQ DX, R13; \
	JLT  pair; \
	VMOVDQA32 Z0, Z2; \
	VPERMT2D Z1, Z6, Z2; \
	VPERMT2D Z1, Z7, Z0; \
	DWOUT(Z2, Z13, Z15, 0, K2); \
	DWOUT(Z0, Z14, Z16, 16, K3); \
	ADDQ R10, R8; \
	ADDQ qdwArgs_ldo(R14), R9; \
	DECQ BX; \
	JNZ  pixel

// Register use of qdwAVX512 (see qdwArgs). It computes channel blocks in
// turn, and in each block the pixels in turn, so the block's weights stay
// in L1.
//	R14 args, R8 the pixel's tap addresses (the partner of an odd last tap
//	is the next pixel's first, or the pad's, with zero weights), R9 its
//	output, R10 taps*8, R11 the block's packed weights, R12 the pair's,
//	R13 pairs*16, BX pixels left, CX first channel of the block, DX
//	tap*8, AX, SI temporaries.
//	Z0, Z1 the low and high products' sums, Z2-Z5 inputs, Z6, Z7 dwPerm,
//	Z8 OutZP, Z9 Lo, Z10 Hi, Z11 MaxInt32, Z12 2^31 as float32, Z13, Z14
//	the block's bias (with fix), Z15, Z16 its scales, K1 the block's
//	channels, K2 and K3 its two halves.
//
// func qdwAVX512(p *qdwArgs)
TEXT ·qdwAVX512(SB), NOSPLIT, $0-8
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
	MOVQ qdwArgs_taps(R14), R10
	LEAQ 1(R10), R13
	SHRQ $1, R13
	SHLQ $4, R13
	SHLQ $3, R10
	MOVQ qdwArgs_w(R14), R11
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
	MOVQ qdwArgs_bias(R14), AX
	VMOVDQU32.Z (AX)(CX*4), K2, Z13
	VMOVDQU32.Z 64(AX)(CX*4), K3, Z14
	MOVQ qdwArgs_scale(R14), AX
	VMOVUPS.Z (AX)(CX*4), K2, Z15
	VMOVUPS.Z 64(AX)(CX*4), K3, Z16
	MOVQ qdwArgs_ptrs(R14), R8
	MOVQ qdwArgs_out(R14), R9
	MOVQ qdwArgs_npix(R14), BX
	CMPQ qdwArgs_signed(R14), $0
	JNE  signed
	PIXELS(VPMOVZXBW, pixelzx, pairzx)
	JMP  nextblock

signed:
	MOVQ qdwArgs_fix(R14), AX
	VPADDD (AX)(CX*4), Z13, K2, Z13
	VPADDD 64(AX)(CX*4), Z14, K3, Z14
	PIXELS(VPMOVSXBW, pixelsx, pairsx)

nextblock:
	LEAQ (R11)(R13*8), R11
	ADDQ $32, CX
	CMPQ CX, qdwArgs_c(R14)
	JLT  block
	VZEROUPPER
	RET

// Register use of fdwAVX512 (see fdwArgs), which also computes channel
// blocks in turn and in each the pixels:
//	R14 args, R8 the pixel's tap addresses, R9 its output, R11 the block's
//	weights, R12 the tap's, R13 taps*8, BX pixels left, CX first channel
//	of the block, DX tap*8, AX, SI temporaries.
//	Z0, Z1 sums of even and odd taps, Z2, Z3 inputs, Z4 lo, Z5 hi, Z6 the
//	block's bias, K1 its channels.
//
// func fdwAVX512(p *fdwArgs)
TEXT ·fdwAVX512(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), R14
	VBROADCASTSS fdwArgs_lo(R14), Z4
	VBROADCASTSS fdwArgs_hi(R14), Z5
	MOVQ fdwArgs_taps(R14), R13
	SHLQ $3, R13
	MOVQ fdwArgs_w(R14), R11
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
	VMOVUPS.Z (AX)(CX*4), K1, Z6
	MOVQ fdwArgs_ptrs(R14), R8
	MOVQ fdwArgs_out(R14), R9
	MOVQ fdwArgs_npix(R14), BX

fpixel:
	VMOVAPS Z6, Z0
	VPXORD Z1, Z1, Z1
	MOVQ R11, R12
	XORL DX, DX

ftap2:
	LEAQ 16(DX), AX
	CMPQ AX, R13
	JGT  ftap1
	MOVQ (R8)(DX*1), AX
	MOVQ 8(R8)(DX*1), SI
	VMOVUPS.Z (AX)(CX*4), K1, Z2
	VMOVUPS.Z (SI)(CX*4), K1, Z3
	VFMADD231PS (R12), Z2, Z0
	ADDQ fdwArgs_cp4(R14), R12
	VFMADD231PS (R12), Z3, Z1
	ADDQ fdwArgs_cp4(R14), R12
	ADDQ $16, DX
	JMP  ftap2

ftap1:
	CMPQ DX, R13
	JGE  fsum
	MOVQ (R8)(DX*1), AX
	VMOVUPS.Z (AX)(CX*4), K1, Z2
	VFMADD231PS (R12), Z2, Z0

fsum:
	VADDPS Z1, Z0, Z0
	VMAXPS Z0, Z4, Z0
	VMINPS Z0, Z5, Z0
	VMOVUPS Z0, K1, (R9)(CX*4)
	ADDQ R13, R8
	MOVQ fdwArgs_ldo(R14), AX
	LEAQ (R9)(AX*4), R9
	DECQ BX
	JNZ  fpixel
	ADDQ $64, R11
	ADDQ $16, CX
	CMPQ CX, fdwArgs_c(R14)
	JLT  fblock
	VZEROUPPER
	RET
