//go:build !purego

package kern

import "unsafe"

// qgemmArgs are the operands of the assembly QGemm kernels for m rows; the
// kernels read the fields at the offsets go_asm.h gives.
type qgemmArgs struct {
	a       *byte // row 0 of A
	lda     int
	m       int // rows, at least 1
	kp      int // bytes of each row to multiply, a positive multiple of 4
	b       unsafe.Pointer
	n       int
	bias    *int32
	scale   *float32
	rowTerm *int32 // m row terms (RowSumMul times the row sum)
	out     *byte
	ldo     int
	xor     uint32 // the xor byte in each byte
	outZP   int32
	lo, hi  int32
}

// qgemmAVX512 computes m rows with VNNI: panels of 16 columns, in groups of
// up to 4 panels laid out by packQ8 (4).
//
//go:noescape
func qgemmAVX512(p *qgemmArgs)

// qgemmAVX2 computes m rows with vpmaddwd: panels of 8 columns, in groups
// of up to 2 panels laid out by packQ16 (8, 2).
//
//go:noescape
func qgemmAVX2(p *qgemmArgs)

// rowSumsAVX512 stores mul times the sum of the k bytes XOR xor of each of
// m rows at stride lda into dst[0:m].
//
//go:noescape
func rowSumsAVX512(a *byte, lda, m, k int, xor uint32, mul int32, dst *int32)

//go:noescape
func rowSumsAVX2(a *byte, lda, m, k int, xor uint32, mul int32, dst *int32)

func packQ(q *QWeights) {
	switch level {
	case isaAVX512:
		q.packed = packQ8(q, 16, 4)
	case isaAVX2:
		q.packed16 = packQ16(q, 8, 2)
	default:
		return
	}
	q.isa = level
}

// qRowBlock is how many rows the assembly kernels take per call: the row
// terms of a block live on the stack. A multiple of both kernels' row tiles.
const qRowBlock = 240

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
	kernel, rowSums := qgemmAVX512, rowSumsAVX512
	p.b = unsafe.Pointer(unsafe.SliceData(w.packed))
	if w.isa == isaAVX2 {
		kernel, rowSums = qgemmAVX2, rowSumsAVX2
		p.b = unsafe.Pointer(unsafe.SliceData(w.packed16))
	}
	for m0 := 0; m0 < m; m0 += qRowBlock {
		p.m = min(qRowBlock, m-m0)
		p.a, p.out = &a[m0*lda], &out[m0*ldo]
		if ep.RowSumMul != 0 {
			rowSums(p.a, lda, p.m, w.K, p.xor, ep.RowSumMul, &rt[0])
		}
		kernel(&p)
	}
	return true
}
