package tflite

import (
	"fmt"
	"math"
	"slices"

	"github.com/edgeclass/edgeclass/tflite/internal/kern"
)

// broadcast walks the output of a binary operator as rows of its last
// dimension, giving the start of the matching row of each input and the
// step along it (1, or 0 when that input is broadcast along the row).
type broadcast struct {
	outer      int   // number of rows
	inner      int   // row length
	dims       []int // output dimensions except the last
	s1, s2     []int // input strides for those dimensions (0 when broadcast)
	step1, st2 int
}

// broadcastShape computes the output shape of two broadcast-compatible
// shapes (numpy rules) and the walk over it.
func newBroadcast(a, b []int) ([]int, *broadcast, error) {
	if slices.Equal(a, b) {
		n, _ := elementCount(a)
		return slices.Clone(a), &broadcast{outer: 1, inner: int(n), step1: 1, st2: 1}, nil
	}
	rank := max(len(a), len(b), 1)
	if rank > 6 {
		return nil, nil, fmt.Errorf("broadcasting shapes of rank %d is not supported", rank)
	}
	pa, pb := padShape(a, rank), padShape(b, rank)
	out := make([]int, rank)
	for i := range out {
		switch {
		case pa[i] == pb[i]:
			out[i] = pa[i]
		case pa[i] == 1:
			out[i] = pb[i]
		case pb[i] == 1:
			out[i] = pa[i]
		default:
			return nil, nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	w := &broadcast{inner: out[rank-1], dims: out[:rank-1], outer: 1}
	sa, sb := strides(pa), strides(pb)
	for i := 0; i < rank-1; i++ {
		w.outer *= out[i]
		w.s1 = append(w.s1, bstride(pa[i], sa[i]))
		w.s2 = append(w.s2, bstride(pb[i], sb[i]))
	}
	w.step1, w.st2 = bstride(pa[rank-1], 1), bstride(pb[rank-1], 1)
	return out, w, nil
}

func padShape(s []int, rank int) []int {
	p := make([]int, rank)
	for i := range p {
		p[i] = 1
	}
	copy(p[rank-len(s):], s)
	return p
}

func strides(s []int) []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

func bstride(dim, stride int) int {
	if dim == 1 {
		return 0
	}
	return stride
}

// row returns the input offsets of output row r.
func (w *broadcast) row(r int) (o1, o2 int) {
	for i := len(w.dims) - 1; i >= 0; i-- {
		d := r % w.dims[i]
		r /= w.dims[i]
		o1 += d * w.s1[i]
		o2 += d * w.s2[i]
	}
	return o1, o2
}

// binaryOp is a prepared ADD, SUB, MUL, MAXIMUM or MINIMUM.
type binaryOp struct {
	op   BuiltinOp
	walk *broadcast
	pool *pool

	a, b, out []float32
	lo, hi    float32

	qa, qb, qout []byte
	signed       bool
	q            binaryQuant
}

// binaryQuant holds the integer parameters of quantized ADD, SUB and MUL.
//
// ADD and SUB follow XNNPACK (Google's default CPU path): each input is
// scaled by an integer multiplier with 20 significant bits and the sum is
// shifted right once, rounding half up. MUL scales the product of the
// centred inputs by a float32 scale and rounds to nearest even.
type binaryQuant struct {
	kern.QAddParams         // ADD/SUB (Mul2 negative for SUB); OutZP, Lo and Hi for all
	zp1, zp2        int32   // MUL
	scale           float32 // MUL
}

// addParams computes XNNPACK's ADD parameters for input/output scale
// ratios s1 and s2; ok is false outside the range XNNPACK accepts.
func addParams(s1, s2 float32, zp1, zp2 int32) (mul1, mul2, bias, shift int32, ok bool) {
	a1, a2 := float32(math.Abs(float64(s1))), float32(math.Abs(float64(s2)))
	m := max(a1, a2)
	if min(a1, a2) < 1.0/1024 || m >= 256 {
		return 0, 0, 0, 0, false
	}
	shift = 20 - (int32(math.Float32bits(m)>>23) - 127)
	scaled := func(s float32) int32 {
		return int32(math.RoundToEven(float64(s) * float64(int64(1)<<shift)))
	}
	mul1, mul2 = scaled(s1), scaled(s2)
	bias = 1<<(shift-1) - mul1*zp1 - mul2*zp2
	return mul1, mul2, bias, shift, true
}

func prepareBinary(c *opContext) (kernel, error) {
	if err := c.arity(2, 2, 1); err != nil {
		return nil, err
	}
	in1, in2, out := c.in(0), c.in(1), c.out(0)
	if err := checkTypes(floatOrQuant, in1, in2, out); err != nil {
		return nil, err
	}
	shape, walk, err := newBroadcast(in1.def.Shape, in2.def.Shape)
	if err != nil {
		return nil, err
	}
	if err := checkShape(out, shape); err != nil {
		return nil, err
	}
	act := ActNone
	switch c.op.Op {
	case OpAdd, OpSub, OpMul:
		o, err := options[ActivationOptions](c, true)
		if err != nil {
			return nil, err
		}
		act = o.Activation
	}
	k := &binaryOp{op: c.op.Op, walk: walk, pool: c.pool()}
	if in1.def.Type == Float32 {
		k.a, k.b, k.out = in1.Float32s(), in2.Float32s(), out.Float32s()
		k.lo, k.hi, err = activationRangeFloat(act)
		return k, err
	}
	k.qa, k.qb, k.qout, k.signed = in1.data, in2.data, out.data, in1.def.Type == Int8
	q1, err := perTensor(in1)
	if err != nil {
		return nil, err
	}
	q2, err := perTensor(in2)
	if err != nil {
		return nil, err
	}
	qo, err := perTensor(out)
	if err != nil {
		return nil, err
	}
	p := &k.q
	p.zp1, p.zp2, p.OutZP = q1.zp, q2.zp, qo.zp
	if p.Lo, p.Hi, err = activationRangeQuantized(act, out.def.Type, qo); err != nil {
		return nil, err
	}
	switch c.op.Op {
	case OpAdd, OpSub:
		s1 := float32(q1.scale) / float32(qo.scale)
		s2 := float32(q2.scale) / float32(qo.scale)
		if c.op.Op == OpSub {
			s2 = -s2
		}
		var ok bool
		if p.Mul1, p.Mul2, p.Bias, p.Shift, ok = addParams(s1, s2, q1.zp, q2.zp); !ok {
			return nil, fmt.Errorf("input/output scale ratios %g and %g are outside [2^-10, 2^8)", s1, s2)
		}
	case OpMul:
		p.scale = float32(q1.scale) * float32(q2.scale) / float32(qo.scale)
	case OpMaximum, OpMinimum:
		if q1 != qo || q2 != qo {
			return nil, fmt.Errorf("%s needs equal quantization on inputs and output", c.op.Op)
		}
	}
	return k, nil
}

func (k *binaryOp) eval() {
	w := k.walk
	if k.fastAdd() {
		k.pool.parallel(w.inner, 4096, k)
		return
	}
	for r := 0; r < w.outer; r++ {
		o1, o2 := 0, 0
		if w.outer > 1 {
			o1, o2 = w.row(r)
		}
		o := r * w.inner
		if k.out != nil {
			k.rowFloat(k.out[o:o+w.inner], o1, o2)
		} else {
			k.rowQuant(k.qout[o:o+w.inner], o1, o2)
		}
	}
}

// fastAdd reports whether this is a quantized ADD or SUB of two tensors of
// one shape: the residual connections of MobileNets, worth a tight loop
// split across threads.
func (k *binaryOp) fastAdd() bool {
	return k.qout != nil && (k.op == OpAdd || k.op == OpSub) && k.walk.outer == 1 && k.walk.step1 == 1 && k.walk.st2 == 1
}

// run computes elements [lo, hi) of a fastAdd.
func (k *binaryOp) run(lo, hi, _ int) {
	kern.QAdd(k.qout[lo:hi], k.qa[lo:hi], k.qb[lo:hi], &k.q.QAddParams, k.signed)
}

func (k *binaryOp) rowFloat(out []float32, o1, o2 int) {
	s1, s2 := k.walk.step1, k.walk.st2
	for j := range out {
		x, y := k.a[o1+j*s1], k.b[o2+j*s2]
		var v float32
		switch k.op {
		case OpAdd:
			v = x + y
		case OpSub:
			v = x - y
		case OpMul:
			v = x * y
		case OpMaximum:
			v = max(x, y)
		case OpMinimum:
			v = min(x, y)
		}
		out[j] = clampf(v, k.lo, k.hi)
	}
}

func (k *binaryOp) rowQuant(out []byte, o1, o2 int) {
	s1, s2 := k.walk.step1, k.walk.st2
	p := &k.q
	for j := range out {
		x, y := int32(k.qa[o1+j*s1]), int32(k.qb[o2+j*s2])
		if k.signed {
			x, y = int32(int8(x)), int32(int8(y))
		}
		var v int32
		switch k.op {
		case OpAdd, OpSub:
			v = p.One(x, y)
		case OpMul:
			v = clamp32(kern.RoundEven(float32((x-p.zp1)*(y-p.zp2))*p.scale)+p.OutZP, p.Lo, p.Hi)
		case OpMaximum:
			v = max(x, y)
		case OpMinimum:
			v = min(x, y)
		}
		out[j] = byte(v)
	}
}
