//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// QADD computes 16 elements per iteration with AVX2: the bytes are widened to int32
// (movx: zero or sign extension), scaled, summed, shifted and clamped in
// two registers of 8, then packed back to bytes (packb: unsigned or
// signed saturation, exact since the values are already clamped). The
// first pack leaves words 0-3, 8-11 | 4-7, 12-15; VPERMQ $0xD8 orders them;
// the byte pack leaves bytes 0-7, 0-7 | 8-15, 8-15; VPERMQ $0x08 brings
// bytes 0-15 into the low lane.
//
// Register use: DI out, SI a, DX b, CX elements left, Y10-Y15 and X9 the
// broadcast parameters.
#define QADD(name, movx, packb) \
TEXT name(SB), NOSPLIT, $0-40; \
	MOVQ out+0(FP), DI; \
	MOVQ a+8(FP), SI; \
	MOVQ b+16(FP), DX; \
	MOVQ n+24(FP), CX; \
	MOVQ p+32(FP), AX; \
	VPBROADCASTD QAddParams_Bias(AX), Y10; \
	VPBROADCASTD QAddParams_Mul1(AX), Y11; \
	VPBROADCASTD QAddParams_Mul2(AX), Y12; \
	VMOVD QAddParams_Shift(AX), X9; \
	VPBROADCASTD QAddParams_OutZP(AX), Y13; \
	VPBROADCASTD QAddParams_Lo(AX), Y14; \
	VPBROADCASTD QAddParams_Hi(AX), Y15; \
loop: \
	movx (SI), Y0; \
	movx 8(SI), Y1; \
	movx (DX), Y2; \
	movx 8(DX), Y3; \
	VPMULLD Y11, Y0, Y0; \
	VPMULLD Y11, Y1, Y1; \
	VPMULLD Y12, Y2, Y2; \
	VPMULLD Y12, Y3, Y3; \
	VPADDD Y2, Y0, Y0; \
	VPADDD Y3, Y1, Y1; \
	VPADDD Y10, Y0, Y0; \
	VPADDD Y10, Y1, Y1; \
	VPSRAD X9, Y0, Y0; \
	VPSRAD X9, Y1, Y1; \
	VPADDD Y13, Y0, Y0; \
	VPADDD Y13, Y1, Y1; \
	VPMAXSD Y14, Y0, Y0; \
	VPMAXSD Y14, Y1, Y1; \
	VPMINSD Y15, Y0, Y0; \
	VPMINSD Y15, Y1, Y1; \
	VPACKSSDW Y1, Y0, Y0; \
	VPERMQ $0xD8, Y0, Y0; \
	packb Y0, Y0, Y0; \
	VPERMQ $0x08, Y0, Y0; \
	VMOVDQU X0, (DI); \
	ADDQ $16, SI; \
	ADDQ $16, DX; \
	ADDQ $16, DI; \
	SUBQ $16, CX; \
	JNZ  loop; \
	VZEROUPPER; \
	RET

QADD(·qaddU8, VPMOVZXBD, VPACKUSWB)
QADD(·qaddI8, VPMOVSXBD, VPACKSSWB)
