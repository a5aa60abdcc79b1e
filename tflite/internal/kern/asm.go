//go:build !purego && (amd64 || arm64)

package kern

import "unsafe"

// The assembly kernels take their operands in these structs and read the
// fields at the offsets go_asm.h gives. Each architecture's file provides
// detectLevels, the packers (packQ, packF, packQDW, packFDW) and the
// kernels per level (qgemmKernel, rowSums, fgemmKernel, qdwKernel,
// fdwKernel).

// qgemmArgs are the operands of the QGemm kernels for m rows.
type qgemmArgs struct {
	a       *byte // row 0 of A
	lda     int
	m       int // rows, at least 1
	kp      int // bytes of each row to multiply, a positive multiple of 4
	b       unsafe.Pointer
	n       int
	bias    *int32
	scale   *float32
	colFix  *int32 // per-column terms of the packed layout (arm64)
	rowTerm *int32 // m row terms (RowSumMul times the row sum)
	out     *byte
	ldo     int
	xor     uint32 // the byte to XOR rows of A with, in each byte
	outZP   int32
	lo, hi  int32
	sat     bool // a product may reach 2^31: the kernel must saturate
	// The last partial panel's bias, colFix and scales, zero-padded, for
	// kernels without masked loads (arm64).
	tailBias, tailFix [16]int32
	tailScale         [16]float32
}

// qRowBlock is how many rows the kernels take per call: the row terms of a
// block live on the stack. A multiple of every kernel's row tile.
const qRowBlock = 240

// The kernels stream all of B for every few rows, so products whose packed
// B would not stay in L2 run over chunks of columns whose B does: chunks
// of whole groups (64 columns, a multiple of every layout's group),
// about chunkBytes each.
const (
	chunkBytes = 256 << 10
	groupCols  = 64
)

// chunkCols returns the columns per chunk for rows of rowBytes of B.
func chunkCols(rowBytes int) int {
	return max(1, chunkBytes/(groupCols*rowBytes)) * groupCols
}

func qgemmAsm(m int, a []byte, lda int, xor byte, w *QWeights, ep *QEpilogue, out []byte, ldo int) bool {
	if ep.Scale == nil {
		return false // fixed-point requantization stays in Go
	}
	_ = ep.Bias[w.N-1]
	_ = ep.Scale[w.N-1]
	var rt [qRowBlock]int32
	p := qgemmArgs{
		lda: lda, kp: w.Kp, n: w.N, bias: &ep.Bias[0], scale: &ep.Scale[0], rowTerm: &rt[0], ldo: ldo,
		xor: uint32(xor) * 0x01010101, outZP: ep.OutZP, lo: ep.Lo, hi: ep.Hi,
	}
	for _, s := range ep.Scale[:w.N] {
		// float32(acc) <= 2^31, so products stay below 2^31 (and are not
		// NaN) when scales are at most 1/2, as in any real model.
		if !(s >= -0.5 && s <= 0.5) {
			p.sat = true
			break
		}
	}
	if w.packed != nil {
		p.b = unsafe.Pointer(unsafe.SliceData(w.packed))
	} else {
		p.b = unsafe.Pointer(unsafe.SliceData(w.packed16))
	}
	if w.colFix != nil {
		p.colFix = &w.colFix[0]
		n16 := w.N &^ 15
		copy(p.tailBias[:], ep.Bias[n16:w.N])
		copy(p.tailFix[:], w.colFix[n16:])
		copy(p.tailScale[:], ep.Scale[n16:w.N])
	}
	rowBytes := w.Kp
	if w.packed == nil {
		rowBytes *= 2
	}
	cols := chunkCols(rowBytes)
	for m0 := 0; m0 < m; m0 += qRowBlock {
		p.m = min(qRowBlock, m-m0)
		if ep.RowSumMul != 0 {
			rowSums(w.isa, &a[m0*lda], lda, p.m, w.K, uint32(xor)*0x01010101, ep.RowSumMul, &rt[0])
		}
		for n0 := 0; n0 < w.N; n0 += cols {
			c := p
			c.a, c.out, c.n = &a[m0*lda], &out[m0*ldo+n0], min(cols, w.N-n0)
			c.b = unsafe.Add(p.b, n0*rowBytes)
			c.bias, c.scale = &ep.Bias[n0], &ep.Scale[n0]
			if p.colFix != nil {
				c.colFix = &w.colFix[n0]
			}
			qgemmKernel(w.isa, &c)
		}
	}
	return true
}

// fgemmArgs are the operands of the FGemm kernels for m rows.
type fgemmArgs struct {
	a      *float32 // row 0 of A
	lda    int
	m      int // rows, at least 1
	k      int // at least 1
	b      *float32
	n      int
	bias   *float32 // N values, zeros when there is no bias
	out    *float32
	ldo    int
	lo, hi float32
	// The last partial panel's bias, zero-padded, for kernels without
	// masked loads (arm64).
	tailBias [16]float32
}

func fgemmAsm(m int, a []float32, lda int, w *FWeights, bias []float32, lo, hi float32, out []float32, ldo int) bool {
	if bias == nil {
		bias = w.zeros
	}
	_ = bias[w.N-1]
	p := fgemmArgs{
		a: &a[0], lda: lda, m: m, k: w.K, b: unsafe.SliceData(w.packed), n: w.N,
		bias: &bias[0], out: &out[0], ldo: ldo, lo: lo, hi: hi,
	}
	copy(p.tailBias[:], bias[w.N&^15:w.N])
	cols := chunkCols(4 * w.K)
	for n0 := 0; n0 < w.N; n0 += cols {
		c := p
		c.b, c.n, c.bias, c.out = &w.packed[n0*w.K], min(cols, w.N-n0), &bias[n0], &out[n0]
		fgemmKernel(w.isa, &c)
	}
	return true
}

// qdwArgs are the operands of the QDepthwise kernels.
type qdwArgs struct {
	ptrs   *uintptr // the address of each tap of each pixel, then the pad's
	taps   int
	npix   int
	c      int // channels to compute
	cw     int // channels of the weights
	w      *int16
	fix    *int32 // colFix, added when signed
	bias   *int32
	scale  *float32
	out    *byte
	ldo    int
	xor    uint32 // the xor byte in each byte
	signed int    // 1: xor is 0x80, inputs are widened as int8 and fix is added (amd64)
	outZP  int32
	lo, hi int32
}

// qdwAsm returns how many channels it computed, from 0.
func qdwAsm(npix int, ptrs []uintptr, xor byte, w *QDWWeights, ep *QEpilogue, out []byte, ldo int) int {
	if ep.Scale == nil {
		return 0 // fixed-point requantization stays in Go
	}
	_ = ep.Bias[w.C-1]
	_ = ep.Scale[w.C-1]
	p := qdwArgs{
		ptrs: &ptrs[0], taps: w.T, npix: npix, c: w.C, cw: w.C, w: &w.W[0], bias: &ep.Bias[0], scale: &ep.Scale[0],
		out: &out[0], ldo: ldo, xor: uint32(xor) * 0x01010101, outZP: ep.OutZP, lo: ep.Lo, hi: ep.Hi,
	}
	if w.packed != nil {
		p.w = &w.packed[0]
	}
	if w.colFix != nil {
		p.fix = &w.colFix[0]
	}
	if xor == 0x80 {
		p.signed = 1
	}
	return qdwKernel(w.isa, &p)
}

// fdwArgs are the operands of the FDepthwise kernels.
type fdwArgs struct {
	ptrs   *uintptr // the address of each tap of each pixel
	taps   int
	npix   int
	c      int      // channels to compute
	w      *float32 // W[t][c] at stride cp
	cp4    int      // cp*4
	bias   *float32 // zeros when there is no bias
	out    *float32
	ldo    int
	lo, hi float32
}

// fdwAsm returns how many channels it computed, from 0.
func fdwAsm(npix int, ptrs []uintptr, w *FDWWeights, bias []float32, lo, hi float32, out []float32, ldo int) int {
	if bias == nil {
		bias = w.zeros
	}
	p := fdwArgs{
		ptrs: &ptrs[0], taps: w.T, npix: npix, c: w.C, w: &w.W[0], cp4: 4 * w.C, bias: &bias[0], out: &out[0], ldo: ldo, lo: lo, hi: hi,
	}
	if w.packed != nil {
		p.w, p.cp4 = &w.packed[0], 4*w.cp
	}
	return fdwKernel(w.isa, &p)
}

// gatherTaps copies n bytes from each tap address of npix pixels to dst,
// the taps of a pixel one after the other, pixels at stride ldd bytes.
//
//go:noescape
func gatherTaps(dst unsafe.Pointer, ldd int, ptrs *uintptr, taps, npix, n int)

func gatherAsm(dst unsafe.Pointer, ldd int, ptrs []uintptr, taps, npix, n int) bool {
	gatherTaps(dst, ldd, &ptrs[0], taps, npix, n)
	return true
}

// qaddU8 computes n (a multiple of 16) elements of QAdd with uint8 inputs,
// qaddI8 with int8 ones: AVX2 on amd64, NEON on arm64.
//
//go:noescape
func qaddU8(out, a, b *byte, n int, p *QAddParams)

//go:noescape
func qaddI8(out, a, b *byte, n int, p *QAddParams)

// qaddAsm computes the leading multiple of 16 elements of QAdd and returns
// how many it did.
func qaddAsm(out, a, b []byte, p *QAddParams, signed bool) int {
	n := len(out) &^ 15
	if n == 0 {
		return 0
	}
	if signed {
		qaddI8(&out[0], &a[0], &b[0], n, p)
	} else {
		qaddU8(&out[0], &a[0], &b[0], n, p)
	}
	return n
}
