//go:build !purego

#include "textflag.h"
#include "go_asm.h"
#include "neon_arm64.h"

// QADD computes 16 elements per iteration with NEON: the bytes are widened to int32
// (u: 1 for uint8 inputs, 0 for int8), scaled and summed onto Bias with
// MLA, shifted right, offset, clamped and narrowed back to bytes (exact:
// the values are already clamped).
//
// Register use: R0 out, R1 a, R2 b, R3 elements left, R4 params, R5
// temporary. V0, V1 the input bytes, V2, V3 halfwords, V4-V7 a and
// V16-V19 b widened, V20-V23 the sums, V8-V10 the narrowed output, V24
// Bias, V25 Mul1, V26 Mul2, V27 -Shift, V28 OutZP, V29 Lo, V30 Hi.
// DUPW broadcasts the int32 at off(R4) to the lanes of v.
#define DUPW(off, v) \
	MOVW off(R4), R5; \
	VDUP R5, v.S4

// WIDEN widens the 16 bytes of V(src) to int32 in V(d0)-V(d3), through
// V2 and V3.
#define WIDEN(u, src, d0, d1, d2, d3) \
	XTL8H(u, 2, src); \
	XTL28H(u, 3, src); \
	XTL4S(u, d0, 2); \
	XTL24S(u, d1, 2); \
	XTL4S(u, d2, 3); \
	XTL24S(u, d3, 3)

#define QADD(name, u) \
TEXT name(SB), NOSPLIT, $0-40; \
	MOVD out+0(FP), R0; \
	MOVD a+8(FP), R1; \
	MOVD b+16(FP), R2; \
	MOVD n+24(FP), R3; \
	MOVD p+32(FP), R4; \
	DUPW(QAddParams_Bias, V24); \
	DUPW(QAddParams_Mul1, V25); \
	DUPW(QAddParams_Mul2, V26); \
	MOVW QAddParams_Shift(R4), R5; \
	NEG R5, R5; \
	VDUP R5, V27.S4; \
	DUPW(QAddParams_OutZP, V28); \
	DUPW(QAddParams_Lo, V29); \
	DUPW(QAddParams_Hi, V30); \
loop: \
	VLD1.P 16(R1), [V0.B16]; \
	VLD1.P 16(R2), [V1.B16]; \
	WIDEN(u, 0, 4, 5, 6, 7); \
	WIDEN(u, 1, 16, 17, 18, 19); \
	VMOV V24.B16, V20.B16; \
	VMOV V24.B16, V21.B16; \
	VMOV V24.B16, V22.B16; \
	VMOV V24.B16, V23.B16; \
	MLA4(20, 4, 25); \
	MLA4(21, 5, 25); \
	MLA4(22, 6, 25); \
	MLA4(23, 7, 25); \
	MLA4(20, 16, 26); \
	MLA4(21, 17, 26); \
	MLA4(22, 18, 26); \
	MLA4(23, 19, 26); \
	SSHL4(20, 20, 27); \
	SSHL4(21, 21, 27); \
	SSHL4(22, 22, 27); \
	SSHL4(23, 23, 27); \
	VADD V28.S4, V20.S4, V20.S4; \
	VADD V28.S4, V21.S4, V21.S4; \
	VADD V28.S4, V22.S4, V22.S4; \
	VADD V28.S4, V23.S4, V23.S4; \
	SMAX4(20, 20, 29); \
	SMAX4(21, 21, 29); \
	SMAX4(22, 22, 29); \
	SMAX4(23, 23, 29); \
	SMIN4(20, 20, 30); \
	SMIN4(21, 21, 30); \
	SMIN4(22, 22, 30); \
	SMIN4(23, 23, 30); \
	XTN4H(8, 20); \
	XTN28H(8, 21); \
	XTN4H(9, 22); \
	XTN28H(9, 23); \
	XTN8B(10, 8); \
	XTN216B(10, 9); \
	VST1.P [V10.B16], 16(R0); \
	SUBS $16, R3, R3; \
	BNE loop; \
	RET

QADD(·qaddU8, 1)
QADD(·qaddI8, 0)
