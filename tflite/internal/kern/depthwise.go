package kern

// DWTaps describes where the T taps of each output pixel read: offs[p*T+t]
// is the offset of tap t of pixel p in the input, or -1 when the tap falls
// in the padding.
type DWTaps struct {
	T    int
	Offs []int32
}

// QDWWeights are depthwise weights W[t][c] for C channels, with the weight
// zero point already subtracted (so they fit int16).
type QDWWeights struct {
	C, T int
	W    []int16
}

// QDepthwise computes npix output pixels of a depthwise convolution with
// depth multiplier 1:
//
//	acc = Bias[c] + sum_t a(p,t,c)*W[t][c]
//	out[p*ldo+c] = clamp(Requantize(acc, Mult[c], Shift[c]) + OutZP, Lo, Hi)
//
// where a(p,t,c) = in[offs+c] XOR xor read as unsigned, or pad[c] XOR xor
// for a padded tap. ep.RowSumMul is ignored.
func QDepthwise(npix int, in []byte, taps *DWTaps, pad []byte, xor byte, w *QDWWeights, ep *QEpilogue, out []byte, ldo int) {
	if npix == 0 {
		return
	}
	_ = out[(npix-1)*ldo+w.C-1]
	_ = taps.Offs[npix*w.T-1]
	_ = pad[w.C-1]
	if qdwAsm(npix, in, taps, pad, xor, w, ep, out, ldo) {
		return
	}
	qdwGo(npix, in, taps, pad, xor, w, ep, out, ldo)
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

// FDepthwise computes npix output pixels of a float depthwise convolution
// with depth multiplier 1:
//
//	out[p*ldo+c] = clamp(bias[c] + sum_t in[offs+c]*W[t][c], lo, hi)
//
// skipping padded taps. bias may be nil.
func FDepthwise(npix int, in []float32, taps *DWTaps, w []float32, c int, bias []float32, lo, hi float32, out []float32, ldo int) {
	if npix == 0 {
		return
	}
	_ = out[(npix-1)*ldo+c-1]
	_ = taps.Offs[npix*taps.T-1]
	if fdwAsm(npix, in, taps, w, c, bias, lo, hi, out, ldo) {
		return
	}
	fdwGo(npix, in, taps, w, c, bias, lo, hi, out, ldo)
}

func fdwGo(npix int, in []float32, taps *DWTaps, w []float32, c int, bias []float32, lo, hi float32, out []float32, ldo int) {
	for p := 0; p < npix; p++ {
		o := out[p*ldo : p*ldo+c]
		if bias != nil {
			copy(o, bias[:c])
		} else {
			clear(o)
		}
		for t := 0; t < taps.T; t++ {
			off := taps.Offs[p*taps.T+t]
			if off < 0 {
				continue
			}
			src := in[off : int(off)+c]
			wt := w[t*c : t*c+c]
			for i, v := range src {
				o[i] += v * wt[i]
			}
		}
		for i, v := range o {
			if v < lo {
				o[i] = lo
			} else if v > hi {
				o[i] = hi
			}
		}
	}
}
