//go:build !purego

package kern

import "golang.org/x/sys/cpu"

func detectLevels() []isa {
	l := []isa{isaGo, isaNEON}
	if cpu.ARM64.HasASIMDDP {
		l = append(l, isaDot)
	}
	return l
}

// qgemmDot computes m rows with SDOT: panels of 16 columns laid out by
// packQ8 (16, 1), rows XORed with p.xor to make them int8 (a-128), and
// colFix = 128 times each column's sum to make up for it.
//
//go:noescape
func qgemmDot(p *qgemmArgs)

// qgemmNEON computes m rows with SMLAL: panels of 16 columns laid out by
// packQ16 (16, 1, 1).
//
//go:noescape
func qgemmNEON(p *qgemmArgs)

// rowSumsNEON stores mul times the sum of the k bytes XOR xor of each of m
// rows at stride lda into dst[0:m].
//
//go:noescape
func rowSumsNEON(a *byte, lda, m, k int, xor uint32, mul int32, dst *int32)

func packQ(q *QWeights) {
	switch level {
	case isaDot:
		q.packed = packQ8(q, 16, 1)
		q.colFix = make([]int32, q.N)
		for n := range q.colFix {
			for _, b := range q.rows[n*q.Kp : (n+1)*q.Kp] {
				q.colFix[n] += 128 * int32(b)
			}
		}
	case isaNEON:
		q.packed16 = packQ16(q, 16, 1, 1)
		q.colFix = make([]int32, q.N) // zeros: SMLAL widens rows exactly
	default:
		return
	}
	q.isa = level
}

func qgemmKernel(l isa, p *qgemmArgs) {
	if l == isaDot {
		p.xor ^= 0x80808080
		qgemmDot(p)
		p.xor ^= 0x80808080
		return
	}
	qgemmNEON(p)
}

func rowSums(_ isa, a *byte, lda, m, k int, xor uint32, mul int32, dst *int32) {
	rowSumsNEON(a, lda, m, k, xor, mul, dst)
}

// fgemmNEON computes m rows with FMLA: panels of 16 columns laid out by
// packF32 (16, 1).
//
//go:noescape
func fgemmNEON(p *fgemmArgs)

func packF(f *FWeights) {
	if level != isaNEON && level != isaDot {
		return
	}
	f.packed = packF32(f, 16, 1)
	f.zeros = make([]float32, f.N)
	f.isa = level
}

func fgemmKernel(_ isa, p *fgemmArgs) { fgemmNEON(p) }

// qdwNEON computes channels [0, c) of npix pixels, c a multiple of 8, with
// the weights W[t][c] in order at stride cw.
//
//go:noescape
func qdwNEON(p *qdwArgs)

func packQDW(q *QDWWeights) {
	if level == isaNEON || level == isaDot {
		q.isa = level
	}
}

func qdwKernel(_ isa, p *qdwArgs) int {
	p.c &^= 7
	if p.c > 0 {
		qdwNEON(p)
	}
	return p.c
}

// fdwNEON computes channels [0, c) of npix pixels, c a multiple of 4, with
// the weights W[t][c] in order at stride cp4/4.
//
//go:noescape
func fdwNEON(p *fdwArgs)

func packFDW(f *FDWWeights) {
	if level == isaNEON || level == isaDot {
		f.zeros = make([]float32, f.C)
		f.isa = level
	}
}

func fdwKernel(_ isa, p *fdwArgs) int {
	p.c &^= 3
	if p.c > 0 {
		fdwNEON(p)
	}
	return p.c
}
