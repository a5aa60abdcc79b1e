package tflite

import (
	"fmt"
	"math"

	"github.com/edgeclass/edgeclass/tflite/internal/kern"
)

// Quantization helpers of the TFLite quantization spec. The fixed-point
// multiply itself is kern.Requantize.

// quantizeMultiplier splits a positive real multiplier into a Q31 fixed-point
// multiplier and a power-of-two exponent: real ~= q * 2^(shift-31).
func quantizeMultiplier(real float64) (q int32, shift int) {
	if real == 0 {
		return 0, 0
	}
	frac, exp := math.Frexp(real)
	qf := int64(math.Round(frac * (1 << 31)))
	if qf == 1<<31 {
		qf /= 2
		exp++
	}
	if exp < -31 {
		return 0, 0
	}
	if exp > 30 {
		exp, qf = 30, math.MaxInt32
	}
	return int32(qf), exp
}

// requant is a prepared multiplier with its exponent.
type requant struct {
	mult  int32
	shift int
}

func newRequant(real float64) requant {
	q, s := quantizeMultiplier(real)
	return requant{mult: q, shift: s}
}

func (r requant) apply(x int32) int32 { return kern.Requantize(x, r.mult, int32(r.shift)) }

// qparams are the per-tensor parameters of an 8-bit activation tensor.
type qparams struct {
	scale float64
	zp    int32
}

// qrange returns the value range of an integer tensor type.
func qrange(t TensorType) (lo, hi int32) {
	switch t {
	case Uint8:
		return 0, 255
	case Int8:
		return -128, 127
	case Int16:
		return -32768, 32767
	}
	return math.MinInt32, math.MaxInt32
}

// activationRangeQuantized returns the clamp bounds a fused activation puts
// on a quantized output (CalculateActivationRangeQuantized).
func activationRangeQuantized(act Activation, t TensorType, q qparams) (lo, hi int32, err error) {
	lo, hi = qrange(t)
	quantize := func(f float32) int32 {
		return q.zp + int32(roundHalfAway(f/float32(q.scale)))
	}
	switch act {
	case ActNone:
	case ActRelu:
		lo = max(lo, quantize(0))
	case ActRelu6:
		lo, hi = max(lo, quantize(0)), min(hi, quantize(6))
	case ActReluN1To1:
		lo, hi = max(lo, quantize(-1)), min(hi, quantize(1))
	default:
		return 0, 0, fmt.Errorf("fused activation %s is not supported on quantized tensors", act)
	}
	return lo, hi, nil
}

// activationRangeFloat returns the clamp bounds of a fused activation.
func activationRangeFloat(act Activation) (lo, hi float32, err error) {
	switch act {
	case ActNone:
		return float32(math.Inf(-1)), float32(math.Inf(1)), nil
	case ActRelu:
		return 0, float32(math.Inf(1)), nil
	case ActRelu6:
		return 0, 6, nil
	case ActReluN1To1:
		return -1, 1, nil
	}
	return 0, 0, fmt.Errorf("fused activation %s is not supported", act)
}

// roundHalfAway rounds to nearest, ties away from zero (C's roundf).
func roundHalfAway(f float32) float32 {
	return float32(math.Round(float64(f)))
}

func clamp32(x, lo, hi int32) int32 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

func clampf(x, lo, hi float32) float32 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}
