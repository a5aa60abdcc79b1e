package tflite

import (
	"fmt"
	"math"
)

// resize is a prepared RESIZE_BILINEAR or RESIZE_NEAREST_NEIGHBOR. The
// source coordinates of every output row and column are computed once.
type resize struct {
	batch, inH, inW, c, outH, outW int
	bilinear                       bool
	ys, xs                         []axisSample
	in, out                        []float32
	qin, qout                      []byte
	signed                         bool
}

// axisSample is where one output coordinate reads: between i0 and i1 with
// weight frac on i1 (bilinear), or at i0 (nearest).
type axisSample struct {
	i0, i1 int
	frac   float32
}

func prepareResize(c *opContext) (kernel, error) {
	if err := c.arity(2, 2, 1); err != nil {
		return nil, err
	}
	o, err := options[ResizeOptions](c, true)
	if err != nil {
		return nil, err
	}
	if o.AlignCorners && o.HalfPixelCenters {
		return nil, fmt.Errorf("align_corners and half_pixel_centers cannot both be set")
	}
	in, out := c.in(0), c.out(0)
	if err := checkTypes(floatOrQuant, in, out); err != nil {
		return nil, err
	}
	b, h, w, ch, err := rank4(in)
	if err != nil {
		return nil, err
	}
	size, err := constInts(c, 1, "size")
	if err != nil {
		return nil, err
	}
	if len(size) != 2 || size[0] < 1 || size[1] < 1 {
		return nil, fmt.Errorf("size %v must be two positive values", size)
	}
	if err := checkShape(out, []int{b, size[0], size[1], ch}); err != nil {
		return nil, err
	}
	if isQuant(in) {
		if err := sameQuant(in, out); err != nil {
			return nil, err
		}
	}
	k := &resize{batch: b, inH: h, inW: w, c: ch, outH: size[0], outW: size[1], bilinear: c.op.Op == OpResizeBilinear}
	k.ys = axisSamples(h, k.outH, o, k.bilinear)
	k.xs = axisSamples(w, k.outW, o, k.bilinear)
	if in.def.Type == Float32 {
		k.in, k.out = in.Float32s(), out.Float32s()
	} else {
		k.qin, k.qout, k.signed = in.data, out.data, in.def.Type == Int8
	}
	return k, nil
}

// axisSamples follows TFLite's reference coordinate mapping for both modes.
func axisSamples(in, out int, o *ResizeOptions, bilinear bool) []axisSample {
	scale := float32(in) / float32(out)
	if o.AlignCorners && out > 1 {
		scale = float32(in-1) / float32(out-1)
	}
	s := make([]axisSample, out)
	for i := range s {
		if !bilinear {
			v := float32(i) * scale
			if o.HalfPixelCenters {
				v = (float32(i) + 0.5) * scale
			}
			var idx int
			if o.AlignCorners {
				idx = int(roundHalfAway(v))
			} else {
				idx = int(math.Floor(float64(v)))
			}
			s[i] = axisSample{i0: min(idx, in-1)}
			continue
		}
		v := float32(i) * scale
		if o.HalfPixelCenters {
			v = (float32(i)+0.5)*scale - 0.5
		}
		i0 := max(int(math.Floor(float64(v))), 0)
		i1 := min(int(math.Ceil(float64(v))), in-1)
		s[i] = axisSample{i0: i0, i1: i1, frac: v - float32(i0)}
	}
	return s
}

func (k *resize) eval() {
	for b := 0; b < k.batch; b++ {
		for y, sy := range k.ys {
			for x, sx := range k.xs {
				o := ((b*k.outH+y)*k.outW + x) * k.c
				p00 := ((b*k.inH+sy.i0)*k.inW + sx.i0) * k.c
				if !k.bilinear {
					if k.in != nil {
						copy(k.out[o:o+k.c], k.in[p00:p00+k.c])
					} else {
						copy(k.qout[o:o+k.c], k.qin[p00:p00+k.c])
					}
					continue
				}
				p01 := ((b*k.inH+sy.i0)*k.inW + sx.i1) * k.c
				p10 := ((b*k.inH+sy.i1)*k.inW + sx.i0) * k.c
				p11 := ((b*k.inH+sy.i1)*k.inW + sx.i1) * k.c
				fy, fx := sy.frac, sx.frac
				for ch := 0; ch < k.c; ch++ {
					v := func(p int) float32 {
						if k.in != nil {
							return k.in[p+ch]
						}
						if k.signed {
							return float32(int8(k.qin[p+ch]))
						}
						return float32(k.qin[p+ch])
					}
					r := v(p00)*(1-fy)*(1-fx) + v(p10)*fy*(1-fx) + v(p01)*(1-fy)*fx + v(p11)*fy*fx
					if k.in != nil {
						k.out[o+ch] = r
					} else {
						// Integer outputs add 0.5 and truncate, as the reference does.
						lo, hi := int32(0), int32(255)
						if k.signed {
							lo, hi = -128, 127
						}
						k.qout[o+ch] = byte(clamp32(int32(r+0.5), lo, hi))
					}
				}
			}
		}
	}
}

// l2norm is a prepared L2_NORMALIZATION over the last dimension.
type l2norm struct {
	rows, n   int
	in, out   []float32
	qin, qout []byte
	signed    bool
	inZP      int32
	outQ      qparams
	lo, hi    int32
}

func prepareL2Norm(c *opContext) (kernel, error) {
	if err := c.arity(1, 1, 1); err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	if err := checkTypes(floatOrQuant, in, out); err != nil {
		return nil, err
	}
	if err := checkShape(out, in.def.Shape); err != nil {
		return nil, err
	}
	if len(in.def.Shape) == 0 || in.def.Shape[len(in.def.Shape)-1] == 0 {
		return nil, fmt.Errorf("input shape %v has no last dimension", in.def.Shape)
	}
	k := &l2norm{n: in.def.Shape[len(in.def.Shape)-1]}
	k.rows = in.n / k.n
	if in.def.Type == Float32 {
		k.in, k.out = in.Float32s(), out.Float32s()
		return k, nil
	}
	inQ, err := perTensor(in)
	if err != nil {
		return nil, err
	}
	if k.outQ, err = perTensor(out); err != nil {
		return nil, err
	}
	k.qin, k.qout, k.signed, k.inZP = in.data, out.data, in.def.Type == Int8, inQ.zp
	k.lo, k.hi = qrange(out.def.Type)
	return k, nil
}

func (k *l2norm) eval() {
	for r := 0; r < k.rows; r++ {
		if k.in != nil {
			row, o := k.in[r*k.n:(r+1)*k.n], k.out[r*k.n:(r+1)*k.n]
			var ss float64
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			inv := float32(1 / math.Sqrt(max(ss, 1e-6)))
			for i, v := range row {
				o[i] = v * inv
			}
			continue
		}
		row, o := k.qin[r*k.n:(r+1)*k.n], k.qout[r*k.n:(r+1)*k.n]
		val := func(b byte) float64 {
			if k.signed {
				return float64(int32(int8(b)) - k.inZP)
			}
			return float64(int32(b) - k.inZP)
		}
		var ss float64
		for _, b := range row {
			ss += val(b) * val(b)
		}
		inv := 1 / math.Sqrt(max(ss, 1))
		for i, b := range row {
			q := int32(math.Round(val(b)*inv/k.outQ.scale)) + k.outQ.zp
			o[i] = byte(clamp32(q, k.lo, k.hi))
		}
	}
}
