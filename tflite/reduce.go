package tflite

import (
	"fmt"
	"math"
)

// reduction describes reducing a tensor over some axes as rows: the output
// element o collects the input elements at offsets base[o] + span[j].
type reduction struct {
	base []int32
	span []int32
}

// newReduction resolves axes (negative counting from the end, repeats
// allowed), checks that out has the reduced shape and returns the index
// sets.
func newReduction(c *opContext, shape, axes []int, keepDims bool, out *Tensor) (*reduction, error) {
	rank := len(shape)
	reduced := make([]bool, rank)
	for _, a := range axes {
		if a < 0 {
			a += rank
		}
		if a < 0 || a >= rank {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", a, rank)
		}
		reduced[a] = true
	}
	var outShape, keptDims, redDims []int
	for d, r := range reduced {
		if r {
			redDims = append(redDims, shape[d])
			if keepDims {
				outShape = append(outShape, 1)
			}
		} else {
			keptDims = append(keptDims, shape[d])
			outShape = append(outShape, shape[d])
		}
	}
	if err := checkShape(out, outShape); err != nil {
		return nil, err
	}
	red := &reduction{}
	if out.n == 0 {
		return red, nil // nothing to compute
	}
	st := strides(shape)
	pick := func(want bool) []int {
		var s []int
		for d, r := range reduced {
			if r == want {
				s = append(s, st[d])
			}
		}
		return s
	}
	keptSt, redSt := pick(false), pick(true)
	n, _ := elementCount(shape)
	if n > 1<<28 {
		return nil, fmt.Errorf("input of %d elements is too large to reduce", n)
	}
	if err := c.reserve(4 * (int64(out.n) + n/int64(out.n))); err != nil {
		return nil, err
	}
	elementIndex(keptDims, func(idx []int) { red.base = append(red.base, int32(offset(idx, keptSt))) })
	elementIndex(redDims, func(idx []int) { red.span = append(red.span, int32(offset(idx, redSt))) })
	return red, nil
}

// mean is a prepared MEAN.
type mean struct {
	red     *reduction
	in, out []float32

	qin, qout []byte
	signed    bool
	scale     float32
	bias      float32
	lo, hi    float32
}

func prepareMean(c *opContext) (kernel, error) {
	if err := c.arity(2, 2, 1); err != nil {
		return nil, err
	}
	o, err := options[ReducerOptions](c, true)
	if err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	if err := checkTypes(floatOrQuant, in, out); err != nil {
		return nil, err
	}
	axes, err := constInts(c, 1, "axes")
	if err != nil {
		return nil, err
	}
	red, err := newReduction(c, in.def.Shape, axes, o.KeepDims, out)
	if err != nil {
		return nil, err
	}
	k := &mean{red: red}
	if in.def.Type == Float32 {
		k.in, k.out = in.Float32s(), out.Float32s()
		return k, nil
	}
	inQ, outQ, err := inOutQuant(in, out)
	if err != nil {
		return nil, err
	}
	k.qin, k.qout, k.signed = in.data, out.data, in.def.Type == Int8
	lo, hi := qrange(out.def.Type)
	k.lo, k.hi = float32(lo), float32(hi)
	n := float32(max(1, len(red.span)))
	k.scale = float32(inQ.scale / outQ.scale / float64(n))
	k.bias = float32(outQ.zp) - float32(float32(float32(inQ.zp)*n)*k.scale)
	return k, nil
}

// eval averages. Quantized means follow XNNPACK, which runs MEAN in
// Google's runtime: the integer sum of the inputs times one float32 scale
// that includes the division by the count, plus a float32 bias that holds
// both zero points, rounded to nearest even.
func (k *mean) eval() {
	for o, b := range k.red.base {
		if k.in != nil {
			var sum float32
			for _, s := range k.red.span {
				sum += k.in[b+s]
			}
			k.out[o] = sum / float32(len(k.red.span))
			continue
		}
		var sum int32
		for _, s := range k.red.span {
			v := int32(k.qin[b+s])
			if k.signed {
				v = int32(int8(v))
			}
			sum += v
		}
		r := float32(math.RoundToEven(float64(float32(float32(sum)*k.scale) + k.bias)))
		k.qout[o] = byte(int32(clampf(r, k.lo, k.hi)))
	}
}

// argMax is a prepared ARG_MAX over one axis.
type argMax struct {
	red   *reduction
	in    *Tensor
	out32 []int32
	out64 []int64
	vals  func(i int32) float64
}

func prepareArgMax(c *opContext) (kernel, error) {
	if err := c.arity(2, 2, 1); err != nil {
		return nil, err
	}
	o, err := options[ArgMaxOptions](c, true)
	if err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	axis, err := constInts(c, 1, "axis")
	if err != nil {
		return nil, err
	}
	if len(axis) != 1 {
		return nil, fmt.Errorf("axis must hold one value, has %d", len(axis))
	}
	red, err := newReduction(c, in.def.Shape, axis, false, out)
	if err != nil {
		return nil, err
	}
	k := &argMax{red: red, in: in}
	want := o.OutputType
	if c.op.Options == nil {
		want = out.def.Type
	}
	if out.def.Type != want {
		return nil, fmt.Errorf("output type %s differs from the option's %s", out.def.Type, want)
	}
	switch out.def.Type {
	case Int32:
		k.out32 = out.Int32s()
	case Int64:
		k.out64 = out.Int64s()
	default:
		return nil, fmt.Errorf("output type %s is not int32 or int64", out.def.Type)
	}
	switch in.def.Type {
	case Float32:
		f := in.Float32s()
		k.vals = func(i int32) float64 { return float64(f[i]) }
	case Uint8:
		k.vals = func(i int32) float64 { return float64(in.data[i]) }
	case Int8:
		k.vals = func(i int32) float64 { return float64(int8(in.data[i])) }
	case Int32:
		v := in.Int32s()
		k.vals = func(i int32) float64 { return float64(v[i]) }
	default:
		return nil, fmt.Errorf("input type %s is not supported", in.def.Type)
	}
	return k, nil
}

func (k *argMax) eval() {
	for o, b := range k.red.base {
		best, bi := math.Inf(-1), 0
		for j, s := range k.red.span {
			if v := k.vals(b + s); v > best {
				best, bi = v, j
			}
		}
		if k.out32 != nil {
			k.out32[o] = int32(bi)
		} else {
			k.out64[o] = int64(bi)
		}
	}
}
