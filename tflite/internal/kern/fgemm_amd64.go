//go:build !purego

package kern

import "unsafe"

// fgemmArgs are the operands of the assembly FGemm kernels for m rows; the
// kernels read the fields at the offsets go_asm.h gives.
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
}

// fgemmAVX512 computes m rows with panels of 16 columns, in groups of up
// to 4 panels laid out by packF32 (16, 4).
//
//go:noescape
func fgemmAVX512(p *fgemmArgs)

// fgemmAVX2 computes m rows with panels of 8 columns, in groups of up to 2
// panels laid out by packF32 (8, 2).
//
//go:noescape
func fgemmAVX2(p *fgemmArgs)

func packF(f *FWeights) {
	switch level {
	case isaAVX512:
		f.packed = packF32(f, 16, 4)
	case isaAVX2:
		f.packed = packF32(f, 8, 2)
	default:
		return
	}
	f.zeros = make([]float32, f.N)
	f.isa = level
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
	if w.isa == isaAVX2 {
		fgemmAVX2(&p)
	} else {
		fgemmAVX512(&p)
	}
	return true
}
