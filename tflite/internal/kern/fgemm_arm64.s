//go:build !purego

#include "textflag.h"
#include "go_asm.h"
#include "neon_arm64.h"

// Register use of fgemmNEON (see fgemmArgs):
//	R0 args, R1-R4 the tile's 4 rows of A, R5 packed B, R6 first column
//	of the panel, R7 k left, R8 first row of the tile, R9 the last row,
//	R10-R13 the 4 output rows, R14 the panel's bias, R17 columns left,
//	R19-R22 the rows of A at k, R23 N, R24, R25, R15 temporaries; stack: 64
//	bytes to store a partial panel from.
//	V0-V3 rows of A, V4-V7 B or bias, V8 lo, V9 hi, V16-V31 accumulators
//	(row r, columns 4j to 4j+3 in V(16+4r+j)).

#define ROW(r, areg, oreg) \
	ADD $r, R8, R17; \
	CMP R9, R17; \
	CSEL GT, R9, R17, R17; \
	MOVD fgemmArgs_lda(R0), R24; \
	MUL R17, R24, R24; \
	MOVD fgemmArgs_a(R0), areg; \
	ADD R24<<2, areg, areg; \
	MOVD fgemmArgs_ldo(R0), R24; \
	MUL R17, R24, R24; \
	MOVD fgemmArgs_out(R0), oreg; \
	ADD R24<<2, oreg, oreg

// FMAS adds one k (lane i of V0-V3) times the next 16 columns of B.
#define FMAS(i) \
	VLD1.P 64(R5), [V4.S4, V5.S4, V6.S4, V7.S4]; \
	TILE4X4(FMLAE, i)

#define INITROW(a0, a1, a2, a3) \
	VMOV V4.B16, a0.B16; \
	VMOV V5.B16, a1.B16; \
	VMOV V6.B16, a2.B16; \
	VMOV V7.B16, a3.B16

// OUTROW clamps row r's 16 columns (NaN stays NaN) and stores the R17 (at
// most 16) that exist.
#define OUTROW(n0, a0, n1, a1, n2, a2, n3, a3, oreg, part, done) \
	FCLAMP4(n0, n1, n2, n3); \
	ADD R6<<2, oreg, R24; \
	CMP $16, R17; \
	BLT part; \
	VST1 [a0.S4, a1.S4, a2.S4, a3.S4], (R24); \
	B done; \
part: \
	MOVD $tmp-64(SP), R25; \
	VST1 [a0.S4, a1.S4, a2.S4, a3.S4], (R25); \
	MOVD R17, R15; \
	CALL copyFloats<>(SB); \
done:

// copyFloats copies R15 float32s from R25 to R24 (clobbering R14, R15,
// R24, R25).
TEXT copyFloats<>(SB), NOSPLIT|NOFRAME, $0-0
copy:
	MOVWU.P 4(R25), R14
	MOVW.P R14, 4(R24)
	SUB $1, R15
	CBNZ R15, copy
	RET

// func fgemmNEON(p *fgemmArgs)
TEXT ·fgemmNEON(SB), NOSPLIT, $64-8
	MOVD p+0(FP), R0
	ADD $fgemmArgs_lo, R0, R24
	VLD1R (R24), [V8.S4]
	ADD $fgemmArgs_hi, R0, R24
	VLD1R (R24), [V9.S4]
	MOVD fgemmArgs_m(R0), R9
	SUB $1, R9
	MOVD fgemmArgs_n(R0), R23
	MOVD $0, R8

tile:
	ROW(0, R1, R10)
	ROW(1, R2, R11)
	ROW(2, R3, R12)
	ROW(3, R4, R13)
	MOVD fgemmArgs_b(R0), R5
	MOVD $0, R6

panel:
	SUB R6, R23, R17
	CMP $16, R17
	BLT tail
	MOVD fgemmArgs_bias(R0), R14
	ADD R6<<2, R14, R14
	B init

tail:
	ADD $fgemmArgs_tailBias, R0, R14

init:
	VLD1 (R14), [V4.S4, V5.S4, V6.S4, V7.S4]
	INITROW(V16, V17, V18, V19)
	INITROW(V20, V21, V22, V23)
	INITROW(V24, V25, V26, V27)
	INITROW(V28, V29, V30, V31)
	MOVD R1, R19
	MOVD R2, R20
	MOVD R3, R21
	MOVD R4, R22
	MOVD fgemmArgs_k(R0), R7

k4:
	CMP $4, R7
	BLT k1
	VLD1.P 16(R19), [V0.S4]
	VLD1.P 16(R20), [V1.S4]
	VLD1.P 16(R21), [V2.S4]
	VLD1.P 16(R22), [V3.S4]
	FMAS(0)
	FMAS(1)
	FMAS(2)
	FMAS(3)
	SUB $4, R7
	B k4

k1:
	CBZ R7, out
	VLD1.P 4(R19), V0.S[0]
	VLD1.P 4(R20), V1.S[0]
	VLD1.P 4(R21), V2.S[0]
	VLD1.P 4(R22), V3.S[0]
	FMAS(0)
	SUB $1, R7
	B k1

out:
	OUTROW(16, V16, 17, V17, 18, V18, 19, V19, R10, p0, d0)
	OUTROW(20, V20, 21, V21, 22, V22, 23, V23, R11, p1, d1)
	OUTROW(24, V24, 25, V25, 26, V26, 27, V27, R12, p2, d2)
	OUTROW(28, V28, 29, V29, 30, V30, 31, V31, R13, p3, d3)
	ADD $16, R6
	CMP R23, R6
	BLT panel
	ADD $4, R8
	MOVD fgemmArgs_m(R0), R17
	CMP R17, R8
	BLT tile
	RET
