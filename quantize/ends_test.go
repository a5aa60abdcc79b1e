package quantize

import (
	"testing"

	"github.com/edgeclass/edgeclass/tflite"
)

// The 8-bit ends tie classes the float model tells apart: logits closer
// than the logits grid's step, or probabilities closer than 1/256.
func TestEndsBoundTop(t *testing.T) {
	e := &endsBound{beta: 1, in: affine{scale: 0.1}, out: softmaxOut}
	for _, c := range []struct {
		name   string
		scale  float64
		logits []float32
		want   int
	}{
		{"apart", 0.1, []float32{1, 1.5, -2}, 1},
		{"same logit step", 0.1, []float32{1, 1.04, -2}, 0},
		{"same probability step", 0.0001, []float32{0, 0.001}, 0},
		{"probabilities apart", 0.0001, []float32{0, 0.05}, 1},
	} {
		e.in.scale = c.scale
		if got := e.top(c.logits); got != c.want {
			t.Errorf("%s: top %d, want %d", c.name, got, c.want)
		}
	}
}

// Compare reports the bound for models ending in SOFTMAX, and the measured
// agreement never exceeds it.
func TestCompareEndsBound(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		fm, gen, _ := randomModel(t, seed)
		if sm := lastSoftmax(fm); sm == nil || sm.Outputs[0] != fm.Main().Outputs[0] {
			continue
		}
		ds := gen.samples(fm, 40)
		st, err := Calibrate(fm, ds, CalibrateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		qm, err := Quantize(fm, st, Options{Input: tflite.Int8, Output: tflite.Int8})
		if err != nil {
			t.Fatal(err)
		}
		c, err := Compare(fm, qm, ds, CompareOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Eval.EndsBound <= 0 || c.Eval.EndsBound > 1 || c.Eval.Agreement > c.Eval.EndsBound {
			t.Errorf("seed %d: agreement %.3f, ends bound %.3f", seed, c.Eval.Agreement, c.Eval.EndsBound)
		}
		// Without a SOFTMAX at the end there is no bound.
		c, err = Compare(fm, fm, ds, CompareOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Eval.EndsBound != 0 {
			t.Errorf("seed %d: a float model against itself has an 8-bit ends bound %.3f", seed, c.Eval.EndsBound)
		}
		return
	}
	t.Fatal("no random model ends in a SOFTMAX")
}
