package kern

// DWTaps describes where the T taps of each output pixel read: offs[p*T+t]
// is the offset of tap t of pixel p in the input, or -1 when the tap falls
// in the padding.
type DWTaps struct {
	T    int
	Offs []int32
}

// QDWWeights are depthwise weights W[t][c] for C channels, with the weight
// zero point already subtracted (so they fit int16), packed once for the
// kernels of this CPU.
type QDWWeights struct {
	C, T int
	W    []int16
	// isa is the level the weights were packed for; packed holds its
	// layout (see packQDW), or is nil for isaGo.
	isa    isa
	packed []int16
}

// PackQDW packs depthwise weights w[t][c] (t < taps, c < channels).
func PackQDW(w []int16, c, taps int) *QDWWeights {
	q := &QDWWeights{C: c, T: taps, W: append([]int16(nil), w[:c*taps]...)}
	if level != isaGo && c > 0 && taps > 0 {
		packQDW(q)
	}
	return q
}

// QDepthwise computes npix output pixels of a depthwise convolution with
// depth multiplier 1:
//
//	acc = Bias[c] + sum_t a(p,t,c)*W[t][c]
//	out[p*ldo+c] = ep.Output(acc, c)
//
// where a(p,t,c) = in[offs+c] XOR xor read as unsigned, or pad[c] XOR xor
// for a padded tap. ep.RowSumMul is ignored.
func QDepthwise(npix int, in []byte, taps *DWTaps, pad []byte, xor byte, w *QDWWeights, ep *QEpilogue, out []byte, ldo int) {
	if npix == 0 {
		return
	}
	_ = out[(npix-1)*ldo+w.C-1]
	_ = pad[w.C-1]
	checkTaps(taps, npix, w.T, len(in)-w.C)
	if w.isa != isaGo && qdwAsm(npix, in, taps, pad, xor, w, ep, out, ldo) {
		return
	}
	qdwGo(npix, in, taps, pad, xor, w, ep, out, ldo)
}

// checkTaps panics unless every tap offset is -1 or in [0, maxOff], so the
// assembly kernels read only inside the input.
func checkTaps(taps *DWTaps, npix, t, maxOff int) {
	if taps.T != t {
		panic("kern: taps and weights disagree on the number of taps")
	}
	for _, off := range taps.Offs[:npix*t] {
		if off < -1 || int(off) > maxOff {
			panic("kern: depthwise tap offset out of range")
		}
	}
}

func qdwGo(npix int, in []byte, taps *DWTaps, pad []byte, xor byte, w *QDWWeights, ep *QEpilogue, out []byte, ldo int) {
	const block = 64
	var acc [block]int32
	for p := 0; p < npix; p++ {
		for c0 := 0; c0 < w.C; c0 += block {
			n := min(block, w.C-c0)
			a := acc[:n]
			copy(a, ep.Bias[c0:c0+n])
			for t := 0; t < w.T; t++ {
				src := pad[c0 : c0+n]
				if off := int(taps.Offs[p*w.T+t]); off >= 0 {
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
	// isa is the level the weights were packed for; packed holds its
	// layout (see packFDW), or is nil for isaGo.
	isa    isa
	packed []float32
}

// PackFDW packs float depthwise weights w[t][c] (t < taps, c < channels).
func PackFDW(w []float32, c, taps int) *FDWWeights {
	f := &FDWWeights{C: c, T: taps, W: append([]float32(nil), w[:c*taps]...)}
	if level != isaGo && c > 0 && taps > 0 {
		packFDW(f)
	}
	return f
}

// FDepthwise computes npix output pixels of a float depthwise convolution
// with depth multiplier 1:
//
//	out[p*ldo+c] = min(max(bias[c] + sum_t a(p,t,c)*W[t][c], lo), hi)
//
// where a(p,t,c) = in[offs+c], or pad[c] (zeros, normally) for a padded tap.
// bias may be nil. Sums may be evaluated in any order (and fused), so
// results agree with the portable version to rounding, not bit for bit.
func FDepthwise(npix int, in []float32, taps *DWTaps, pad []float32, w *FDWWeights, bias []float32, lo, hi float32, out []float32, ldo int) {
	if npix == 0 {
		return
	}
	_ = out[(npix-1)*ldo+w.C-1]
	_ = pad[w.C-1]
	if bias != nil {
		_ = bias[w.C-1]
	}
	checkTaps(taps, npix, w.T, len(in)-w.C)
	if w.isa != isaGo && fdwAsm(npix, in, taps, pad, w, bias, lo, hi, out, ldo) {
		return
	}
	fdwGo(npix, in, taps, pad, w, bias, lo, hi, out, ldo)
}

func fdwGo(npix int, in []float32, taps *DWTaps, pad []float32, w *FDWWeights, bias []float32, lo, hi float32, out []float32, ldo int) {
	c := w.C
	for p := 0; p < npix; p++ {
		o := out[p*ldo : p*ldo+c]
		if bias != nil {
			copy(o, bias[:c])
		} else {
			clear(o)
		}
		for t := 0; t < w.T; t++ {
			src := pad[:c]
			if off := taps.Offs[p*w.T+t]; off >= 0 {
				src = in[off : int(off)+c]
			}
			wt := w.W[t*c : t*c+c]
			for i, v := range src {
				o[i] += v * wt[i]
			}
		}
		for i, v := range o {
			o[i] = min(max(v, lo), hi)
		}
	}
}
