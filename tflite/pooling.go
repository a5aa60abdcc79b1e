package tflite

import "fmt"

// pool2D is a prepared AVERAGE_POOL_2D or MAX_POOL_2D.
type pool2D struct {
	g       convGeom
	average bool
	pool    *pool

	inF, outF []float32
	lo, hi    float32

	in, out []byte
	signed  bool
	qlo     int32
	qhi     int32
}

func preparePool(c *opContext) (kernel, error) {
	if err := c.arity(1, 1, 1); err != nil {
		return nil, err
	}
	o, err := options[Pool2DOptions](c, false)
	if err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	g, err := newConvGeom(in, o.FilterH, o.FilterW, o.StrideH, o.StrideW, 1, 1, o.Padding)
	if err != nil {
		return nil, err
	}
	g.outC = g.inC
	if err := checkShape(out, []int{g.batch, g.outH, g.outW, g.inC}); err != nil {
		return nil, err
	}
	if err := checkTypes(floatOrQuant, in, out); err != nil {
		return nil, err
	}
	k := &pool2D{g: g, average: c.op.Op == OpAveragePool2D, pool: c.pool()}
	if in.def.Type == Float32 {
		k.inF, k.outF = in.Float32s(), out.Float32s()
		k.lo, k.hi, err = activationRangeFloat(o.Activation)
		return k, err
	}
	inQ, outQ, err := inOutQuant(in, out)
	if err != nil {
		return nil, err
	}
	if inQ != outQ {
		return nil, fmt.Errorf("input and output quantization differ (%v, %v); pooling does not rescale", inQ, outQ)
	}
	k.in, k.out, k.signed = in.data, out.data, in.def.Type == Int8
	k.qlo, k.qhi, err = activationRangeQuantized(o.Activation, out.def.Type, outQ)
	return k, err
}

func (k *pool2D) eval() { k.pool.parallel(k.g.batch*k.g.outH, 1, k) }

func (k *pool2D) run(lo, hi, _ int) {
	g := &k.g
	c := g.inC
	for r := lo; r < hi; r++ {
		b, oy := r/g.outH, r%g.outH
		y0 := max(0, oy*g.sh-g.padT)
		y1 := min(g.inH, oy*g.sh-g.padT+g.kh)
		for ox := 0; ox < g.outW; ox++ {
			x0 := max(0, ox*g.sw-g.padL)
			x1 := min(g.inW, ox*g.sw-g.padL+g.kw)
			count := int32((y1 - y0) * (x1 - x0))
			o := (r*g.outW + ox) * c
			for ch := 0; ch < c; ch++ {
				if k.inF != nil {
					k.outF[o+ch] = k.poolFloat(b, ch, y0, y1, x0, x1, count)
				} else {
					k.out[o+ch] = k.poolQuant(b, ch, y0, y1, x0, x1, count)
				}
			}
		}
	}
}

func (k *pool2D) poolFloat(b, ch, y0, y1, x0, x1 int, count int32) float32 {
	g := &k.g
	var acc float32
	if !k.average {
		acc = float32(-3.4028234663852886e38)
	}
	for y := y0; y < y1; y++ {
		row := ((b*g.inH+y)*g.inW)*g.inC + ch
		for x := x0; x < x1; x++ {
			v := k.inF[row+x*g.inC]
			if k.average {
				acc += v
			} else if v > acc {
				acc = v
			}
		}
	}
	if k.average && count > 0 {
		acc /= float32(count)
	}
	return clampf(acc, k.lo, k.hi)
}

func (k *pool2D) poolQuant(b, ch, y0, y1, x0, x1 int, count int32) byte {
	g := &k.g
	var acc int32
	if !k.average {
		acc = -1 << 31
	}
	for y := y0; y < y1; y++ {
		row := ((b*g.inH+y)*g.inW)*g.inC + ch
		for x := x0; x < x1; x++ {
			v := int32(k.in[row+x*g.inC])
			if k.signed {
				v = int32(int8(v))
			}
			if k.average {
				acc += v
			} else if v > acc {
				acc = v
			}
		}
	}
	if k.average && count > 0 {
		// Round half away from zero, as TFLite's reference kernels do.
		if acc >= 0 {
			acc = (acc + count/2) / count
		} else {
			acc = (acc - count/2) / count
		}
	}
	return byte(clamp32(acc, k.qlo, k.qhi))
}
