//go:build !purego

package kern

import "golang.org/x/sys/cpu"

func detectLevels() []isa {
	l := []isa{isaGo}
	x := &cpu.X86
	if x.HasAVX2 && x.HasFMA && x.HasBMI2 {
		l = append(l, isaAVX2)
		if x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI {
			l = append(l, isaAVX512)
		}
	}
	return l
}

// qgemmAVX512 computes m rows with VNNI: panels of 16 columns, in groups of
// up to 4 panels laid out by packQ8 (16, 4).
//
//go:noescape
func qgemmAVX512(p *qgemmArgs)

// qgemmAVX2 computes m rows with vpmaddwd: panels of 8 columns, in groups
// of up to 2 panels laid out by packQ16 (8, 2, 2).
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
		q.packed16 = packQ16(q, 8, 2, 2)
	default:
		return
	}
	q.isa = level
}

func qgemmKernel(l isa, p *qgemmArgs) {
	if l == isaAVX2 {
		qgemmAVX2(p)
	} else {
		qgemmAVX512(p)
	}
}

func rowSums(l isa, a *byte, lda, m, k int, xor uint32, mul int32, dst *int32) {
	if l == isaAVX2 {
		rowSumsAVX2(a, lda, m, k, xor, mul, dst)
	} else {
		rowSumsAVX512(a, lda, m, k, xor, mul, dst)
	}
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

func fgemmKernel(l isa, p *fgemmArgs) {
	if l == isaAVX2 {
		fgemmAVX2(p)
	} else {
		fgemmAVX512(p)
	}
}

// qdwAVX512 computes npix pixels in blocks of 32 channels laid out by
// packQDWPairs (pairLane).
//
//go:noescape
func qdwAVX512(p *qdwArgs)

// qdwAVX2 computes channels [0, c) of npix pixels, c a multiple of 8: in
// blocks of 16 channels laid out by packQDWPairs (pairLane), then one of 8
// channels in order.
//
//go:noescape
func qdwAVX2(p *qdwArgs)

// pairLane is the channel of dword lane d of the low (h=0) or high (h=1)
// result of vpunpck{l,h}wd on channels widened to words.
func pairLane(d, h int) int { return 8*(d/4) + 4*h + d%4 }

// inOrder is the channel of dword lane d of vector h of 8 channels in order.
func inOrder(d, h int) int { return 4*h + d }

func packQDW(q *QDWWeights) {
	switch level {
	case isaAVX512:
		q.packed = packQDWPairs(q, 0, q.C, 32, pairLane)
	case isaAVX2:
		c16, c8 := q.C&^15, q.C&^7
		if c8 == 0 {
			return
		}
		q.packed = append(packQDWPairs(q, 0, c16, 16, pairLane), packQDWPairs(q, c16, c8, 8, inOrder)...)
	default:
		return
	}
	// The kernels widen int8 inputs (xor 0x80) as signed: a^0x80 is
	// int8(a)+128, so they add 128 times the sum of the weights.
	q.colFix = make([]int32, q.C)
	for t := 0; t < q.T; t++ {
		for c := range q.colFix {
			q.colFix[c] += 128 * int32(q.W[t*q.C+c])
		}
	}
	q.isa = level
}

func qdwKernel(l isa, p *qdwArgs) int {
	b := byte(p.xor)
	if b != 0 && b != 0x80 {
		return 0
	}
	if l == isaAVX2 {
		p.c &^= 7
		qdwAVX2(p)
		return p.c
	}
	qdwAVX512(p)
	return p.c
}

// fdwAVX512 computes npix pixels in blocks of 16 channels.
//
//go:noescape
func fdwAVX512(p *fdwArgs)

// fdwAVX2 computes npix pixels in blocks of 8 channels.
//
//go:noescape
func fdwAVX2(p *fdwArgs)

func packFDW(f *FDWWeights) {
	switch level {
	case isaAVX512:
		f.cp = (f.C + 15) &^ 15
	case isaAVX2:
		f.cp = (f.C + 7) &^ 7
	default:
		return
	}
	f.packed = make([]float32, f.T*f.cp)
	for t := 0; t < f.T; t++ {
		copy(f.packed[t*f.cp:], f.W[t*f.C:(t+1)*f.C])
	}
	f.zeros = make([]float32, f.C)
	f.isa = level
}

func fdwKernel(l isa, p *fdwArgs) int {
	if l == isaAVX2 {
		fdwAVX2(p)
	} else {
		fdwAVX512(p)
	}
	return p.c
}
