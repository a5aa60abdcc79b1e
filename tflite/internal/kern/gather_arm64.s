//go:build !purego

#include "textflag.h"

// Each tap's n bytes are copied as two chunks of the largest size s <= n
// (1, 2, 4, 8 or 16) that may overlap: at 0 and at n-s, after whole
// 16-byte chunks when n > 16. The size is chosen once per call.

// LOOP runs copy for every tap of every pixel, with R8 the tap's address
// and R6 its place in dst.
#define LOOP(copy, pixel, tap) \
pixel: \
	MOVD R0, R6; \
	MOVD taps+24(FP), R7; \
tap: \
	MOVD.P 8(R2), R8; \
	copy; \
	ADD R5, R6, R6; \
	SUBS $1, R7; \
	BNE tap; \
	ADD R1, R0, R0; \
	SUBS $1, R4; \
	BNE pixel; \
	RET

#define COPY1 \
	MOVBU (R8), R10; \
	MOVB R10, (R6)

#define COPY2 \
	MOVHU (R8), R10; \
	MOVHU (R8)(R3), R11; \
	MOVH R10, (R6); \
	MOVH R11, (R6)(R3)

#define COPY4 \
	MOVWU (R8), R10; \
	MOVWU (R8)(R3), R11; \
	MOVW R10, (R6); \
	MOVW R11, (R6)(R3)

#define COPY8 \
	MOVD (R8), R10; \
	MOVD (R8)(R3), R11; \
	MOVD R10, (R6); \
	MOVD R11, (R6)(R3)

#define COPY16 \
	MOVD R8, R10; \
	MOVD R6, R11; \
	MOVD R3, R12; \
	VLD1.P 16(R10), [V0.B16]; \
	VST1.P [V0.B16], 16(R11); \
	SUBS $16, R12; \
	BGT -3(PC); \
	ADD R3, R8, R10; \
	ADD R3, R6, R11; \
	VLD1 (R10), [V0.B16]; \
	VST1 [V0.B16], (R11)

// func gatherTaps(dst unsafe.Pointer, ldd int, ptrs *uintptr, taps, npix, n int)
//
// Register use: R0 the pixel's row of dst, R1 ldd, R2 the tap addresses,
// R3 n-s, R4 pixels left, R5 n, R6 the tap's place in dst, R7 taps left,
// R8 the tap's address, R10-R12 temporaries.
TEXT ·gatherTaps(SB), NOSPLIT, $0-48
	MOVD dst+0(FP), R0
	MOVD ldd+8(FP), R1
	MOVD ptrs+16(FP), R2
	MOVD npix+32(FP), R4
	MOVD n+40(FP), R5
	SUB $16, R5, R3
	CMP $16, R5
	BGE n16
	SUB $8, R5, R3
	CMP $8, R5
	BGE n8
	SUB $4, R5, R3
	CMP $4, R5
	BGE n4
	SUB $2, R5, R3
	CMP $2, R5
	BGE n2
	LOOP(COPY1, p1, t1)

n2:
	LOOP(COPY2, p2, t2)

n4:
	LOOP(COPY4, p4, t4)

n8:
	LOOP(COPY8, p8, t8)

n16:
	LOOP(COPY16, p16, t16)
