//go:build !purego

#include "textflag.h"
#include "go_asm.h"
#include "neon_arm64.h"

// PTRS stores the input pointer of each tap of the pixel at R8 on the
// stack (at R19), the pad (R11) for padded taps, and moves R8 to the next
// pixel. scale is the log2 size of an input value; it clobbers R20-R22.
#define PTRS(taps, scale, loop) \
	MOVD $0, R20; \
loop: \
	MOVW (R8)(R20<<2), R21; \
	ADD R21<<scale, R10, R22; \
	CMP $0, R21; \
	CSEL LT, R11, R22, R22; \
	MOVD R22, (R19)(R20<<3); \
	ADD $1, R20; \
	MOVD taps(R0), R21; \
	CMP R21, R20; \
	BLT loop; \
	ADD R20<<2, R8, R8

// Register use of qdwNEON (see qdwArgs; c is a multiple of 8):
//	R0 args, R8 the pixel's tap offsets, R9 its output, R10 in, R11 pad,
//	R12 npix left, R13 first channel of the block, R14 weights of the tap,
//	R15 weight stride (bytes), R16 taps, R17 tap, R19 the tap pointers on
//	the stack, R20-R25 temporaries.
//	V0 input bytes, V2, V3 inputs widened, V4-V7 weights or scales,
//	V8 OutZP, V9 Lo, V10 Hi, V11 MinInt32, V12 the xor bytes, V16-V19 sums
//	of channels 4j to 4j+3 of the block.
//
// func qdwNEON(p *qdwArgs)
TEXT ·qdwNEON(SB), NOSPLIT, $400-8
	MOVD p+0(FP), R0
	ADD $qdwArgs_outZP, R0, R24
	VLD1R (R24), [V8.S4]
	ADD $qdwArgs_lo, R0, R24
	VLD1R (R24), [V9.S4]
	ADD $qdwArgs_hi, R0, R24
	VLD1R (R24), [V10.S4]
	MOVW $0x80000000, R24
	VDUP R24, V11.S4
	ADD $qdwArgs_xor, R0, R24
	VLD1R (R24), [V12.S4]
	MOVD qdwArgs_offs(R0), R8
	MOVD qdwArgs_out(R0), R9
	MOVD qdwArgs_in(R0), R10
	MOVD qdwArgs_pad(R0), R11
	MOVD qdwArgs_npix(R0), R12
	MOVD qdwArgs_cw(R0), R15
	LSL $1, R15
	MOVD qdwArgs_taps(R0), R16
	MOVD $ptrs-400(SP), R19

pixel:
	PTRS(qdwArgs_taps, 0, ptrs)
	MOVD $0, R13

block:
	MOVD qdwArgs_c(R0), R24
	SUB R13, R24, R24
	CMP $16, R24
	BLT block8
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	MOVD qdwArgs_w(R0), R14
	ADD R13<<1, R14, R14
	MOVD $0, R17

tap16:
	MOVD (R19)(R17<<3), R24
	ADD R13, R24, R24
	VLD1 (R24), [V0.B16]
	VEOR V12.B16, V0.B16, V0.B16
	VUXTL V0.B8, V2.H8
	VUXTL2 V0.B16, V3.H8
	VLD1 (R14), [V4.H8, V5.H8]
	ADD R15, R14, R14
	SMLALV(16, 2, 4)
	SMLAL2V(17, 2, 4)
	SMLALV(18, 3, 5)
	SMLAL2V(19, 3, 5)
	ADD $1, R17
	CMP R16, R17
	BLT tap16
	MOVD qdwArgs_bias(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V4.S4, V5.S4, V6.S4, V7.S4]
	VADD V4.S4, V16.S4, V16.S4
	VADD V5.S4, V17.S4, V17.S4
	VADD V6.S4, V18.S4, V18.S4
	VADD V7.S4, V19.S4, V19.S4
	MOVD qdwArgs_scale(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V4.S4, V5.S4, V6.S4, V7.S4]
	REQ(16, V16, 4)
	REQ(17, V17, 5)
	REQ(18, V18, 6)
	REQ(19, V19, 7)
	XTN4H(14, 16)
	XTN28H(14, 17)
	XTN4H(15, 18)
	XTN28H(15, 19)
	XTN8B(0, 14)
	XTN216B(0, 15)
	ADD R13, R9, R24
	VST1 [V0.B16], (R24)
	ADD $16, R13
	B block

block8:
	CMP $8, R24
	BLT next
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	MOVD qdwArgs_w(R0), R14
	ADD R13<<1, R14, R14
	MOVD $0, R17

tap8:
	MOVD (R19)(R17<<3), R24
	ADD R13, R24, R24
	VLD1 (R24), [V0.B8]
	VEOR V12.B16, V0.B16, V0.B16
	VUXTL V0.B8, V2.H8
	VLD1 (R14), [V4.H8]
	ADD R15, R14, R14
	SMLALV(16, 2, 4)
	SMLAL2V(17, 2, 4)
	ADD $1, R17
	CMP R16, R17
	BLT tap8
	MOVD qdwArgs_bias(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V4.S4, V5.S4]
	VADD V4.S4, V16.S4, V16.S4
	VADD V5.S4, V17.S4, V17.S4
	MOVD qdwArgs_scale(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V4.S4, V5.S4]
	REQ(16, V16, 4)
	REQ(17, V17, 5)
	XTN4H(14, 16)
	XTN28H(14, 17)
	XTN8B(0, 14)
	ADD R13, R9, R24
	VST1 [V0.B8], (R24)

next:
	MOVD qdwArgs_ldo(R0), R24
	ADD R24, R9, R9
	SUBS $1, R12
	BNE pixel
	RET

// Register use of fdwNEON (see fdwArgs; c is a multiple of 4):
//	as qdwNEON, with R15 the weight stride (bytes). V0-V3 inputs, V4-V7
//	weights, V8 lo, V9 hi, V16-V19 sums of channels 4j to 4j+3 of the
//	block.
//
// func fdwNEON(p *fdwArgs)
TEXT ·fdwNEON(SB), NOSPLIT, $400-8
	MOVD p+0(FP), R0
	ADD $fdwArgs_lo, R0, R24
	VLD1R (R24), [V8.S4]
	ADD $fdwArgs_hi, R0, R24
	VLD1R (R24), [V9.S4]
	MOVD fdwArgs_offs(R0), R8
	MOVD fdwArgs_out(R0), R9
	MOVD fdwArgs_in(R0), R10
	MOVD fdwArgs_pad(R0), R11
	MOVD fdwArgs_npix(R0), R12
	MOVD fdwArgs_cp4(R0), R15
	MOVD fdwArgs_taps(R0), R16
	MOVD $ptrs-400(SP), R19

fpixel:
	PTRS(fdwArgs_taps, 2, fptrs)
	MOVD $0, R13

fblock:
	MOVD fdwArgs_c(R0), R24
	SUB R13, R24, R24
	CMP $16, R24
	BLT fblock4
	MOVD fdwArgs_bias(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V16.S4, V17.S4, V18.S4, V19.S4]
	MOVD fdwArgs_w(R0), R14
	ADD R13<<2, R14, R14
	MOVD $0, R17

ftap16:
	MOVD (R19)(R17<<3), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1 (R14), [V4.S4, V5.S4, V6.S4, V7.S4]
	ADD R15, R14, R14
	VFMLA V0.S4, V4.S4, V16.S4
	VFMLA V1.S4, V5.S4, V17.S4
	VFMLA V2.S4, V6.S4, V18.S4
	VFMLA V3.S4, V7.S4, V19.S4
	ADD $1, R17
	CMP R16, R17
	BLT ftap16
	FMAX4(16, 16, 8)
	FMAX4(17, 17, 8)
	FMAX4(18, 18, 8)
	FMAX4(19, 19, 8)
	FMIN4(16, 16, 9)
	FMIN4(17, 17, 9)
	FMIN4(18, 18, 9)
	FMIN4(19, 19, 9)
	ADD R13<<2, R9, R24
	VST1 [V16.S4, V17.S4, V18.S4, V19.S4], (R24)
	ADD $16, R13
	B fblock

fblock4:
	CMP $4, R24
	BLT fnext
	MOVD fdwArgs_bias(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V16.S4]
	MOVD fdwArgs_w(R0), R14
	ADD R13<<2, R14, R14
	MOVD $0, R17

ftap4:
	MOVD (R19)(R17<<3), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V0.S4]
	VLD1 (R14), [V4.S4]
	ADD R15, R14, R14
	VFMLA V0.S4, V4.S4, V16.S4
	ADD $1, R17
	CMP R16, R17
	BLT ftap4
	FMAX4(16, 16, 8)
	FMIN4(16, 16, 9)
	ADD R13<<2, R9, R24
	VST1 [V16.S4], (R24)
	ADD $4, R13
	B fblock

fnext:
	MOVD fdwArgs_ldo(R0), R24
	ADD R24<<2, R9, R9
	SUBS $1, R12
	BNE fpixel
	RET
