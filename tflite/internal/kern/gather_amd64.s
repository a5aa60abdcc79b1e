//go:build !purego

#include "textflag.h"

// Each tap's n bytes are copied as two chunks of the largest size s <= n
// (1, 2, 4, 8, 16 or 32) that may overlap: at 0 and at n-s, after whole
// 32-byte chunks when n > 32. The size is chosen once per call.

// LOOP runs copy for every tap of every pixel, with SI the tap's address
// and R8 its place in dst.
#define LOOP(copy, pixel, tap) \
pixel: \
	MOVQ DI, R8; \
	MOVQ taps+24(FP), CX; \
tap: \
	MOVQ (BX), SI; \
	ADDQ $8, BX; \
	copy; \
	ADDQ R9, R8; \
	DECQ CX; \
	JNZ  tap; \
	ADDQ ldd+8(FP), DI; \
	DECQ DX; \
	JNZ  pixel; \
	VZEROUPPER; \
	RET

#define COPY1 \
	MOVB (SI), AX; \
	MOVB AX, (R8)

// COPY copies the s bytes at 0 and at n-s with mov through a and b.
#define COPY(mov, s, a, b) \
	mov (SI), a; \
	mov -s(SI)(R9*1), b; \
	mov a, (R8); \
	mov b, -s(R8)(R9*1)

#define COPY32 \
	XORL R11, R11; \
	VMOVDQU (SI)(R11*1), Y0; \
	VMOVDQU Y0, (R8)(R11*1); \
	ADDQ $32, R11; \
	CMPQ R11, R10; \
	JLT  -4(PC); \
	VMOVDQU -32(SI)(R9*1), Y0; \
	VMOVDQU Y0, -32(R8)(R9*1)

// func gatherTaps(dst unsafe.Pointer, ldd int, ptrs *uintptr, taps, npix, n int)
//
// Register use: DI the pixel's row of dst, R8 the tap's place in it, SI the
// tap's address, BX the tap addresses, CX taps left, DX pixels left, R9 n,
// R10 n-32, R11, AX temporaries.
TEXT ·gatherTaps(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ ptrs+16(FP), BX
	MOVQ npix+32(FP), DX
	MOVQ n+40(FP), R9
	LEAQ -32(R9), R10
	CMPQ R9, $32
	JGE  big
	CMPQ R9, $16
	JGE  n16
	CMPQ R9, $8
	JGE  n8
	CMPQ R9, $4
	JGE  n4
	CMPQ R9, $2
	JGE  n2
	LOOP(COPY1, p1, t1)

n2:
	LOOP(COPY(MOVW, 2, AX, R11), p2, t2)

n4:
	LOOP(COPY(MOVL, 4, AX, R11), p4, t4)

n8:
	LOOP(COPY(MOVQ, 8, AX, R11), p8, t8)

n16:
	LOOP(COPY(VMOVDQU, 16, X0, X1), p16, t16)

big:
	LOOP(COPY32, p32, t32)
