//go:build !purego

package kern

// qdwMaxTaps bounds the taps of the assembly depthwise kernels, which keep
// one pointer per tap on the stack.
const qdwMaxTaps = 49

// qdwArgs are the operands of the assembly QDepthwise kernels; the kernels
// read the fields at the offsets go_asm.h gives.
type qdwArgs struct {
	in     *byte
	offs   *int32
	taps   int
	npix   int
	c      int
	pad    *byte
	w      *int16
	fix    *int32 // colFix, added when signed
	bias   *int32
	scale  *float32
	out    *byte
	ldo    int
	signed int // 1: xor is 0x80, inputs are widened as int8 and fix is added
	outZP  int32
	lo, hi int32
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

// fdwArgs are the operands of the assembly FDepthwise kernels; the kernels
// read the fields at the offsets go_asm.h gives.
type fdwArgs struct {
	in     *float32
	offs   *int32
	taps4  int // taps*4
	taps   int
	npix   int
	c      int
	pad    *float32
	w      *float32 // W[t][c] at stride cp
	cp4    int      // cp*4
	bias   *float32 // zeros when there is no bias
	out    *float32
	ldo    int
	lo, hi float32
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
	if f.T > qdwMaxTaps {
		return
	}
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

func fdwAsm(npix int, in []float32, offs []int32, pad []float32, w *FDWWeights, bias []float32, lo, hi float32, out []float32, ldo int) bool {
	if bias == nil {
		bias = w.zeros
	}
	p := fdwArgs{
		in: &in[0], offs: &offs[0], taps4: 4 * w.T, taps: w.T, npix: npix, c: w.C, pad: &pad[0],
		w: &w.packed[0], cp4: 4 * w.cp, bias: &bias[0], out: &out[0], ldo: ldo, lo: lo, hi: hi,
	}
	if w.isa == isaAVX2 {
		fdwAVX2(&p)
	} else {
		fdwAVX512(&p)
	}
	return true
}

func packQDW(q *QDWWeights) {
	if q.T > qdwMaxTaps {
		return
	}
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
	q.colFix = make([]int32, q.C)
	for t := 0; t < q.T; t++ {
		for c := range q.colFix {
			q.colFix[c] += 128 * int32(q.W[t*q.C+c])
		}
	}
	q.isa = level
}

// pairLane is the channel of dword lane d of the low (h=0) or high (h=1)
// result of vpunpck{l,h}wd on channels widened to words.
func pairLane(d, h int) int { return 8*(d/4) + 4*h + d%4 }

// inOrder is the channel of dword lane d of vector h of 8 channels in order.
func inOrder(d, h int) int { return 4*h + d }

// qdwAsm returns how many channels it computed, from 0.
func qdwAsm(npix int, in []byte, offs []int32, pad []byte, xor byte, w *QDWWeights, ep *QEpilogue, out []byte, ldo int) int {
	if ep.Scale == nil || (xor != 0 && xor != 0x80) {
		return 0
	}
	_ = ep.Bias[w.C-1]
	_ = ep.Scale[w.C-1]
	p := qdwArgs{
		in: &in[0], offs: &offs[0], taps: w.T, npix: npix, c: w.C, pad: &pad[0],
		w: &w.packed[0], fix: &w.colFix[0], bias: &ep.Bias[0], scale: &ep.Scale[0],
		out: &out[0], ldo: ldo, outZP: ep.OutZP, lo: ep.Lo, hi: ep.Hi,
	}
	if xor == 0x80 {
		p.signed = 1
	}
	if w.isa == isaAVX2 {
		p.c = w.C &^ 7
		qdwAVX2(&p)
		return p.c
	}
	qdwAVX512(&p)
	return w.C
}
