//go:build !purego

#include "textflag.h"

// Constants shared by the AVX2 kernels: lane indices, 8 times MaxInt32, 8
// times 2^31 as float32, and the gather of byte 0 of each dword of a
// 128-bit lane into its low 4 bytes.

DATA ·iota8+0(SB)/8, $0x0000000100000000
DATA ·iota8+8(SB)/8, $0x0000000300000002
DATA ·iota8+16(SB)/8, $0x0000000500000004
DATA ·iota8+24(SB)/8, $0x0000000700000006
GLOBL ·iota8(SB), RODATA|NOPTR, $32

DATA ·maxInt32x8+0(SB)/8, $0x7fffffff7fffffff
DATA ·maxInt32x8+8(SB)/8, $0x7fffffff7fffffff
DATA ·maxInt32x8+16(SB)/8, $0x7fffffff7fffffff
DATA ·maxInt32x8+24(SB)/8, $0x7fffffff7fffffff
GLOBL ·maxInt32x8(SB), RODATA|NOPTR, $32

DATA ·two31x8+0(SB)/8, $0x4f0000004f000000
DATA ·two31x8+8(SB)/8, $0x4f0000004f000000
DATA ·two31x8+16(SB)/8, $0x4f0000004f000000
DATA ·two31x8+24(SB)/8, $0x4f0000004f000000
GLOBL ·two31x8(SB), RODATA|NOPTR, $32

DATA ·lowBytes+0(SB)/8, $0x808080800c080400
DATA ·lowBytes+8(SB)/8, $0x8080808080808080
DATA ·lowBytes+16(SB)/8, $0x808080800c080400
DATA ·lowBytes+24(SB)/8, $0x8080808080808080
GLOBL ·lowBytes(SB), RODATA|NOPTR, $32
