// Encodings of the Advanced SIMD instructions the Go assembler lacks, by
// register number (checked against GNU as with -march=armv8.2-a+dotprod).

// SDOT Vd.4S, Vn.16B, Vm.4B[i]
#define SDOTE(d, n, m, i) WORD $(0x4f80e000 | (((i)&1)<<21) | ((m)<<16) | (((i)>>1)<<11) | ((n)<<5) | (d))
// SMLAL Vd.4S, Vn.4H, Vm.H[i] and SMLAL2 Vd.4S, Vn.8H, Vm.H[i] (m < 16)
#define SMLALE(d, n, m, i) WORD $(0x0f402000 | (((i)>>2)<<11) | ((((i)>>1)&1)<<21) | (((i)&1)<<20) | ((m)<<16) | ((n)<<5) | (d))
#define SMLAL2E(d, n, m, i) WORD $(0x4f402000 | (((i)>>2)<<11) | ((((i)>>1)&1)<<21) | (((i)&1)<<20) | ((m)<<16) | ((n)<<5) | (d))
// SMLAL Vd.4S, Vn.4H, Vm.4H and SMLAL2 Vd.4S, Vn.8H, Vm.8H
#define SMLALV(d, n, m) WORD $(0x0e608000 | ((m)<<16) | ((n)<<5) | (d))
#define SMLAL2V(d, n, m) WORD $(0x4e608000 | ((m)<<16) | ((n)<<5) | (d))
// FMLA Vd.4S, Vn.4S, Vm.S[i]
#define FMLAE(d, n, m, i) WORD $(0x4f801000 | (((i)&1)<<21) | ((m)<<16) | (((i)>>1)<<11) | ((n)<<5) | (d))
// SCVTF Vd.4S, Vn.4S; FCVTNS Vd.4S, Vn.4S (to nearest, ties to even)
#define SCVTF4(d, n) WORD $(0x4e21d800 | ((n)<<5) | (d))
#define FCVTNS4(d, n) WORD $(0x4e21a800 | ((n)<<5) | (d))
// FMUL, FCMEQ, FMAX, FMIN, SMAX, SMIN Vd.4S, Vn.4S, Vm.4S
#define FMUL4(d, n, m) WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d))
#define FCMEQ4(d, n, m) WORD $(0x4e20e400 | ((m)<<16) | ((n)<<5) | (d))
#define FMAX4(d, n, m) WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d))
#define FMIN4(d, n, m) WORD $(0x4ea0f400 | ((m)<<16) | ((n)<<5) | (d))
#define SMAX4(d, n, m) WORD $(0x4ea06400 | ((m)<<16) | ((n)<<5) | (d))
#define SMIN4(d, n, m) WORD $(0x4ea06c00 | ((m)<<16) | ((n)<<5) | (d))
// SSHLL/USHLL by 0 (SXTL, UXTL): Vd.8H from the low (8B) or high (2: 16B)
// bytes of Vn, Vd.4S from the low (4H) or high (2: 8H) halfwords; u is 1
// for the unsigned forms.
#define XTL8H(u, d, n) WORD $(0x0f08a400 | ((u)<<29) | ((n)<<5) | (d))
#define XTL28H(u, d, n) WORD $(0x4f08a400 | ((u)<<29) | ((n)<<5) | (d))
#define XTL4S(u, d, n) WORD $(0x0f10a400 | ((u)<<29) | ((n)<<5) | (d))
#define XTL24S(u, d, n) WORD $(0x4f10a400 | ((u)<<29) | ((n)<<5) | (d))
// MLA Vd.4S, Vn.4S, Vm.4S; SSHL Vd.4S, Vn.4S, Vm.4S (negative counts shift
// right, arithmetically and truncating)
#define MLA4(d, n, m) WORD $(0x4ea09400 | ((m)<<16) | ((n)<<5) | (d))
#define SSHL4(d, n, m) WORD $(0x4ea04400 | ((m)<<16) | ((n)<<5) | (d))
// XTN Vd.4H, Vn.4S; XTN2 Vd.8H, Vn.4S; XTN Vd.8B, Vn.8H; XTN2 Vd.16B, Vn.8H
#define XTN4H(d, n) WORD $(0x0e612800 | ((n)<<5) | (d))
#define XTN28H(d, n) WORD $(0x4e612800 | ((n)<<5) | (d))
#define XTN8B(d, n) WORD $(0x0e212800 | ((n)<<5) | (d))
#define XTN216B(d, n) WORD $(0x4e212800 | ((n)<<5) | (d))

// REQ requantizes the int32 lanes of V(an) in place with the scales in
// V(sn): float32(acc)*scale rounded to nearest even (NaN to MinInt32, as
// RoundEven), plus OutZP (V8), clamped to [Lo (V9), Hi (V10)]. V11 holds
// MinInt32; it clobbers V1.
#define REQ(an, a, sn) \
	SCVTF4(an, an); \
	FMUL4(an, an, sn); \
	FCMEQ4(1, an, an); \
	FCVTNS4(an, an); \
	VBIF V1.B16, V11.B16, a.B16; \
	VADD V8.S4, a.S4, a.S4; \
	SMAX4(an, an, 9); \
	SMIN4(an, an, 10)

// TILE4X4 applies op (SDOTE or FMLAE) to the 4x4 tile of accumulators:
// V(16+4r+j) gets lane i of V(r) (row r of A) times V(4+j) (columns 4j to
// 4j+3 of B).
#define TILE4X4(op, i) \
	op(16, 4, 0, i); \
	op(17, 5, 0, i); \
	op(18, 6, 0, i); \
	op(19, 7, 0, i); \
	op(20, 4, 1, i); \
	op(21, 5, 1, i); \
	op(22, 6, 1, i); \
	op(23, 7, 1, i); \
	op(24, 4, 2, i); \
	op(25, 5, 2, i); \
	op(26, 6, 2, i); \
	op(27, 7, 2, i); \
	op(28, 4, 3, i); \
	op(29, 5, 3, i); \
	op(30, 6, 3, i); \
	op(31, 7, 3, i)

// FCLAMP4 clamps the float32 lanes of V(n0)-V(n3) to [lo (V8), hi (V9)]
// (NaN stays NaN).
#define FCLAMP4(n0, n1, n2, n3) \
	FMAX4(n0, n0, 8); \
	FMAX4(n1, n1, 8); \
	FMAX4(n2, n2, 8); \
	FMAX4(n3, n3, 8); \
	FMIN4(n0, n0, 9); \
	FMIN4(n1, n1, 9); \
	FMIN4(n2, n2, 9); \
	FMIN4(n3, n3, 9)
