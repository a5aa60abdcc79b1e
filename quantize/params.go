package quantize

import (
	"fmt"
	"math"
)

// Quantization parameters of the TFLite quantization spec
// (https://ai.google.dev/edge/litert/models/quantization_spec): activations
// are int8 with an asymmetric range that holds 0 exactly, weights are int8
// symmetric in [-127, 127] with zero point 0, biases int32 with scale
// input_scale*weight_scale and zero point 0.

// affine is the per-tensor quantization of an int8 activation:
// real = scale * (q - zp).
type affine struct {
	scale float64
	zp    int32
}

// activationParams chooses int8 parameters for real values in [lo, hi]. The
// range is widened to hold 0, which must be exact (padding, ReLU), and the
// zero point is the integer nearest to where 0 falls (TFLite's nudging).
func activationParams(lo, hi float64) affine {
	lo, hi = min(lo, 0), max(hi, 0)
	if hi-lo == 0 {
		// A tensor that was always 0: any scale represents it; this one
		// keeps requantization ratios with its neighbours moderate.
		hi = 1
	}
	scale := (hi - lo) / 255
	zp := math.Round(-128 - lo/scale)
	return affine{scale: scale, zp: int32(min(max(zp, -128), 127))}
}

// bounds returns the real range the parameters represent.
func (a affine) bounds() (lo, hi float64) {
	return a.scale * float64(-128-a.zp), a.scale * float64(127-a.zp)
}

// quantize maps a real value to int8 (round half away from zero, clamped).
func (a affine) quantize(v float64) int8 {
	q := math.Round(v/a.scale) + float64(a.zp)
	return int8(min(max(q, -128), 127))
}

// Fixed output parameters the TFLite kernels require (int8).
var (
	softmaxOut = affine{scale: 1.0 / 256, zp: -128} // SOFTMAX, LOGISTIC: [0, 1)
	tanhOut    = affine{scale: 1.0 / 128, zp: 0}    // TANH, L2_NORMALIZATION: [-1, 1)
)

// maxBias is the largest int32 a quantized bias may use: TFLite's converter
// keeps a margin below 2^31 so sums in the accumulator cannot overflow.
const maxBias = math.MaxInt32 / 2

// symmetricWeights quantizes w, laid out with channel c of element i at
// channelOf(i), per channel to int8 in [-127, 127] (a single channel for
// per-tensor quantization). bias and inScale, when bias is not nil, raise a
// channel's scale where its quantized bias would not fit int32. It returns
// the int8 weights and the scale of each channel.
func symmetricWeights(w []float32, channels int, channelOf func(i int) int, bias []float32, inScale float64) ([]int8, []float64) {
	scales := make([]float64, channels)
	for i, v := range w {
		c := channelOf(i)
		scales[c] = max(scales[c], math.Abs(float64(v)))
	}
	largest := 0.0
	for c := range scales {
		scales[c] /= 127
		largest = max(largest, scales[c])
	}
	if largest == 0 {
		largest = 1
	}
	for c := range scales {
		if scales[c] == 0 {
			// All-zero channel: every scale gives zeros; the largest keeps
			// the requantization multiplier like its neighbours'.
			scales[c] = largest
		}
	}
	if bias != nil {
		for i, b := range bias {
			c := i
			if channels == 1 {
				c = 0
			}
			if need := math.Abs(float64(b)) / (inScale * maxBias); need > scales[c] {
				scales[c] = need
			}
		}
	}
	q := make([]int8, len(w))
	for i, v := range w {
		r := math.Round(float64(v) / scales[channelOf(i)])
		q[i] = int8(min(max(r, -127), 127))
	}
	return q, scales
}

// quantizeBias quantizes bias channel c with scale inScale*weightScales[c]
// (one weight scale for all channels when per tensor).
func quantizeBias(bias []float32, inScale float64, weightScales []float64) ([]int32, error) {
	q := make([]int32, len(bias))
	for c, b := range bias {
		ws := weightScales[0]
		if len(weightScales) > 1 {
			ws = weightScales[c]
		}
		r := math.Round(float64(b) / (inScale * ws))
		if math.IsNaN(r) || math.Abs(r) > math.MaxInt32 {
			return nil, fmt.Errorf("bias %d (%g) does not fit int32 at scale %g", c, b, inScale*ws)
		}
		q[c] = int32(r)
	}
	return q, nil
}
