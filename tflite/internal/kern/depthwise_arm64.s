//go:build !purego

#include "textflag.h"
#include "go_asm.h"
#include "neon_arm64.h"

// Both kernels compute channel blocks in turn, and in each block the
// pixels in turn, so the block's weights stay in L1.

// Register use of qdwNEON (see qdwArgs; c is a multiple of 8):
//	R0 args, R8 the pixel's tap addresses, R9 its output, R12 pixels left,
//	R13 first channel of the block, R14 weights of the tap, R15 weight
//	stride (bytes), R16 taps, R17 tap, R24 temporary.
//	V0 input bytes, V2, V3 inputs widened, V4, V5 weights, V8 OutZP,
//	V9 Lo, V10 Hi, V11 MinInt32, V12 the xor bytes, V14, V15 temporaries,
//	V16-V19 sums of channels 4j to 4j+3 of the block, V20-V23 its bias,
//	V24-V27 its scales.
//
// func qdwNEON(p *qdwArgs)
TEXT ·qdwNEON(SB), NOSPLIT, $0-8
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
	MOVD qdwArgs_cw(R0), R15
	LSL $1, R15
	MOVD qdwArgs_taps(R0), R16
	MOVD $0, R13

block16:
	MOVD qdwArgs_c(R0), R24
	SUB R13, R24, R24
	CMP $16, R24
	BLT block8
	MOVD qdwArgs_bias(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V20.S4, V21.S4, V22.S4, V23.S4]
	MOVD qdwArgs_scale(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V24.S4, V25.S4, V26.S4, V27.S4]
	MOVD qdwArgs_ptrs(R0), R8
	MOVD qdwArgs_out(R0), R9
	MOVD qdwArgs_npix(R0), R12

pixel16:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	MOVD qdwArgs_w(R0), R14
	ADD R13<<1, R14, R14
	MOVD $0, R17

tap16:
	MOVD (R8)(R17<<3), R24
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
	VADD V20.S4, V16.S4, V16.S4
	VADD V21.S4, V17.S4, V17.S4
	VADD V22.S4, V18.S4, V18.S4
	VADD V23.S4, V19.S4, V19.S4
	REQ(16, V16, 24)
	REQ(17, V17, 25)
	REQ(18, V18, 26)
	REQ(19, V19, 27)
	XTN4H(14, 16)
	XTN28H(14, 17)
	XTN4H(15, 18)
	XTN28H(15, 19)
	XTN8B(0, 14)
	XTN216B(0, 15)
	ADD R13, R9, R24
	VST1 [V0.B16], (R24)
	ADD R16<<3, R8, R8
	MOVD qdwArgs_ldo(R0), R24
	ADD R24, R9, R9
	SUBS $1, R12
	BNE pixel16
	ADD $16, R13
	B block16

block8:
	CMP $8, R24
	BLT done
	MOVD qdwArgs_bias(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V20.S4, V21.S4]
	MOVD qdwArgs_scale(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V24.S4, V25.S4]
	MOVD qdwArgs_ptrs(R0), R8
	MOVD qdwArgs_out(R0), R9
	MOVD qdwArgs_npix(R0), R12

pixel8:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	MOVD qdwArgs_w(R0), R14
	ADD R13<<1, R14, R14
	MOVD $0, R17

tap8:
	MOVD (R8)(R17<<3), R24
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
	VADD V20.S4, V16.S4, V16.S4
	VADD V21.S4, V17.S4, V17.S4
	REQ(16, V16, 24)
	REQ(17, V17, 25)
	XTN4H(14, 16)
	XTN28H(14, 17)
	XTN8B(0, 14)
	ADD R13, R9, R24
	VST1 [V0.B8], (R24)
	ADD R16<<3, R8, R8
	MOVD qdwArgs_ldo(R0), R24
	ADD R24, R9, R9
	SUBS $1, R12
	BNE pixel8

done:
	RET

// Register use of fdwNEON (see fdwArgs; c is a multiple of 4):
//	as qdwNEON, with R15 the weight stride (bytes). V0-V3 inputs, V4-V7
//	weights, V8 lo, V9 hi, V16-V19 sums of channels 4j to 4j+3 of the
//	block, V20-V23 its bias.
//
// func fdwNEON(p *fdwArgs)
TEXT ·fdwNEON(SB), NOSPLIT, $0-8
	MOVD p+0(FP), R0
	ADD $fdwArgs_lo, R0, R24
	VLD1R (R24), [V8.S4]
	ADD $fdwArgs_hi, R0, R24
	VLD1R (R24), [V9.S4]
	MOVD fdwArgs_cp4(R0), R15
	MOVD fdwArgs_taps(R0), R16
	MOVD $0, R13

fblock16:
	MOVD fdwArgs_c(R0), R24
	SUB R13, R24, R24
	CMP $16, R24
	BLT fblock4
	MOVD fdwArgs_bias(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V20.S4, V21.S4, V22.S4, V23.S4]
	MOVD fdwArgs_ptrs(R0), R8
	MOVD fdwArgs_out(R0), R9
	MOVD fdwArgs_npix(R0), R12

fpixel16:
	VMOV V20.B16, V16.B16
	VMOV V21.B16, V17.B16
	VMOV V22.B16, V18.B16
	VMOV V23.B16, V19.B16
	MOVD fdwArgs_w(R0), R14
	ADD R13<<2, R14, R14
	MOVD $0, R17

ftap16:
	MOVD (R8)(R17<<3), R24
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
	FCLAMP4(16, 17, 18, 19)
	ADD R13<<2, R9, R24
	VST1 [V16.S4, V17.S4, V18.S4, V19.S4], (R24)
	ADD R16<<3, R8, R8
	MOVD fdwArgs_ldo(R0), R24
	ADD R24<<2, R9, R9
	SUBS $1, R12
	BNE fpixel16
	ADD $16, R13
	B fblock16

fblock4:
	CMP $4, R24
	BLT fdone
	MOVD fdwArgs_bias(R0), R24
	ADD R13<<2, R24, R24
	VLD1 (R24), [V20.S4]
	MOVD fdwArgs_ptrs(R0), R8
	MOVD fdwArgs_out(R0), R9
	MOVD fdwArgs_npix(R0), R12

fpixel4:
	VMOV V20.B16, V16.B16
	MOVD fdwArgs_w(R0), R14
	ADD R13<<2, R14, R14
	MOVD $0, R17

ftap4:
	MOVD (R8)(R17<<3), R24
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
	ADD R16<<3, R8, R8
	MOVD fdwArgs_ldo(R0), R24
	ADD R24<<2, R9, R9
	SUBS $1, R12
	BNE fpixel4
	ADD $4, R13
	B fblock16

fdone:
	RET
