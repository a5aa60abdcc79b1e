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
	in, out, err := c.unaryIO()
	if err != nil {
		return nil, err
	}
	var f func(float32) float32
	var alpha float32
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
		alpha = o.Alpha
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
	inQ, outQ, err := inOutQuant(in, out)
	if err != nil {
		return nil, err
	}
	k.quantize, k.qin, k.qout, k.signed = true, in.data, out.data, in.def.Type == Int8
	// Each quantized activation follows the arithmetic of the kernel that
	// runs it in Google's runtime; the rest map through f in float.
	var q func(v int32) int32
	switch c.op.Op {
	case OpHardSwish:
		if q, err = hardSwishQuant(inQ, outQ); err != nil {
			return nil, err
		}
	case OpLeakyRelu:
		q = leakyReluQuant(inQ, outQ, alpha)
	default:
		inv := 1 / float32(outQ.scale)
		q = func(v int32) int32 {
			x := float32(inQ.scale) * float32(v-inQ.zp)
			return int32(roundHalfAway(f(x)*inv)) + outQ.zp
		}
	}
	k.table = lookupTable(in.def.Type, q)
	return k, nil
}

// lookupTable maps every 8-bit input to q's output, clamped to the type and
// indexed by the input's byte (PopulateLookupTable of TFLite).
func lookupTable(t TensorType, q func(v int32) int32) [256]byte {
	var table [256]byte
	lo, hi := qrange(t)
	for v := lo; v <= hi; v++ {
		table[byte(v)] = byte(clamp32(q(v), lo, hi))
	}
	return table
}

// leakyReluQuant is XNNPACK's quantized LEAKY_RELU, which Google's runtime
// delegates it to: both slopes as Q8 multipliers rounded to nearest even,
// and the product rounded half up.
func leakyReluQuant(inQ, outQ qparams, alpha float32) func(v int32) int32 {
	pos := float32(inQ.scale) / float32(outQ.scale)
	neg := pos * alpha
	posMul := int64(math.RoundToEven(float64(256 * pos)))
	negMul := int64(math.RoundToEven(float64(256 * neg)))
	bias := int64(outQ.zp)<<8 + 0x80
	return func(v int32) int32 {
		x := int64(v - inQ.zp)
		m := posMul
		if x < 0 {
			m = negMul
		}
		return int32(min(max((bias+x*m)>>8, math.MinInt32), math.MaxInt32))
	}
}

// hardSwishQuant is TFLite's quantized HARD_SWISH (Google's runtime does
// not delegate it): 16-bit fixed point on a 2^-7 finer input scale, times a
// "relu-ish" factor in [0, 1] that maps x in [-3, 3] linearly.
func hardSwishQuant(inQ, outQ qparams) (func(v int32) int32, error) {
	hires := float32(inQ.scale) / 128
	outMul, outExp := quantizeMultiplier(float64(hires / float32(outQ.scale)))
	if outExp > 0 {
		return nil, fmt.Errorf("input scale %g is 128 or more times the output scale %g", inQ.scale, outQ.scale)
	}
	reluMul, reluExp := quantizeMultiplier(float64(hires / (3.0 / 32768)))
	outMul16, reluMul16 := int16Multiplier(outMul), int16Multiplier(reluMul)
	return func(v int32) int32 {
		x := int16(v-inQ.zp) * (1 << 7)
		pre := roundingDoublingHighMul16(x, outMul16)
		r := x
		if reluExp > 0 {
			r = saturatingShiftLeft16(r, reluExp-1)
		}
		r = roundingDoublingHighMul16(r, reluMul16)
		if reluExp > 0 {
			r = saturatingShiftLeft16(r, 1)
		} else if reluExp < 0 {
			r = roundingShiftRight16(r, -reluExp)
		}
		r = int16((int32(r) + 1<<15) >> 1) // [-1, 1] to [0, 1]
		return int32(roundingShiftRight16(doublingHighMul16(r, pre), -outExp)) + outQ.zp
	}, nil
}

// int16Multiplier rounds a Q31 multiplier to Q15.
func int16Multiplier(m int32) int16 {
	if m >= math.MaxInt32-1<<15 {
		return math.MaxInt16
	}
	return int16((m + 1<<15) >> 16)
}

// roundingDoublingHighMul16 is gemmlowp's SaturatingRoundingDoublingHighMul
// on int16: a*b / 2^15 rounded, ties away from zero.
func roundingDoublingHighMul16(a, b int16) int16 {
	if a == math.MinInt16 && b == math.MinInt16 {
		return math.MaxInt16
	}
	ab := int32(a) * int32(b)
	nudge := int32(1 << 14)
	if ab < 0 {
		nudge = 1 - 1<<14
	}
	return int16((ab + nudge) / (1 << 15))
}

// doublingHighMul16 is a*b / 2^15 truncated toward zero.
func doublingHighMul16(a, b int16) int16 {
	if a == math.MinInt16 && b == math.MinInt16 {
		return math.MaxInt16
	}
	return int16(int32(a) * int32(b) / (1 << 15))
}

// roundingShiftRight16 divides by 2^e, rounding ties away from zero.
func roundingShiftRight16(x int16, e int) int16 {
	e = min(e, 30)
	v := int32(x)
	mask := int32(1)<<e - 1
	threshold := mask >> 1
	if v < 0 {
		threshold++
	}
	r := v >> e
	if v&mask > threshold {
		r++
	}
	return int16(r)
}

func saturatingShiftLeft16(x int16, n int) int16 {
	return int16(min(max(int32(x)<<n, math.MinInt16), math.MaxInt16))
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
	in, out, err := c.unaryIO()
	if err != nil {
		return nil, err
	}
	o, err := options[SoftmaxOptions](c, false)
	if err != nil {
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
	inQ, outQ, err := inOutQuant(in, out)
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
