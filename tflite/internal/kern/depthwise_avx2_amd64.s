//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// PTRS stores the input pointer of each tap of the pixel at R8 on the
// stack, the pad (R11) for padded taps and for the partner of an odd last
// tap, and moves R8 to the next pixel. scale is the size of an input
// value; it clobbers AX, DX, SI.
#define PTRS(taps, scale, loop) \
	XORL DX, DX; \
loop: \
	MOVLQSX (R8)(DX*4), AX; \
	LEAQ (R10)(AX*scale), SI; \
	TESTQ AX, AX; \
	CMOVQLT R11, SI; \
	MOVQ SI, (SP)(DX*8); \
	INCQ DX; \
	CMPQ DX, taps(R14); \
	JLT  loop; \
	MOVQ R11, (SP)(DX*8); \
	LEAQ (R8)(DX*4), R8

// QOUT8 requantizes the 8 channels in acc starting at channel CX+off and
// stores them: acc + bias (+ fix when signed), times the scale rounded to
// nearest even (saturating like RoundEven), plus OutZP, clamped to
// [Lo, Hi]. It clobbers AX and Y10.
#define QOUT8(acc, accx, off) \
	MOVQ qdwArgs_bias(R14), AX; \
	VPADDD (off*4)(AX)(CX*4), acc, acc; \
	CMPQ qdwArgs_signed(R14), $0; \
	JEQ  3(PC); \
	MOVQ qdwArgs_fix(R14), AX; \
	VPADDD (off*4)(AX)(CX*4), acc, acc; \
	MOVQ qdwArgs_scale(R14), AX; \
	VCVTDQ2PS acc, acc; \
	VMULPS (off*4)(AX)(CX*4), acc, acc; \
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

// PAIR16 adds two taps of 16 channels; PAIR8 of 8 channels, whose weights
// are in channel order.
#define PAIR16(widen) \
	MOVQ (SP)(DX*1), AX; \
	MOVQ 8(SP)(DX*1), SI; \
	widen (AX)(CX*1), Y2; \
	widen (SI)(CX*1), Y3; \
	VPUNPCKLWD Y3, Y2, Y4; \
	VPUNPCKHWD Y3, Y2, Y5; \
	VPMADDWD (R12), Y4, Y4; \
	VPMADDWD 32(R12), Y5, Y5; \
	VPADDD Y4, Y0, Y0; \
	VPADDD Y5, Y1, Y1; \
	ADDQ $64, R12; \
	ADDQ $16, DX

#define PAIR8(widen) \
	MOVQ (SP)(DX*1), AX; \
	MOVQ 8(SP)(DX*1), SI; \
	widen (AX)(CX*1), X2; \
	widen (SI)(CX*1), X3; \
	VPUNPCKLWD X3, X2, X4; \
	VPUNPCKHWD X3, X2, X5; \
	VINSERTI128 $1, X5, Y4, Y4; \
	VPMADDWD (R12), Y4, Y4; \
	VPADDD Y4, Y0, Y0; \
	ADDQ $32, R12; \
	ADDQ $16, DX

// Register use of qdwAVX2 (see qdwArgs; c is a multiple of 8):
//	R14 args, R8 the pixel's tap offsets, R9 its output, R10 in, R11 pad,
//	R12 packed weights, R13 pairs*16, BX pixels left, CX first channel of
//	the block, DX tap*8, AX, SI temporaries; stack: one input pointer per
//	tap. Y0, Y1 the low and high products' sums, Y2-Y5 inputs, Y6 OutZP,
//	Y7 Lo, Y8 Hi, Y9 lowBytes, Y10 temporary.
//
// func qdwAVX2(p *qdwArgs)
TEXT ·qdwAVX2(SB), NOSPLIT, $400-8
	MOVQ p+0(FP), R14
	VPBROADCASTD qdwArgs_outZP(R14), Y6
	VPBROADCASTD qdwArgs_lo(R14), Y7
	VPBROADCASTD qdwArgs_hi(R14), Y8
	VMOVDQU ·lowBytes(SB), Y9
	MOVQ qdwArgs_offs(R14), R8
	MOVQ qdwArgs_out(R14), R9
	MOVQ qdwArgs_in(R14), R10
	MOVQ qdwArgs_pad(R14), R11
	MOVQ qdwArgs_npix(R14), BX
	MOVQ qdwArgs_taps(R14), R13
	INCQ R13
	SHRQ $1, R13
	SHLQ $4, R13

pixel:
	PTRS(qdwArgs_taps, 1, ptrs)
	MOVQ qdwArgs_w(R14), R12
	XORL CX, CX

block16:
	MOVQ qdwArgs_c(R14), AX
	SUBQ CX, AX
	CMPQ AX, $16
	JLT  block8
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	XORL DX, DX
	CMPQ qdwArgs_signed(R14), $0
	JNE  sx16

zx16:
	PAIR16(VPMOVZXBW)
	CMPQ DX, R13
	JLT  zx16
	JMP  out16

sx16:
	PAIR16(VPMOVSXBW)
	CMPQ DX, R13
	JLT  sx16

out16:
	VPERM2I128 $0x20, Y1, Y0, Y2
	VPERM2I128 $0x31, Y1, Y0, Y3
	QOUT8(Y2, X2, 0)
	QOUT8(Y3, X3, 8)
	ADDQ $16, CX
	JMP  block16

block8:
	CMPQ AX, $8
	JLT  done
	VPXOR Y0, Y0, Y0
	XORL DX, DX
	CMPQ qdwArgs_signed(R14), $0
	JNE  sx8

zx8:
	PAIR8(VPMOVZXBW)
	CMPQ DX, R13
	JLT  zx8
	JMP  out8

sx8:
	PAIR8(VPMOVSXBW)
	CMPQ DX, R13
	JLT  sx8

out8:
	QOUT8(Y0, X0, 0)

done:
	ADDQ qdwArgs_ldo(R14), R9
	DECQ BX
	JNZ  pixel
	VZEROUPPER
	RET

// Register use of fdwAVX2 (see fdwArgs):
//	as qdwAVX2, with R12 the weights of the tap, R13 taps*8. Y0, Y1 sums
//	of even and odd taps, Y2, Y3 inputs, Y4 lo, Y5 hi, Y15 the block's
//	channels.
//
// func fdwAVX2(p *fdwArgs)
TEXT ·fdwAVX2(SB), NOSPLIT, $400-8
	MOVQ p+0(FP), R14
	VBROADCASTSS fdwArgs_lo(R14), Y4
	VBROADCASTSS fdwArgs_hi(R14), Y5
	MOVQ fdwArgs_offs(R14), R8
	MOVQ fdwArgs_out(R14), R9
	MOVQ fdwArgs_in(R14), R10
	MOVQ fdwArgs_pad(R14), R11
	MOVQ fdwArgs_npix(R14), BX
	MOVQ fdwArgs_taps(R14), R13
	SHLQ $3, R13

fpixel:
	PTRS(fdwArgs_taps, 4, fptrs)
	XORL CX, CX

fblock:
	// Y15 = the block's channels.
	MOVQ fdwArgs_c(R14), AX
	SUBQ CX, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	VPCMPGTD ·iota8(SB), Y15, Y15
	MOVQ fdwArgs_bias(R14), AX
	VMASKMOVPS (AX)(CX*4), Y15, Y0
	VXORPS Y1, Y1, Y1
	MOVQ fdwArgs_w(R14), R12
	XORL DX, DX

ftap2:
	LEAQ 16(DX), AX
	CMPQ AX, R13
	JGT  ftap1
	MOVQ (SP)(DX*1), AX
	MOVQ 8(SP)(DX*1), SI
	VMASKMOVPS (AX)(CX*4), Y15, Y2
	VMASKMOVPS (SI)(CX*4), Y15, Y3
	VFMADD231PS (R12)(CX*4), Y2, Y0
	ADDQ fdwArgs_cp4(R14), R12
	VFMADD231PS (R12)(CX*4), Y3, Y1
	ADDQ fdwArgs_cp4(R14), R12
	ADDQ $16, DX
	JMP  ftap2

ftap1:
	CMPQ DX, R13
	JGE  fsum
	MOVQ (SP)(DX*1), AX
	VMASKMOVPS (AX)(CX*4), Y15, Y2
	VFMADD231PS (R12)(CX*4), Y2, Y0

fsum:
	VADDPS Y1, Y0, Y0
	VMAXPS Y0, Y4, Y0
	VMINPS Y0, Y5, Y0
	MOVQ fdwArgs_c(R14), AX
	SUBQ CX, AX
	CMPQ AX, $8
	JLT  fpart
	VMOVUPS Y0, (R9)(CX*4)
	ADDQ $8, CX
	CMPQ CX, fdwArgs_c(R14)
	JLT  fblock
	JMP  fnext

fpart:
	VMASKMOVPS Y0, Y15, (R9)(CX*4)

fnext:
	MOVQ fdwArgs_ldo(R14), AX
	LEAQ (R9)(AX*4), R9
	DECQ BX
	JNZ  fpixel
	VZEROUPPER
	RET
