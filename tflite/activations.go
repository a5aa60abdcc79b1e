package tflite

import (
	"fmt"
	"math"
)

// unary is a prepared elementwise activation: float through a function,
// 8-bit through a 256-entry table built from the same function (as TFLite's
// optimized kernels do for LOGISTIC and TANH).
type unary struct {
	f        func(float32) float32
	in, out  []float32
	qin      []byte
	qout     []byte
	table    [256]byte
	signed   bool
	quantize bool
}

func prepareUnary(c *opContext) (kernel, error) {
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
	var f func(float32) float32
	switch c.op.Op {
	case OpLogistic:
		f = func(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }
	case OpTanh:
		f = func(x float32) float32 { return float32(math.Tanh(float64(x))) }
	case OpHardSwish:
		f = func(x float32) float32 { return x * min(max(x+3, 0), 6) / 6 }
	case OpRelu:
		f = func(x float32) float32 { return max(x, 0) }
	case OpRelu6:
		f = func(x float32) float32 { return min(max(x, 0), 6) }
	case OpReluN1To1:
		f = func(x float32) float32 { return min(max(x, -1), 1) }
	case OpLeakyRelu:
		o, err := options[LeakyReluOptions](c, false)
		if err != nil {
			return nil, err
		}
		alpha := o.Alpha
		f = func(x float32) float32 {
			if x > 0 {
				return x
			}
			return alpha * x
		}
	default:
		return nil, fmt.Errorf("not an activation")
	}
	k := &unary{f: f}
	if in.def.Type == Float32 {
		k.in, k.out = in.Float32s(), out.Float32s()
		return k, nil
	}
	inQ, err := perTensor(in)
	if err != nil {
		return nil, err
	}
	outQ, err := perTensor(out)
	if err != nil {
		return nil, err
	}
	k.quantize, k.qin, k.qout, k.signed = true, in.data, out.data, in.def.Type == Int8
	k.table = lookupTable(in.def.Type, inQ, outQ, f)
	return k, nil
}

// lookupTable maps every 8-bit input to f's quantized output, indexed by
// the input's byte (PopulateLookupTable of TFLite).
func lookupTable(t TensorType, inQ, outQ qparams, f func(float32) float32) [256]byte {
	var table [256]byte
	lo, hi := qrange(t)
	inv := 1 / float32(outQ.scale)
	for v := lo; v <= hi; v++ {
		x := float32(inQ.scale) * float32(v-inQ.zp)
		q := int32(roundHalfAway(f(x)*inv)) + outQ.zp
		table[byte(v)] = byte(clamp32(q, lo, hi))
	}
	return table
}

func (k *unary) eval() {
	if k.quantize {
		for i, v := range k.qin {
			k.qout[i] = k.table[v]
		}
		return
	}
	for i, v := range k.in {
		k.out[i] = k.f(v)
	}
}

// softmax is a prepared SOFTMAX over the last dimension.
type softmax struct {
	rows, n int
	beta    float32
	in, out []float32

	qin, qout []byte
	signed    bool
	table     [256]float32 // exp(-scale*beta*d) for d = max - x
	outScale  float32
	outZP     int32
	outLo     int32
	outHi     int32
}

func prepareSoftmax(c *opContext) (kernel, error) {
	if err := c.arity(1, 1, 1); err != nil {
		return nil, err
	}
	o, err := options[SoftmaxOptions](c, false)
	if err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	if err := checkTypes(floatOrQuant, in, out); err != nil {
		return nil, err
	}
	if err := checkShape(out, in.def.Shape); err != nil {
		return nil, err
	}
	if len(in.def.Shape) == 0 {
		return nil, fmt.Errorf("input is a scalar")
	}
	n := in.def.Shape[len(in.def.Shape)-1]
	k := &softmax{n: n, beta: o.Beta}
	if n > 0 {
		k.rows = in.n / n
	}
	if in.def.Type == Float32 {
		k.in, k.out = in.Float32s(), out.Float32s()
		return k, nil
	}
	inQ, err := perTensor(in)
	if err != nil {
		return nil, err
	}
	outQ, err := perTensor(out)
	if err != nil {
		return nil, err
	}
	k.qin, k.qout, k.signed = in.data, out.data, in.def.Type == Int8
	scale := -float32(inQ.scale) * o.Beta
	for d := range k.table {
		k.table[d] = float32(math.Exp(float64(scale * float32(d))))
	}
	k.outScale, k.outZP = float32(outQ.scale), outQ.zp
	k.outLo, k.outHi = qrange(out.def.Type)
	return k, nil
}

func (k *softmax) eval() {
	for r := 0; r < k.rows; r++ {
		if k.in != nil {
			k.rowFloat(k.in[r*k.n:(r+1)*k.n], k.out[r*k.n:(r+1)*k.n])
		} else {
			k.rowQuant(k.qin[r*k.n:(r+1)*k.n], k.qout[r*k.n:(r+1)*k.n])
		}
	}
}

func (k *softmax) rowFloat(in, out []float32) {
	m := in[0]
	for _, v := range in {
		m = max(m, v)
	}
	var sum float32
	for i, v := range in {
		e := float32(math.Exp(float64((v - m) * k.beta)))
		out[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range out {
		out[i] *= inv
	}
}

// rowQuant follows TFLite's table-driven 8-bit softmax: exponentials of the
// distance to the row maximum, normalized in float32.
func (k *softmax) rowQuant(in, out []byte) {
	val := func(b byte) int32 {
		if k.signed {
			return int32(int8(b))
		}
		return int32(b)
	}
	m := int32(-1 << 31)
	for _, b := range in {
		m = max(m, val(b))
	}
	var sum float32
	for _, b := range in {
		sum += k.table[m-val(b)]
	}
	inv := 1 / (sum * k.outScale)
	for i, b := range in {
		q := int32(roundHalfAway(k.table[m-val(b)]*inv)) + k.outZP
		out[i] = byte(clamp32(q, k.outLo, k.outHi))
	}
}
