package kern

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

// QDepthwise computes output pixels p0 to p0+npix-1 of quantized taps, of
// a depthwise convolution with depth multiplier 1, into out[0:]:
//
//	acc = Bias[c] + sum_t a(p,t,c)*W[t][c]
//	out[(p-p0)*ldo+c] = ep.Output(acc, c)
//
// where a(p,t,c) = in[off(p,t)+c] XOR xor read as unsigned, or pad[c] XOR
// xor for a padded tap. ep.RowSumMul is ignored.
func QDepthwise(p0, npix int, taps *Taps, xor byte, w *QDWWeights, ep *QEpilogue, out []byte, ldo int) {
	if npix == 0 {
		return
	}
	_ = out[(npix-1)*ldo+w.C-1]
	taps.check(p0, npix, w.T, w.C)
	if taps.qpad == nil {
		panic("kern: float taps for a quantized convolution")
	}
	done := 0
	if w.isa != isaGo {
		done = qdwAsm(npix, taps.ptrs[p0*w.T:], xor, w, ep, out, ldo)
	}
	if done < w.C {
		qdwGo(npix, taps.qin, taps.offs[p0*w.T:], taps.qpad, xor, w, ep, out, ldo, done)
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

// FDepthwise computes output pixels p0 to p0+npix-1 of float taps, of a
// depthwise convolution with depth multiplier 1, into out[0:]:
//
//	out[(p-p0)*ldo+c] = min(max(bias[c] + sum_t a(p,t,c)*W[t][c], lo), hi)
//
// where a(p,t,c) = in[off(p,t)+c], or pad[c] (zeros, normally) for a padded
// tap. bias may be nil. Sums may be evaluated in any order (and fused), so
// results agree with the portable version to rounding, not bit for bit.
func FDepthwise(p0, npix int, taps *Taps, w *FDWWeights, bias []float32, lo, hi float32, out []float32, ldo int) {
	if npix == 0 {
		return
	}
	_ = out[(npix-1)*ldo+w.C-1]
	if bias != nil {
		_ = bias[w.C-1]
	}
	taps.check(p0, npix, w.T, w.C)
	if taps.fpad == nil {
		panic("kern: quantized taps for a float convolution")
	}
	done := 0
	if w.isa != isaGo {
		done = fdwAsm(npix, taps.ptrs[p0*w.T:], w, bias, lo, hi, out, ldo)
	}
	if done < w.C {
		fdwGo(npix, taps.fin, taps.offs[p0*w.T:], taps.fpad, w, bias, lo, hi, out, ldo, done)
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
