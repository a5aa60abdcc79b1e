//go:build !purego

#include "textflag.h"
#include "go_asm.h"
#include "neon_arm64.h"

// Register use of qgemmDot and qgemmNEON (see qgemmArgs):
//	R0 args, R1-R4 the tile's 4 rows of A, R5 packed B, R6 first column
//	of the panel, R7 k left, R8 first row of the tile, R9 the last row,
//	R10-R13 the 4 output rows, R14-R16 the panel's bias, colFix and
//	scales, R17 columns left, R19-R22 the rows of A at k, R23 N, R24, R25
//	temporaries; stack: 16 bytes to store a partial panel from.
//	V0-V3 rows of A, V4-V7 B or scales, V8 OutZP, V9 Lo, V10 Hi,
//	V11 MinInt32, V12 the xor bytes, V13 the tile's row terms, V14, V15
//	temporaries, V16-V31 accumulators (row r, columns 4j to 4j+3 in
//	V(16+4r+j)).

// ROW points areg and oreg at row r of the tile (clamped to the last row)
// of A and the output, and loads its row term into lane r of V13.
#define ROW(r, areg, oreg) \
	ADD $r, R8, R17; \
	CMP R9, R17; \
	CSEL GT, R9, R17, R17; \
	MOVD qgemmArgs_lda(R0), R24; \
	MUL R17, R24, R24; \
	MOVD qgemmArgs_a(R0), areg; \
	ADD R24, areg, areg; \
	MOVD qgemmArgs_ldo(R0), R24; \
	MUL R17, R24, R24; \
	MOVD qgemmArgs_out(R0), oreg; \
	ADD R24, oreg, oreg; \
	MOVD qgemmArgs_rowTerm(R0), R24; \
	ADD R17<<2, R24, R24; \
	VLD1 (R24), V13.S[r]

// SETUP loads the constants and starts the first tile.
#define SETUP \
	MOVD p+0(FP), R0; \
	ADD $qgemmArgs_outZP, R0, R24; \
	VLD1R (R24), [V8.S4]; \
	ADD $qgemmArgs_lo, R0, R24; \
	VLD1R (R24), [V9.S4]; \
	ADD $qgemmArgs_hi, R0, R24; \
	VLD1R (R24), [V10.S4]; \
	MOVW $0x80000000, R24; \
	VDUP R24, V11.S4; \
	ADD $qgemmArgs_xor, R0, R24; \
	VLD1R (R24), [V12.S4]; \
	MOVD qgemmArgs_m(R0), R9; \
	SUB $1, R9; \
	MOVD qgemmArgs_n(R0), R23; \
	MOVD $0, R8

// TILE points at the tile's rows and the first panel.
#define TILE \
	ROW(0, R1, R10); \
	ROW(1, R2, R11); \
	ROW(2, R3, R12); \
	ROW(3, R4, R13); \
	MOVD qgemmArgs_b(R0), R5; \
	MOVD $0, R6

// PANEL points R14-R16 at the panel's bias, colFix and scales (the tail
// copies for a partial panel), sets the accumulators to bias + colFix +
// row term and R19-R22 at the rows' first k. R17 = columns left.
#define PANEL(tail, init) \
	SUB R6, R23, R17; \
	CMP $16, R17; \
	BLT tail; \
	MOVD qgemmArgs_bias(R0), R14; \
	ADD R6<<2, R14, R14; \
	MOVD qgemmArgs_colFix(R0), R15; \
	ADD R6<<2, R15, R15; \
	MOVD qgemmArgs_scale(R0), R16; \
	ADD R6<<2, R16, R16; \
	B init; \
tail: \
	ADD $qgemmArgs_tailBias, R0, R14; \
	ADD $qgemmArgs_tailFix, R0, R15; \
	ADD $qgemmArgs_tailScale, R0, R16; \
init: \
	VLD1 (R14), [V4.S4, V5.S4, V6.S4, V7.S4]; \
	VLD1 (R15), [V0.S4, V1.S4, V2.S4, V3.S4]; \
	VADD V0.S4, V4.S4, V4.S4; \
	VADD V1.S4, V5.S4, V5.S4; \
	VADD V2.S4, V6.S4, V6.S4; \
	VADD V3.S4, V7.S4, V7.S4; \
	INITROW(0, V16, V17, V18, V19); \
	INITROW(1, V20, V21, V22, V23); \
	INITROW(2, V24, V25, V26, V27); \
	INITROW(3, V28, V29, V30, V31); \
	MOVD R1, R19; \
	MOVD R2, R20; \
	MOVD R3, R21; \
	MOVD R4, R22; \
	MOVD qgemmArgs_kp(R0), R7

#define INITROW(r, a0, a1, a2, a3) \
	VDUP V13.S[r], V14.S4; \
	VADD V14.S4, V4.S4, a0.S4; \
	VADD V14.S4, V5.S4, a1.S4; \
	VADD V14.S4, V6.S4, a2.S4; \
	VADD V14.S4, V7.S4, a3.S4

// OUTROW requantizes row r's 16 columns and stores the R17 (at most 16)
// that exist.
#define OUTROW(n0, a0, n1, a1, n2, a2, n3, a3, oreg, part, done) \
	REQ(n0, a0, 4); \
	REQ(n1, a1, 5); \
	REQ(n2, a2, 6); \
	REQ(n3, a3, 7); \
	XTN4H(14, n0); \
	XTN28H(14, n1); \
	XTN4H(15, n2); \
	XTN28H(15, n3); \
	XTN8B(0, 14); \
	XTN216B(0, 15); \
	ADD R6, oreg, R24; \
	CMP $16, R17; \
	BLT part; \
	VST1 [V0.B16], (R24); \
	B done; \
part: \
	MOVD $tmp-16(SP), R25; \
	VST1 [V0.B16], (R25); \
	MOVD R17, R15; \
	CALL copyBytes<>(SB); \
done:

// copyBytes copies R15 bytes from R25 to R24 (clobbering R14, R15, R24,
// R25).
TEXT copyBytes<>(SB), NOSPLIT|NOFRAME, $0-0
copy:
	MOVBU.P 1(R25), R14
	MOVB.P R14, 1(R24)
	SUB $1, R15
	CBNZ R15, copy
	RET

// EPILOGUE stores the tile's panel and moves to the next panel and tile.
#define EPILOGUE(panel, tile) \
	VLD1 (R16), [V4.S4, V5.S4, V6.S4, V7.S4]; \
	OUTROW(16, V16, 17, V17, 18, V18, 19, V19, R10, p0, d0); \
	OUTROW(20, V20, 21, V21, 22, V22, 23, V23, R11, p1, d1); \
	OUTROW(24, V24, 25, V25, 26, V26, 27, V27, R12, p2, d2); \
	OUTROW(28, V28, 29, V29, 30, V30, 31, V31, R13, p3, d3); \
	ADD $16, R6; \
	CMP R23, R6; \
	BLT panel; \
	ADD $4, R8; \
	MOVD qgemmArgs_m(R0), R17; \
	CMP R17, R8; \
	BLT tile

// LOADA loads s bytes of each row into V0-V3 (as v0-v3) and XORs them.
#define LOADA(s, v0, v1, v2, v3) \
	VLD1.P s(R19), v0; \
	VLD1.P s(R20), v1; \
	VLD1.P s(R21), v2; \
	VLD1.P s(R22), v3; \
	VEOR V12.B16, V0.B16, V0.B16; \
	VEOR V12.B16, V1.B16, V1.B16; \
	VEOR V12.B16, V2.B16, V2.B16; \
	VEOR V12.B16, V3.B16, V3.B16

// QUAD adds 4 k (quad q of V0-V3) times the next 16 columns of B.
#define QUAD(q) \
	VLD1.P 64(R5), [V4.B16, V5.B16, V6.B16, V7.B16]; \
	TILE4X4(SDOTE, q)

// func qgemmDot(p *qgemmArgs)
TEXT ·qgemmDot(SB), NOSPLIT, $16-8
	SETUP

dtile:
	TILE

dpanel:
	PANEL(dtail, dinit)

dk16:
	CMP $16, R7
	BLT dk4
	LOADA(16, [V0.B16], [V1.B16], [V2.B16], [V3.B16])
	QUAD(0)
	QUAD(1)
	QUAD(2)
	QUAD(3)
	SUB $16, R7
	B dk16

dk4:
	CBZ R7, dout
	LOADA(4, V0.S[0], V1.S[0], V2.S[0], V3.S[0])
	QUAD(0)
	SUB $4, R7
	B dk4

dout:
	EPILOGUE(dpanel, dtile)
	RET

// KSTEP adds one k (halfword i of V0-V3) times the next 16 columns of B.
#define KSTEP(i) \
	VLD1.P 32(R5), [V4.H8, V5.H8]; \
	SMLALE(16, 4, 0, i); \
	SMLAL2E(17, 4, 0, i); \
	SMLALE(18, 5, 0, i); \
	SMLAL2E(19, 5, 0, i); \
	SMLALE(20, 4, 1, i); \
	SMLAL2E(21, 4, 1, i); \
	SMLALE(22, 5, 1, i); \
	SMLAL2E(23, 5, 1, i); \
	SMLALE(24, 4, 2, i); \
	SMLAL2E(25, 4, 2, i); \
	SMLALE(26, 5, 2, i); \
	SMLAL2E(27, 5, 2, i); \
	SMLALE(28, 4, 3, i); \
	SMLAL2E(29, 4, 3, i); \
	SMLALE(30, 5, 3, i); \
	SMLAL2E(31, 5, 3, i)

#define WIDENA \
	VUXTL V0.B8, V0.H8; \
	VUXTL V1.B8, V1.H8; \
	VUXTL V2.B8, V2.H8; \
	VUXTL V3.B8, V3.H8

// func qgemmNEON(p *qgemmArgs)
TEXT ·qgemmNEON(SB), NOSPLIT, $16-8
	SETUP

ntile:
	TILE

npanel:
	PANEL(ntail, ninit)

nk8:
	CMP $8, R7
	BLT nk4
	LOADA(8, [V0.B8], [V1.B8], [V2.B8], [V3.B8])
	WIDENA
	KSTEP(0)
	KSTEP(1)
	KSTEP(2)
	KSTEP(3)
	KSTEP(4)
	KSTEP(5)
	KSTEP(6)
	KSTEP(7)
	SUB $8, R7
	B nk8

nk4:
	CBZ R7, nout
	LOADA(4, V0.S[0], V1.S[0], V2.S[0], V3.S[0])
	WIDENA
	KSTEP(0)
	KSTEP(1)
	KSTEP(2)
	KSTEP(3)

nout:
	EPILOGUE(npanel, ntile)
	RET

// func rowSumsNEON(a *byte, lda, m, k int, xor uint32, mul int32, dst *int32)
TEXT ·rowSumsNEON(SB), NOSPLIT, $0-48
	MOVD a+0(FP), R0
	MOVD lda+8(FP), R1
	MOVD m+16(FP), R2
	MOVD k+24(FP), R3
	MOVWU xor+32(FP), R4
	MOVW mul+36(FP), R5
	MOVD dst+40(FP), R6
	VDUP R4, V31.S4
	AND $0xff, R4

rsrow:
	MOVD R0, R7
	MOVD R3, R8
	MOVD $0, R9

rs16:
	CMP $16, R8
	BLT rs1
	VLD1.P 16(R7), [V0.B16]
	VEOR V31.B16, V0.B16, V0.B16
	VUADDLV V0.B16, V1
	VMOV V1.H[0], R10
	ADD R10, R9, R9
	SUB $16, R8
	B rs16

rs1:
	CBZ R8, rsdone
	MOVBU.P 1(R7), R10
	EOR R4, R10, R10
	ADD R10, R9, R9
	SUB $1, R8
	B rs1

rsdone:
	MULW R5, R9, R9
	MOVW R9, (R6)
	ADD $4, R6
	ADD R1, R0, R0
	SUBS $1, R2
	BNE rsrow
	RET
