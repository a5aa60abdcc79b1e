package kern

import "unsafe"

// Taps say where the taps (filter positions) of a run of output pixels of
// a convolution read: in one input or, for taps in the padding, one padding
// vector, c channels each. They are checked once and turned into the
// addresses the assembly kernels follow.
type Taps struct {
	t, c      int
	offs      []int32
	qin, qpad []byte    // the input and padding of quantized taps
	fin, fpad []float32 // or of float ones
	// ptrs holds the address each tap reads, then the padding's. The
	// slices above keep what they point to alive, and Go does not move
	// heap memory.
	ptrs []uintptr
}

// NewQTaps takes the t tap offsets of each of len(offs)/t output pixels of
// a quantized convolution: offs[p*t+i] is where tap i of pixel p reads c
// values of in, or -1 for a tap in the padding, which reads pad. It keeps
// offs, in and pad, whose addresses must not change.
func NewQTaps(t, c int, offs []int32, in, pad []byte) *Taps {
	d := &Taps{t: t, c: c, offs: offs, qin: in, qpad: pad}
	d.ptrs = tapAddrs(t, c, offs, len(in), len(pad), unsafe.Pointer(unsafe.SliceData(in)), unsafe.Pointer(unsafe.SliceData(pad)), 1)
	return d
}

// NewFTaps is NewQTaps for float convolutions.
func NewFTaps(t, c int, offs []int32, in, pad []float32) *Taps {
	d := &Taps{t: t, c: c, offs: offs, fin: in, fpad: pad}
	d.ptrs = tapAddrs(t, c, offs, len(in), len(pad), unsafe.Pointer(unsafe.SliceData(in)), unsafe.Pointer(unsafe.SliceData(pad)), 4)
	return d
}

// tapAddrs checks the offsets and returns the address of each tap, then
// the padding's; size is the bytes of a value.
func tapAddrs(t, c int, offs []int32, n, npad int, in, pad unsafe.Pointer, size uintptr) []uintptr {
	if t < 1 || c < 1 || len(offs)%t != 0 {
		panic("kern: tap offsets are not a whole number of pixels")
	}
	if npad < c {
		panic("kern: padding shorter than a pixel")
	}
	ptrs := make([]uintptr, len(offs)+1)
	for i, off := range offs {
		switch {
		case off == -1:
			ptrs[i] = uintptr(pad)
		case off < 0 || int(off) > n-c:
			panic("kern: tap offset outside the input")
		default:
			ptrs[i] = uintptr(in) + uintptr(off)*size
		}
	}
	ptrs[len(offs)] = uintptr(pad)
	return ptrs
}

// check panics unless the taps have t taps of c channels and pixels
// [p0, p0+npix).
func (d *Taps) check(p0, npix, t, c int) {
	if d.t != t || d.c != c {
		panic("kern: taps and weights disagree on taps or channels")
	}
	if p0 < 0 || npix < 0 || (p0+npix)*t > len(d.offs) {
		panic("kern: pixels out of range of the taps")
	}
}

// Im2colQ copies, for output pixels p0 to p0+npix-1 of quantized taps, the
// values the pixel's taps read (c per tap, in tap order) into a row of dst
// at stride ldd: the rows of A for a convolution as a matrix product.
func Im2colQ(p0, npix int, taps *Taps, dst []byte, ldd int) {
	if taps.qpad == nil {
		panic("kern: float taps for a quantized convolution")
	}
	im2col(p0, npix, taps, dst, ldd, taps.qin, taps.qpad)
}

// Im2colF is Im2colQ for float convolutions.
func Im2colF(p0, npix int, taps *Taps, dst []float32, ldd int) {
	if taps.fpad == nil {
		panic("kern: quantized taps for a float convolution")
	}
	im2col(p0, npix, taps, dst, ldd, taps.fin, taps.fpad)
}

// im2col is Im2colQ and Im2colF; in and pad are the taps' own.
func im2col[E byte | float32](p0, npix int, taps *Taps, dst []E, ldd int, in, pad []E) {
	if npix == 0 {
		return
	}
	t, c := taps.t, taps.c
	_ = dst[(npix-1)*ldd+t*c-1]
	taps.check(p0, npix, t, c)
	size := int(unsafe.Sizeof(dst[0]))
	if level != isaGo && gatherAsm(unsafe.Pointer(&dst[0]), size*ldd, taps.ptrs[p0*t:], t, npix, size*c) {
		return
	}
	for p := 0; p < npix; p++ {
		for i, off := range taps.offs[(p0+p)*t : (p0+p+1)*t] {
			src := pad[:c]
			if off >= 0 {
				src = in[off : int(off)+c]
			}
			copy(dst[p*ldd+i*c:], src)
		}
	}
}
