//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// Both kernels compute channel blocks in turn, and in each block the
// pixels in turn, so the block's weights stay in L1.

// QOUT8 requantizes the 8 channels in acc at channel CX+off of the output
// row R9 and stores them: acc + bias (with fix), times the scale rounded to
// nearest even (saturating like RoundEven), plus OutZP, clamped to
// [Lo, Hi]. It clobbers Y10.
#define QOUT8(acc, accx, bias, scale, off) \
	VPADDD bias, acc, acc; \
	VCVTDQ2PS acc, acc; \
	VMULPS scale, acc, acc; \
	VCMPPS $0x1d, ·two31x8(SB), acc, Y10; \
	VCVTPS2DQ acc, acc; \
	VBLENDVPS Y10, ·maxInt32x8(SB), acc, acc; \
	VPADDD Y6, acc, acc; \
	VPMAXSD Y7, acc, acc; \
	VPMINSD Y8, acc, acc; \
	VPSHUFB Y9, acc, acc; \
	VEXTRACTI128 $1, acc, X10; \
	VPUNPCKLDQ X10, accx, accx; \
	VMOVQ accx, off(R9)(CX*1)

// PIXELS16 computes the block of 16 channels at CX for every pixel; widen
// is VPMOVZXBW or VPMOVSXBW.
#define PIXELS16(widen, pixel, pair) \
pixel: \
	VPXOR Y0, Y0, Y0; \
	VPXOR Y1, Y1, Y1; \
	MOVQ R11, R12; \
	XORL DX, DX; \
pair: \
	MOVQ (R8)(DX*1), AX; \
	MOVQ 8(R8)(DX*1), SI; \
	widen (AX)(CX*1), Y2; \
	widen (SI)(CX*1), Y3; \
	VPUNPCKLWD Y3, Y2, Y4; \
	VPUNPCKHWD Y3, Y2, Y5; \
	VPMADDWD (R12), Y4, Y4; \
	VPMADDWD 32(R12), Y5, Y5; \
	VPADDD Y4, Y0, Y0; \
	VPADDD Y5, Y1, Y1; \
	ADDQ $64, R12; \
	ADDQ $16, DX; \
	CMPQ DX, R13; \
	JLT  pair; \
	VPERM2I128 $0x20, Y1, Y0, Y2; \
	VPERM2I128 $0x31, Y1, Y0, Y3; \
	QOUT8(Y2, X2, Y11, Y13, 0); \
	QOUT8(Y3, X3, Y12, Y14, 8); \
	ADDQ R10, R8; \
	ADDQ qdwArgs_ldo(R14), R9; \
	DECQ BX; \
	JNZ  pixel

// PIXELS8 computes the block of 8 channels at CX, whose weights are in
// channel order, for every pixel.
#define PIXELS8(widen, pixel, pair) \
pixel: \
	VPXOR Y0, Y0, Y0; \
	MOVQ R11, R12; \
	XORL DX, DX; \
pair: \
	MOVQ (R8)(DX*1), AX; \
	MOVQ 8(R8)(DX*1), SI; \
	widen (AX)(CX*1), X2; \
	widen (SI)(CX*1), X3; \
	VPUNPCKLWD X3, X2, X4; \
	VPUNPCKHWD X3, X2, X5; \
	VINSERTI128 $1, X5, Y4, Y4; \
	VPMADDWD (R12), Y4, Y4; \
	VPADDD Y4, Y0, Y0; \
	ADDQ $32, R12; \
	ADDQ $16, DX; \
	CMPQ DX, R13; \
	JLT  pair; \
	QOUT8(Y0, X0, Y11, Y13, 0); \
	ADDQ R10, R8; \
	ADDQ qdwArgs_ldo(R14), R9; \
	DECQ BX; \
	JNZ  pixel

// HALF loads the bias (with fix when signed) and scales of 8 channels at
// CX+off into bias and scale.
#define HALF(off, bias, scale) \
	MOVQ qdwArgs_bias(R14), AX; \
	VMOVDQU (off*4)(AX)(CX*4), bias; \
	MOVQ qdwArgs_scale(R14), AX; \
	VMOVUPS (off*4)(AX)(CX*4), scale; \
	CMPQ qdwArgs_signed(R14), $0; \
	JEQ  3(PC); \
	MOVQ qdwArgs_fix(R14), AX; \
	VPADDD (off*4)(AX)(CX*4), bias, bias

// FIRST points at the first pixel.
#define FIRST \
	MOVQ qdwArgs_ptrs(R14), R8; \
	MOVQ qdwArgs_out(R14), R9; \
	MOVQ qdwArgs_npix(R14), BX

// Register use of qdwAVX2 (see qdwArgs; c is a multiple of 8):
//	R14 args, R8 the pixel's tap addresses (the partner of an odd last tap
//	is the next pixel's first, or the pad's, with zero weights), R9 its
//	output, R10 taps*8, R11 the block's packed weights, R12 the pair's,
//	R13 pairs*16, BX pixels left, CX first channel of the block, DX
//	tap*8, AX, SI temporaries.
//	Y0, Y1 the low and high products' sums, Y2-Y5 inputs, Y6 OutZP, Y7 Lo,
//	Y8 Hi, Y9 lowBytes, Y10 temporary, Y11-Y14 the block's bias (with fix)
//	and scales.
//
// func qdwAVX2(p *qdwArgs)
TEXT ·qdwAVX2(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), R14
	VPBROADCASTD qdwArgs_outZP(R14), Y6
	VPBROADCASTD qdwArgs_lo(R14), Y7
	VPBROADCASTD qdwArgs_hi(R14), Y8
	VMOVDQU ·lowBytes(SB), Y9
	MOVQ qdwArgs_taps(R14), R10
	LEAQ 1(R10), R13
	SHRQ $1, R13
	SHLQ $4, R13
	SHLQ $3, R10
	MOVQ qdwArgs_w(R14), R11
	XORL CX, CX

block16:
	MOVQ qdwArgs_c(R14), AX
	SUBQ CX, AX
	CMPQ AX, $16
	JLT  block8
	HALF(0, Y11, Y13)
	HALF(8, Y12, Y14)
	FIRST
	CMPQ qdwArgs_signed(R14), $0
	JNE  sx16
	PIXELS16(VPMOVZXBW, zx16, zx16pair)
	JMP  next16

sx16:
	PIXELS16(VPMOVSXBW, sx16pix, sx16pair)

next16:
	LEAQ (R11)(R13*4), R11
	ADDQ $16, CX
	JMP  block16

block8:
	CMPQ AX, $8
	JLT  done
	HALF(0, Y11, Y13)
	FIRST
	CMPQ qdwArgs_signed(R14), $0
	JNE  sx8
	PIXELS8(VPMOVZXBW, zx8, zx8pair)
	JMP  done

sx8:
	PIXELS8(VPMOVSXBW, sx8pix, sx8pair)

done:
	VZEROUPPER
	RET

// Register use of fdwAVX2 (see fdwArgs):
//	R14 args, R8 the pixel's tap addresses, R9 its output, R11 the block's
//	weights, R12 the tap's, R13 taps*8, BX pixels left, CX first channel
//	of the block, DX tap*8, AX, SI temporaries.
//	Y0, Y1 sums of even and odd taps, Y2, Y3 inputs, Y4 lo, Y5 hi, Y6 the
//	block's bias, Y15 its channels.
//
// func fdwAVX2(p *fdwArgs)
TEXT ·fdwAVX2(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), R14
	VBROADCASTSS fdwArgs_lo(R14), Y4
	VBROADCASTSS fdwArgs_hi(R14), Y5
	MOVQ fdwArgs_taps(R14), R13
	SHLQ $3, R13
	MOVQ fdwArgs_w(R14), R11
	XORL CX, CX

fblock:
	// Y15 = the block's channels.
	MOVQ fdwArgs_c(R14), AX
	SUBQ CX, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	VPCMPGTD ·iota8(SB), Y15, Y15
	MOVQ fdwArgs_bias(R14), AX
	VMASKMOVPS (AX)(CX*4), Y15, Y6
	MOVQ fdwArgs_ptrs(R14), R8
	MOVQ fdwArgs_out(R14), R9
	MOVQ fdwArgs_npix(R14), BX

fpixel:
	VMOVAPS Y6, Y0
	VXORPS Y1, Y1, Y1
	MOVQ R11, R12
	XORL DX, DX

ftap2:
	LEAQ 16(DX), AX
	CMPQ AX, R13
	JGT  ftap1
	MOVQ (R8)(DX*1), AX
	MOVQ 8(R8)(DX*1), SI
	VMASKMOVPS (AX)(CX*4), Y15, Y2
	VMASKMOVPS (SI)(CX*4), Y15, Y3
	VFMADD231PS (R12), Y2, Y0
	ADDQ fdwArgs_cp4(R14), R12
	VFMADD231PS (R12), Y3, Y1
	ADDQ fdwArgs_cp4(R14), R12
	ADDQ $16, DX
	JMP  ftap2

ftap1:
	CMPQ DX, R13
	JGE  fsum
	MOVQ (R8)(DX*1), AX
	VMASKMOVPS (AX)(CX*4), Y15, Y2
	VFMADD231PS (R12), Y2, Y0

fsum:
	VADDPS Y1, Y0, Y0
	VMAXPS Y0, Y4, Y0
	VMINPS Y0, Y5, Y0
	MOVQ fdwArgs_c(R14), AX
	SUBQ CX, AX
	CMPQ AX, $8
	JLT  fpart
	VMOVUPS Y0, (R9)(CX*4)
	JMP  fnext

fpart:
	VMASKMOVPS Y0, Y15, (R9)(CX*4)

fnext:
	ADDQ R13, R8
	MOVQ fdwArgs_ldo(R14), AX
	LEAQ (R9)(AX*4), R9
	DECQ BX
	JNZ  fpixel
	ADDQ $32, R11
	ADDQ $8, CX
	CMPQ CX, fdwArgs_c(R14)
	JLT  fblock
	VZEROUPPER
	RET
