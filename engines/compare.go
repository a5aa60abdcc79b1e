package engines

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edgeclass/edgeclass/tflite"
)

// Agreement compares two values of one output tensor: from two engines, or
// from an engine and a golden file.
type Agreement struct {
	Identical bool // byte for byte
	// MaxDiff is the largest difference in real (dequantized) units, Steps
	// the same in quantization steps (0 for float tensors).
	MaxDiff float64
	Steps   int64
	// Top1 is each side's index of the largest value.
	Top1 [2]int
}

// Compare decodes a and b as tensor def's elements and compares them.
func Compare(def *tflite.TensorDef, a, b []byte) (Agreement, error) {
	if len(a) != len(b) {
		return Agreement{}, fmt.Errorf("tensor %q: %d bytes against %d", def.Name, len(a), len(b))
	}
	x, stepsA, err := decode(def, a)
	if err != nil {
		return Agreement{}, err
	}
	y, stepsB, _ := decode(def, b)
	ag := Agreement{Identical: bytes.Equal(a, b), Top1: [2]int{argmax(x), argmax(y)}}
	for i := range x {
		ag.MaxDiff = max(ag.MaxDiff, math.Abs(x[i]-y[i]))
		if stepsA != nil {
			d := stepsA[i] - stepsB[i]
			ag.Steps = max(ag.Steps, d, -d)
		}
	}
	return ag, nil
}

// Tolerances of Agreement.Within: loose enough for XNNPACK's, the GPU
// delegate's and the Edge TPU's arithmetic, which differ from the reference
// kernels in rounding.
const (
	QuantizedTolerance = 3    // quantization steps
	FloatTolerance     = 1e-2 // real units
)

// Within reports whether every value agrees within the tolerances. (The
// top-1 class can then differ only where the reference's two best values
// are within twice the tolerance of each other.)
func (ag Agreement) Within(def *tflite.TensorDef) bool {
	if def.Type == tflite.Float32 {
		return ag.MaxDiff <= FloatTolerance
	}
	return ag.Steps <= QuantizedTolerance
}

// decode returns the real values and, for integer tensors, the raw ones.
func decode(def *tflite.TensorDef, b []byte) ([]float64, []int64, error) {
	size := def.Type.Size()
	if size == 0 || len(b)%size != 0 {
		return nil, nil, fmt.Errorf("tensor %q: %d bytes are not %s elements", def.Name, len(b), def.Type)
	}
	n := len(b) / size
	vals := make([]float64, n)
	if def.Type == tflite.Float32 {
		for i := range vals {
			vals[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
		return vals, nil, nil
	}
	raw := make([]int64, n)
	for i := range raw {
		switch def.Type {
		case tflite.Uint8:
			raw[i] = int64(b[i])
		case tflite.Int8:
			raw[i] = int64(int8(b[i]))
		case tflite.Int16:
			raw[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		case tflite.Int32:
			raw[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		case tflite.Int64:
			raw[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		default:
			return nil, nil, fmt.Errorf("tensor %q: cannot compare %s values", def.Name, def.Type)
		}
	}
	scale, zp := 1.0, int64(0)
	if q := def.Quant; q != nil && len(q.Scale) == 1 {
		scale, zp = float64(q.Scale[0]), q.ZeroPoint[0]
	}
	for i, r := range raw {
		vals[i] = scale * float64(r-zp)
	}
	return vals, raw, nil
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
