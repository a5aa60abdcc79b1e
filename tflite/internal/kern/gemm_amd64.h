// Macros shared by the amd64 GEMM kernels. R14 holds the args, SI the
// tile's first row, BX the group's first column; AX and DX are temporaries.

// FROW points reg at row r of fgemm's tile (clamped to the last row, kept
// at 48(SP)) and saves its output row at r*8(SP).
#define FROW(r, reg) \
	LEAQ r(SI), AX; \
	CMPQ AX, 48(SP); \
	CMOVQGT 48(SP), AX; \
	MOVQ AX, reg; \
	IMULQ fgemmArgs_lda(R14), reg; \
	SHLQ $2, reg; \
	ADDQ fgemmArgs_a(R14), reg; \
	IMULQ fgemmArgs_ldo(R14), AX; \
	SHLQ $2, AX; \
	ADDQ fgemmArgs_out(R14), AX; \
	MOVQ AX, (r*8)(SP)

// QROW points reg at row r of qgemm's tile (clamped to the last row, kept
// at last(SP)) and saves its output row at r*8(SP) and its row term at
// (terms+r*4)(SP).
#define QROW(r, reg, last, terms) \
	LEAQ r(SI), AX; \
	CMPQ AX, last(SP); \
	CMOVQGT last(SP), AX; \
	MOVQ AX, reg; \
	IMULQ qgemmArgs_lda(R14), reg; \
	ADDQ qgemmArgs_a(R14), reg; \
	MOVQ AX, DX; \
	IMULQ qgemmArgs_ldo(R14), DX; \
	ADDQ qgemmArgs_out(R14), DX; \
	MOVQ DX, (r*8)(SP); \
	MOVQ qgemmArgs_rowTerm(R14), DX; \
	MOVL (DX)(AX*4), DX; \
	MOVL DX, (terms+r*4)(SP)

// LASTLANES sets K1 to the lanes of the AVX-512 group's last vector (of at
// most 4 of 16 columns) that hold columns, from n (the matrix's columns);
// it leaves AX = columns left and clobbers CX, DX.
#define LASTLANES(n) \
	MOVQ n, AX; \
	SUBQ BX, AX; \
	MOVQ AX, CX; \
	MOVL $64, DX; \
	CMPQ CX, DX; \
	CMOVQGT DX, CX; \
	DECQ CX; \
	ANDQ $15, CX; \
	NEGQ CX; \
	ADDQ $15, CX; \
	MOVL $0xffff, DX; \
	SHRL CX, DX; \
	KMOVW DX, K1
