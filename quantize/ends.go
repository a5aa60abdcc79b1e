package quantize

import (
	"math"

	"github.com/edgeclass/edgeclass/tflite"
)

// endsBound computes what the 8-bit ends of a quantized classifier allow:
// its softmax reads logits on one int8 grid and writes probabilities on
// another (steps of 1/256), so close classes tie or swap even when the
// layers before are exact. It rounds the float model's exact logits
// through both grids, as the quantized model would.
type endsBound struct {
	logits            int // float model's logits tensor
	beta              float64
	in, out           affine
	grid, probs, outq []float64
}

// newEndsBound returns nil unless both models end in a SOFTMAX whose
// output is the float model's output 0 and whose quantized input and
// output are int8 with one scale each (as Quantize writes them; a uint8
// end is a QUANTIZE after the softmax).
func newEndsBound(fm, qm *tflite.Model) *endsBound {
	fop := lastSoftmax(fm)
	qop := lastSoftmax(qm)
	if fop == nil || qop == nil || fop.Outputs[0] != fm.Main().Outputs[0] {
		return nil
	}
	in, out := qm.Main().Tensors[qop.Inputs[0]], qm.Main().Tensors[qop.Outputs[0]]
	if in.Type != tflite.Int8 || out.Type != tflite.Int8 || in.Quant == nil || len(in.Quant.Scale) != 1 || out.Quant == nil || len(out.Quant.Scale) != 1 {
		return nil
	}
	beta := 1.0
	if o, ok := fop.Options.(*tflite.SoftmaxOptions); ok && o.Beta != 0 {
		beta = float64(o.Beta)
	}
	return &endsBound{logits: fop.Inputs[0], beta: beta,
		in:  affine{scale: float64(in.Quant.Scale[0]), zp: int32(in.Quant.ZeroPoint[0])},
		out: affine{scale: float64(out.Quant.Scale[0]), zp: int32(out.Quant.ZeroPoint[0])}}
}

func lastSoftmax(m *tflite.Model) *tflite.Operator {
	ops := m.Main().Operators
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].Op == tflite.OpSoftmax {
			return &ops[i]
		}
	}
	return nil
}

// top returns the class the quantized ends pick from exact logits (ties go
// to the first, as argmax does).
func (e *endsBound) top(logits []float32) int {
	if len(e.grid) != len(logits) {
		e.grid, e.probs, e.outq = make([]float64, len(logits)), make([]float64, len(logits)), make([]float64, len(logits))
	}
	for i, v := range logits {
		e.grid[i] = e.in.scale * float64(int32(e.in.quantize(float64(v)))-e.in.zp)
	}
	m := e.grid[argmax(e.grid)]
	var sum float64
	for i, v := range e.grid {
		e.probs[i] = math.Exp(e.beta * (v - m))
		sum += e.probs[i]
	}
	for i, p := range e.probs {
		e.outq[i] = float64(e.out.quantize(p / sum))
	}
	return argmax(e.outq)
}
