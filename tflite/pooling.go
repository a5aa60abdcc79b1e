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

// poolBlock is how many channels one piece of pooling work covers: the
// accumulators fit in registers and stack, and a global pool (one output
// pixel) still splits across threads.
const poolBlock = 64

func (k *pool2D) blocks() int { return (k.g.inC + poolBlock - 1) / poolBlock }

func (k *pool2D) eval() {
	k.pool.parallel(k.g.batch*k.g.outH*k.g.outW*k.blocks(), 1, k)
}

// run pools output pixels and channel blocks [lo, hi), summing or taking
// the maximum over the window one contiguous channel vector at a time.
func (k *pool2D) run(lo, hi, _ int) {
	g := &k.g
	nb := k.blocks()
	for i := lo; i < hi; i++ {
		px, blk := i/nb, i%nb
		r, ox := px/g.outW, px%g.outW
		b, oy := r/g.outH, r%g.outH
		y0 := max(0, oy*g.sh-g.padT)
		y1 := min(g.inH, oy*g.sh-g.padT+g.kh)
		x0 := max(0, ox*g.sw-g.padL)
		x1 := min(g.inW, ox*g.sw-g.padL+g.kw)
		c0 := blk * poolBlock
		n := min(g.inC, c0+poolBlock) - c0
		w := window{first: ((b*g.inH+y0)*g.inW+x0)*g.inC + c0, rows: y1 - y0, cols: x1 - x0,
			rowStride: g.inW * g.inC, colStride: g.inC, n: n}
		o := px*g.inC + c0
		if k.inF != nil {
			k.poolFloat(w, k.outF[o:o+n])
		} else {
			k.poolQuant(w, k.out[o:o+n])
		}
	}
}

// window locates the channel vectors of one pooling window in the input.
type window struct {
	first, rows, cols, rowStride, colStride, n int
}

func (k *pool2D) poolFloat(w window, dst []float32) {
	var acc [poolBlock]float32
	a := acc[:w.n]
	if !k.average {
		for j := range a {
			a[j] = float32(-3.4028234663852886e38)
		}
	}
	for y := 0; y < w.rows; y++ {
		for x := 0; x < w.cols; x++ {
			off := w.first + y*w.rowStride + x*w.colStride
			src := k.inF[off : off+w.n]
			if k.average {
				for j, v := range src {
					a[j] += v
				}
			} else {
				for j, v := range src {
					a[j] = max(a[j], v)
				}
			}
		}
	}
	count := float32(w.rows * w.cols)
	for j, v := range a {
		if k.average && count > 0 {
			v /= count
		}
		dst[j] = clampf(v, k.lo, k.hi)
	}
}

func (k *pool2D) poolQuant(w window, dst []byte) {
	var acc [poolBlock]int32
	a := acc[:w.n]
	if !k.average {
		for j := range a {
			a[j] = -1 << 31
		}
	}
	for y := 0; y < w.rows; y++ {
		for x := 0; x < w.cols; x++ {
			off := w.first + y*w.rowStride + x*w.colStride
			src := k.in[off : off+w.n]
			switch {
			case k.average && k.signed:
				for j, v := range src {
					a[j] += int32(int8(v))
				}
			case k.average:
				for j, v := range src {
					a[j] += int32(v)
				}
			case k.signed:
				for j, v := range src {
					a[j] = max(a[j], int32(int8(v)))
				}
			default:
				for j, v := range src {
					a[j] = max(a[j], int32(v))
				}
			}
		}
	}
	count := int32(w.rows * w.cols)
	for j, v := range a {
		if k.average && count > 0 {
			// Round half away from zero, as TFLite's reference kernels do.
			if v >= 0 {
				v = (v + count/2) / count
			} else {
				v = (v - count/2) / count
			}
		}
		dst[j] = byte(clamp32(v, k.qlo, k.qhi))
	}
}
