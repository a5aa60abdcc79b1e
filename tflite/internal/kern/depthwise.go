package kern

// DWTaps describe where the taps of a run of output pixels read, checked
// once so kernels can trust them.
type DWTaps struct {
	t    int
	offs []int32
	max  int // largest offset
}

// NewDWTaps takes the t tap offsets of each of len(offs)/t output pixels:
// offs[p*t+t'] is where tap t' of pixel p reads in the input, or -1 when
// the tap falls in the padding. It keeps offs, which must not change.
func NewDWTaps(t int, offs []int32) *DWTaps {
	if t < 1 || len(offs)%t != 0 {
		panic("kern: tap offsets are not a whole number of pixels")
	}
	d := &DWTaps{t: t, offs: offs, max: -1}
	for _, off := range offs {
		if off < -1 {
			panic("kern: negative tap offset")
		}
		d.max = max(d.max, int(off))
	}
	return d
}

// check panics unless pixels [p0, p0+npix) exist and read inside an input
// of n values with c channels per tap.
func (d *DWTaps) check(p0, npix, t, c, n int) {
	if d.t != t {
		panic("kern: taps and weights disagree on the number of taps")
	}
	if p0 < 0 || npix < 0 || (p0+npix)*t > len(d.offs) {
		panic("kern: pixels out of range of the taps")
	}
	if d.max+c > n {
		panic("kern: taps read past the input")
	}
}

// QDWWeights are depthwise weights W[t][c] for C channels, with the weight
// zero point already subtracted (so they fit int16), packed once for the
// kernels of this CPU.
type QDWWeights struct {
	C, T int
	W    []int16
	// isa is the level the weights were packed for; packed and colFix
	// hold its layout (see packQDW), or are nil for isaGo.
	isa    isa
	packed []int16
	colFix []int32
}

// PackQDW packs depthwise weights w[t][c] (t < taps, c < channels).
func PackQDW(w []int16, c, taps int) *QDWWeights {
	q := &QDWWeights{C: c, T: taps, W: append([]int16(nil), w[:c*taps]...)}
	if level != isaGo && c > 0 && taps > 0 {
		packQDW(q)
	}
	return q
}

// QDepthwise computes output pixels p0 to p0+npix-1 of taps, of a
// depthwise convolution with depth multiplier 1, into out[0:]:
//
//	acc = Bias[c] + sum_t a(p,t,c)*W[t][c]
//	out[(p-p0)*ldo+c] = ep.Output(acc, c)
//
// where a(p,t,c) = in[off(p,t)+c] XOR xor read as unsigned, or pad[c] XOR
// xor for a padded tap. ep.RowSumMul is ignored.
func QDepthwise(p0, npix int, in []byte, taps *DWTaps, pad []byte, xor byte, w *QDWWeights, ep *QEpilogue, out []byte, ldo int) {
	if npix == 0 {
		return
	}
	_ = out[(npix-1)*ldo+w.C-1]
	_ = pad[w.C-1]
	taps.check(p0, npix, w.T, w.C, len(in))
	offs := taps.offs[p0*w.T : (p0+npix)*w.T]
	done := 0
	if w.isa != isaGo {
		done = qdwAsm(npix, in, offs, pad, xor, w, ep, out, ldo)
	}
	if done < w.C {
		qdwGo(npix, in, offs, pad, xor, w, ep, out, ldo, done)
	}
}

// qdwGo computes channels [from, C).
func qdwGo(npix int, in []byte, offs []int32, pad []byte, xor byte, w *QDWWeights, ep *QEpilogue, out []byte, ldo, from int) {
	const block = 64
	var acc [block]int32
	for p := 0; p < npix; p++ {
		for c0 := from; c0 < w.C; c0 += block {
			n := min(block, w.C-c0)
			a := acc[:n]
			copy(a, ep.Bias[c0:c0+n])
			for t := 0; t < w.T; t++ {
				src := pad[c0 : c0+n]
				if off := int(offs[p*w.T+t]); off >= 0 {
					src = in[off+c0 : off+c0+n]
				}
				wt := w.W[t*w.C+c0 : t*w.C+c0+n]
				for i, v := range src {
					a[i] += int32(v^xor) * int32(wt[i])
				}
			}
			o := out[p*ldo+c0 : p*ldo+c0+n]
			for i, v := range a {
				o[i] = ep.Output(v, c0+i)
			}
		}
	}
}

// FDWWeights are float depthwise weights W[t][c] for C channels, packed
// once for the kernels of this CPU.
type FDWWeights struct {
	C, T int
	W    []float32
	// isa is the level the weights were packed for; packed holds W[t][c]
	// at stride cp (see packFDW), or is nil for isaGo.
	isa    isa
	packed []float32
	cp     int
	zeros  []float32 // the bias of convolutions without one
}

// PackFDW packs float depthwise weights w[t][c] (t < taps, c < channels).
func PackFDW(w []float32, c, taps int) *FDWWeights {
	f := &FDWWeights{C: c, T: taps, W: append([]float32(nil), w[:c*taps]...)}
	if level != isaGo && c > 0 && taps > 0 {
		packFDW(f)
	}
	return f
}

// FDepthwise computes output pixels p0 to p0+npix-1 of taps, of a float
// depthwise convolution with depth multiplier 1, into out[0:]:
//
//	out[(p-p0)*ldo+c] = min(max(bias[c] + sum_t a(p,t,c)*W[t][c], lo), hi)
//
// where a(p,t,c) = in[off(p,t)+c], or pad[c] (zeros, normally) for a padded
// tap. bias may be nil. Sums may be evaluated in any order (and fused), so
// results agree with the portable version to rounding, not bit for bit.
func FDepthwise(p0, npix int, in []float32, taps *DWTaps, pad []float32, w *FDWWeights, bias []float32, lo, hi float32, out []float32, ldo int) {
	if npix == 0 {
		return
	}
	_ = out[(npix-1)*ldo+w.C-1]
	_ = pad[w.C-1]
	if bias != nil {
		_ = bias[w.C-1]
	}
	taps.check(p0, npix, w.T, w.C, len(in))
	offs := taps.offs[p0*w.T : (p0+npix)*w.T]
	done := 0
	if w.isa != isaGo {
		done = fdwAsm(npix, in, offs, pad, w, bias, lo, hi, out, ldo)
	}
	if done < w.C {
		fdwGo(npix, in, offs, pad, w, bias, lo, hi, out, ldo, done)
	}
}

// fdwGo computes channels [from, C).
func fdwGo(npix int, in []float32, offs []int32, pad []float32, w *FDWWeights, bias []float32, lo, hi float32, out []float32, ldo, from int) {
	c := w.C
	for p := 0; p < npix; p++ {
		o := out[p*ldo+from : p*ldo+c]
		if bias != nil {
			copy(o, bias[from:c])
		} else {
			clear(o)
		}
		for t := 0; t < w.T; t++ {
			src := pad[from:c]
			if off := int(offs[p*w.T+t]); off >= 0 {
				src = in[off+from : off+c]
			}
			wt := w.W[t*c+from : t*c+c]
			for i, v := range src {
				o[i] += v * wt[i]
			}
		}
		for i, v := range o {
			o[i] = min(max(v, lo), hi)
		}
	}
}
