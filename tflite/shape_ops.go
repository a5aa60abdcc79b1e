package tflite

import (
	"fmt"
	"slices"
)

// copyKernel copies bytes unchanged (RESHAPE, SQUEEZE).
type copyKernel struct{ in, out []byte }

func (k *copyKernel) eval() { copy(k.out, k.in) }

// prepareReshape handles RESHAPE and SQUEEZE: the data is unchanged, so only
// the element count and type must agree with the declared output.
func prepareReshape(c *opContext) (kernel, error) {
	if err := c.arity(1, 2, 1); err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	if in.def.Type != out.def.Type {
		return nil, fmt.Errorf("input type %s differs from output type %s", in.def.Type, out.def.Type)
	}
	if in.n != out.n {
		return nil, fmt.Errorf("input shape %v and output shape %v hold different numbers of elements", in.def.Shape, out.def.Shape)
	}
	if isQuant(in) {
		if err := sameQuant(in, out); err != nil {
			return nil, err
		}
	}
	return &copyKernel{in: in.data, out: out.data}, nil
}

// sameQuant checks that two 8-bit tensors share scale and zero point.
func sameQuant(a, b *Tensor) error {
	qa, err := perTensor(a)
	if err != nil {
		return err
	}
	qb, err := perTensor(b)
	if err != nil {
		return err
	}
	if qa != qb {
		return fmt.Errorf("tensors %q and %q must share quantization (%v vs %v)", a.def.Name, b.def.Name, qa, qb)
	}
	return nil
}

// constInts reads a constant int32 or int64 input as ints.
func constInts(c *opContext, i int, what string) ([]int, error) {
	t, err := c.constInput(i, what)
	if err != nil {
		return nil, err
	}
	var out []int
	switch t.def.Type {
	case Int32:
		for _, v := range t.Int32s() {
			out = append(out, int(v))
		}
	case Int64:
		for _, v := range t.Int64s() {
			if v < -1<<31 || v > 1<<31-1 {
				return nil, fmt.Errorf("%s value %d is out of range", what, v)
			}
			out = append(out, int(v))
		}
	default:
		return nil, fmt.Errorf("%s has type %s, want int32 or int64", what, t.def.Type)
	}
	return out, nil
}

// gather copies elements: out[i] = in[src[i]] (or pad when src[i] < 0), for
// elements of size bytes. PAD, TRANSPOSE, STRIDED_SLICE and CONCATENATION
// all reduce to an index map computed once at prepare time.
type gather struct {
	in, out []byte
	src     []int32
	size    int
	pad     []byte
}

func (k *gather) eval() {
	s := k.size
	for i, from := range k.src {
		if from < 0 {
			copy(k.out[i*s:(i+1)*s], k.pad)
		} else {
			copy(k.out[i*s:(i+1)*s], k.in[int(from)*s:int(from+1)*s])
		}
	}
}

// elementIndex walks every index of shape in row-major order.
func elementIndex(shape []int, f func(idx []int)) {
	idx := make([]int, len(shape))
	n, _ := elementCount(shape)
	for i := int64(0); i < n; i++ {
		f(idx)
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

func offset(idx, st []int) int {
	o := 0
	for i, v := range idx {
		o += v * st[i]
	}
	return o
}

func preparePad(c *opContext) (kernel, error) {
	if err := c.arity(2, 3, 1); err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	if in.def.Type != out.def.Type || in.def.Type.Size() == 0 {
		return nil, fmt.Errorf("input type %s and output type %s must match", in.def.Type, out.def.Type)
	}
	pads, err := constInts(c, 1, "paddings")
	if err != nil {
		return nil, err
	}
	rank := len(in.def.Shape)
	if len(pads) != 2*rank {
		return nil, fmt.Errorf("paddings has %d values, want %d for rank %d", len(pads), 2*rank, rank)
	}
	shape := make([]int, rank)
	for i := range shape {
		if pads[2*i] < 0 || pads[2*i+1] < 0 {
			return nil, fmt.Errorf("negative padding %v", pads)
		}
		shape[i] = in.def.Shape[i] + pads[2*i] + pads[2*i+1]
	}
	if err := checkShape(out, shape); err != nil {
		return nil, err
	}
	k := &gather{in: in.data, out: out.data, size: in.def.Type.Size(), pad: make([]byte, in.def.Type.Size())}
	if isQuant(in) {
		if err := sameQuant(in, out); err != nil {
			return nil, err
		}
		q, _ := perTensor(out)
		k.pad[0] = byte(q.zp)
	}
	if v := c.in(2); v != nil {
		if !c.isConst(v) || v.def.Type != in.def.Type || v.n != 1 {
			return nil, fmt.Errorf("constant value must be a constant scalar of type %s", in.def.Type)
		}
		if isQuant(v) {
			if err := sameQuant(v, out); err != nil {
				return nil, err
			}
		}
		copy(k.pad, v.data)
	}
	if err := c.reserve(4 * int64(out.n)); err != nil {
		return nil, err
	}
	ist := strides(in.def.Shape)
	k.src = make([]int32, 0, out.n)
	elementIndex(shape, func(idx []int) {
		from := 0
		for d, v := range idx {
			v -= pads[2*d]
			if v < 0 || v >= in.def.Shape[d] {
				k.src = append(k.src, -1)
				return
			}
			from += v * ist[d]
		}
		k.src = append(k.src, int32(from))
	})
	return k, nil
}

func prepareTranspose(c *opContext) (kernel, error) {
	if err := c.arity(2, 2, 1); err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	if in.def.Type != out.def.Type || in.def.Type.Size() == 0 {
		return nil, fmt.Errorf("input type %s and output type %s must match", in.def.Type, out.def.Type)
	}
	perm, err := constInts(c, 1, "permutation")
	if err != nil {
		return nil, err
	}
	rank := len(in.def.Shape)
	sorted := slices.Clone(perm)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != i || len(perm) != rank {
			return nil, fmt.Errorf("permutation %v is not a permutation of %d axes", perm, rank)
		}
	}
	shape := make([]int, rank)
	for i, p := range perm {
		shape[i] = in.def.Shape[p]
	}
	if err := checkShape(out, shape); err != nil {
		return nil, err
	}
	if isQuant(in) {
		if err := sameQuant(in, out); err != nil {
			return nil, err
		}
	}
	if err := c.reserve(4 * int64(out.n)); err != nil {
		return nil, err
	}
	ist := strides(in.def.Shape)
	k := &gather{in: in.data, out: out.data, size: in.def.Type.Size(), src: make([]int32, 0, out.n)}
	elementIndex(shape, func(idx []int) {
		from := 0
		for i, p := range perm {
			from += idx[i] * ist[p]
		}
		k.src = append(k.src, int32(from))
	})
	return k, nil
}

func prepareStridedSlice(c *opContext) (kernel, error) {
	if err := c.arity(4, 4, 1); err != nil {
		return nil, err
	}
	o, err := options[StridedSliceOptions](c, true)
	if err != nil {
		return nil, err
	}
	if o.EllipsisMask != 0 || o.NewAxisMask != 0 {
		return nil, fmt.Errorf("ellipsis and new-axis masks are not supported")
	}
	in, out := c.in(0), c.out(0)
	if in.def.Type != out.def.Type || in.def.Type.Size() == 0 {
		return nil, fmt.Errorf("input type %s and output type %s must match", in.def.Type, out.def.Type)
	}
	begin, err := constInts(c, 1, "begin")
	if err != nil {
		return nil, err
	}
	end, err := constInts(c, 2, "end")
	if err != nil {
		return nil, err
	}
	stride, err := constInts(c, 3, "strides")
	if err != nil {
		return nil, err
	}
	rank := len(in.def.Shape)
	if len(begin) != rank || len(end) != rank || len(stride) != rank {
		return nil, fmt.Errorf("begin, end and strides need %d values each", rank)
	}
	starts := make([]int, rank)
	counts := make([]int, rank)
	var shape []int
	for d := 0; d < rank; d++ {
		dim, s := in.def.Shape[d], stride[d]
		if s == 0 {
			return nil, fmt.Errorf("stride of axis %d is 0", d)
		}
		b, e := begin[d], end[d]
		if o.Offset {
			e += b
		}
		b = sliceIndex(b, dim, s, o.BeginMask&(1<<d) != 0, true)
		e = sliceIndex(e, dim, s, o.EndMask&(1<<d) != 0, false)
		if o.ShrinkAxisMask&(1<<d) != 0 {
			b = begin[d]
			if b < 0 {
				b += dim
			}
			if b < 0 || b >= dim {
				return nil, fmt.Errorf("shrunk axis %d index %d is out of range", d, begin[d])
			}
			e, s = b+1, 1
		}
		n := 0
		if s > 0 && e > b {
			n = (e - b + s - 1) / s
		} else if s < 0 && b > e {
			n = (b - e - s - 1) / -s
		}
		starts[d], counts[d], stride[d] = b, n, s
		if o.ShrinkAxisMask&(1<<d) == 0 {
			shape = append(shape, n)
		}
	}
	if err := checkShape(out, shape); err != nil {
		return nil, err
	}
	if isQuant(in) {
		if err := sameQuant(in, out); err != nil {
			return nil, err
		}
	}
	if err := c.reserve(4 * int64(out.n)); err != nil {
		return nil, err
	}
	ist := strides(in.def.Shape)
	k := &gather{in: in.data, out: out.data, size: in.def.Type.Size(), src: make([]int32, 0, out.n)}
	elementIndex(counts, func(idx []int) {
		from := 0
		for d, v := range idx {
			from += (starts[d] + v*stride[d]) * ist[d]
		}
		k.src = append(k.src, int32(from))
	})
	return k, nil
}

// sliceIndex resolves a begin or end index of STRIDED_SLICE: negative values
// count from the end, masks take the full range, and values are clamped.
func sliceIndex(v, dim, stride int, masked, isBegin bool) int {
	if masked {
		switch {
		case isBegin && stride > 0:
			return 0
		case isBegin:
			return dim - 1
		case stride > 0:
			return dim
		}
		return -1
	}
	if v < 0 {
		v += dim
	}
	if stride > 0 {
		return min(max(v, 0), dim)
	}
	return min(max(v, -1), dim-1)
}

func prepareConcat(c *opContext) (kernel, error) {
	if len(c.op.Inputs) < 1 || len(c.op.Outputs) != 1 {
		return nil, fmt.Errorf("needs at least one input and one output")
	}
	o, err := options[ConcatenationOptions](c, false)
	if err != nil {
		return nil, err
	}
	if o.Activation != ActNone {
		return nil, fmt.Errorf("fused activation %s is not supported", o.Activation)
	}
	out := c.out(0)
	rank := len(out.def.Shape)
	axis := o.Axis
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		return nil, fmt.Errorf("axis %d is out of range for rank %d", o.Axis, rank)
	}
	shape := slices.Clone(out.def.Shape)
	shape[axis] = 0
	k := &concat{out: out.data, size: out.def.Type.Size()}
	outer := 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	inner := 1
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	k.outer = outer
	for i := range c.op.Inputs {
		in := c.in(i)
		if in == nil {
			return nil, fmt.Errorf("input %d is omitted", i)
		}
		if in.def.Type != out.def.Type || in.def.Type.Size() == 0 {
			return nil, fmt.Errorf("input %d has type %s, output %s", i, in.def.Type, out.def.Type)
		}
		if len(in.def.Shape) != rank {
			return nil, fmt.Errorf("input %d has rank %d, want %d", i, len(in.def.Shape), rank)
		}
		for d := range rank {
			if d != axis && in.def.Shape[d] != out.def.Shape[d] {
				return nil, fmt.Errorf("input %d shape %v does not match output %v off axis %d", i, in.def.Shape, out.def.Shape, axis)
			}
		}
		shape[axis] += in.def.Shape[axis]
		part := concatPart{data: in.data, row: in.def.Shape[axis] * inner * k.size}
		if isQuant(in) {
			qi, err := perTensor(in)
			if err != nil {
				return nil, err
			}
			qo, err := perTensor(out)
			if err != nil {
				return nil, err
			}
			if qi != qo {
				// Rescale in float, as TFLite's reference does.
				part.table = new([256]byte)
				s := float32(qi.scale / qo.scale)
				lo, hi := qrange(out.def.Type)
				for v := lo; v <= hi; v++ {
					q := int32(roundHalfAway(float32(v)*s-float32(qi.zp)*s)) + qo.zp
					part.table[byte(v)] = byte(clamp32(q, lo, hi))
				}
			}
		}
		k.parts = append(k.parts, part)
	}
	if err := checkShape(out, shape); err != nil {
		return nil, err
	}
	return k, nil
}

type concatPart struct {
	data  []byte
	row   int        // bytes per outer index
	table *[256]byte // requantization, nil when the input's is the output's
}

// concat is a prepared CONCATENATION.
type concat struct {
	out   []byte
	size  int
	outer int
	parts []concatPart
}

func (k *concat) eval() {
	o := 0
	for r := 0; r < k.outer; r++ {
		for i := range k.parts {
			p := &k.parts[i]
			src := p.data[r*p.row : (r+1)*p.row]
			dst := k.out[o : o+p.row]
			if p.table != nil {
				for j, v := range src {
					dst[j] = p.table[v]
				}
			} else {
				copy(dst, src)
			}
			o += p.row
		}
	}
}
