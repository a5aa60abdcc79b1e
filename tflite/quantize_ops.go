package tflite

import (
	"fmt"
	"math"
)

// quantizeKernel is a prepared QUANTIZE: float to 8-bit, or 8-bit to 8-bit
// with new parameters.
type quantizeKernel struct {
	in      []float32
	qin     []byte
	out     []byte
	scale   float32
	zp      int32
	lo, hi  int32
	table   [256]byte // requantization of each input byte
	requant bool
}

func prepareQuantize(c *opContext) (kernel, error) {
	if err := c.arity(1, 1, 1); err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	if err := checkShape(out, in.def.Shape); err != nil {
		return nil, err
	}
	if !isQuant(out) {
		return nil, fmt.Errorf("output type %s is not uint8 or int8", out.def.Type)
	}
	outQ, err := perTensor(out)
	if err != nil {
		return nil, err
	}
	k := &quantizeKernel{out: out.data, scale: float32(outQ.scale), zp: outQ.zp}
	k.lo, k.hi = qrange(out.def.Type)
	switch in.def.Type {
	case Float32:
		k.in = in.Float32s()
		return k, nil
	case Uint8, Int8:
		inQ, err := perTensor(in)
		if err != nil {
			return nil, err
		}
		k.requant, k.qin = true, in.data
		r := newRequant(inQ.scale / outQ.scale)
		lo, hi := qrange(in.def.Type)
		for v := lo; v <= hi; v++ {
			k.table[byte(v)] = byte(clamp32(r.apply(v-inQ.zp)+outQ.zp, k.lo, k.hi))
		}
		return k, nil
	}
	return nil, fmt.Errorf("input type %s is not supported", in.def.Type)
}

func (k *quantizeKernel) eval() {
	if k.requant {
		for i, v := range k.qin {
			k.out[i] = k.table[v]
		}
		return
	}
	for i, v := range k.in {
		k.out[i] = byte(QuantizeValue(v, k.scale, k.zp, k.lo, k.hi))
	}
}

// QuantizeValue maps a real value to its quantized integer: round(v/scale)
// + zp (ties away from zero), clamped to [lo, hi].
func QuantizeValue(v, scale float32, zp, lo, hi int32) int32 {
	r := roundHalfAway(v / scale)
	if r != r { // NaN
		return clamp32(zp, lo, hi)
	}
	if r < float32(lo-zp) {
		return lo
	}
	if r > float32(hi-zp) {
		return hi
	}
	return int32(r) + zp
}

// dequantizeKernel is a prepared DEQUANTIZE to float32.
type dequantizeKernel struct {
	in  *Tensor
	out []float32
}

func prepareDequantize(c *opContext) (kernel, error) {
	if err := c.arity(1, 1, 1); err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	if out.def.Type != Float32 {
		return nil, fmt.Errorf("output type %s is not float32", out.def.Type)
	}
	if err := checkShape(out, in.def.Shape); err != nil {
		return nil, err
	}
	switch in.def.Type {
	case Float16:
	case Uint8, Int8, Int16:
		q := in.def.Quant
		if q == nil || len(q.Scale) == 0 {
			return nil, fmt.Errorf("input %q is not quantized", in.def.Name)
		}
		if len(q.Scale) > 1 {
			return nil, fmt.Errorf("per-axis dequantization is not supported")
		}
	default:
		return nil, fmt.Errorf("input type %s is not supported", in.def.Type)
	}
	return &dequantizeKernel{in: in, out: out.Float32s()}, nil
}

func (k *dequantizeKernel) eval() {
	if k.in.def.Type == Float16 {
		for i, h := range asSlice[uint16](k.in.data) {
			k.out[i] = Float16ToFloat32(h)
		}
		return
	}
	k.in.DequantizeInto(k.out)
}

// Float16ToFloat32 converts an IEEE 754 half-precision value.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}
