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
	inv     float32 // 1/scale
	zp      int32
	lo, hi  int32
	table   [256]byte // requantization of each input byte
	requant bool
}

// QUANTIZE follows XNNPACK, which runs it in Google's runtime: floats are
// multiplied by the inverse scale and rounded to nearest even; 8-bit data
// of one type is rescaled by a Q8 multiplier, rounded half up. XNNPACK does
// not convert between int8 and uint8 or rescale outside [2^-8, 2^7]; those
// use TFLite's fixed-point requantization.
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
	k := &quantizeKernel{out: out.data, inv: 1 / float32(outQ.scale), zp: outQ.zp}
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
		ratio := float32(inQ.scale) / float32(outQ.scale)
		var q func(v int32) int32
		if in.def.Type == out.def.Type && ratio >= 1.0/256 && ratio <= 128 {
			m := int64(math.RoundToEven(float64(256 * ratio)))
			q = func(v int32) int32 {
				return int32(min(max((int64(v-inQ.zp)*m+int64(outQ.zp)<<8+0x80)>>8, math.MinInt32), math.MaxInt32))
			}
		} else {
			r := newRequant(inQ.scale / outQ.scale)
			q = func(v int32) int32 { return r.apply(v-inQ.zp) + outQ.zp }
		}
		lo, hi := qrange(in.def.Type)
		for v := lo; v <= hi; v++ {
			k.table[byte(v)] = byte(clamp32(q(v), k.lo, k.hi))
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
	lo, hi := float32(k.lo-k.zp), float32(k.hi-k.zp)
	for i, v := range k.in {
		r := float32(math.RoundToEven(float64(v * k.inv)))
		switch {
		case r != r: // NaN
			r = 0
		case r < lo:
			r = lo
		case r > hi:
			r = hi
		}
		k.out[i] = byte(int32(r) + k.zp)
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
