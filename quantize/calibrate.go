package quantize

import (
	"fmt"

	"github.com/edgeclass/edgeclass/tflite"
)

// DefaultMinSamples is the smallest calibration set Calibrate accepts unless
// told otherwise: fewer samples give ranges that real inputs overflow.
const DefaultMinSamples = 10

// CalibrateOptions configure Calibrate.
type CalibrateOptions struct {
	// MinSamples is the smallest accepted calibration set; 0 means
	// DefaultMinSamples.
	MinSamples int
	// Threads is the number of threads the float model runs on.
	Threads int
	// Progress, when set, is called after each sample.
	Progress func(done, total int)
}

// Stats are calibration statistics: one entry for every float activation
// tensor (graph input or operator output) of the model's subgraph 0, by
// tensor index.
type Stats struct {
	Samples int
	Tensors map[int]*TensorStats
}

// Calibrate runs float model m on every sample of ds with our engine and
// records the statistics of every activation tensor. It first checks that
// Quantize can handle the model, so that an unsupported operator stops the
// work before it starts.
func Calibrate(m *tflite.Model, ds Dataset, o CalibrateOptions) (*Stats, error) {
	if err := Check(m); err != nil {
		return nil, err
	}
	minN := o.MinSamples
	if minN <= 0 {
		minN = DefaultMinSamples
	}
	n := ds.Len()
	if n < minN {
		return nil, fmt.Errorf("calibration set has %d samples, at least %d are needed for meaningful ranges (the minimum can be lowered)", n, minN)
	}
	it, err := tflite.NewInterpreter(m, &tflite.Options{KeepIntermediates: true, Threads: o.Threads})
	if err != nil {
		return nil, fmt.Errorf("float model: %w", err)
	}
	defer it.Close()
	st := &Stats{Samples: n, Tensors: map[int]*TensorStats{}}
	for _, t := range activations(m) {
		st.Tensors[t] = newTensorStats()
	}
	for i := 0; i < n; i++ {
		if err := ds.Fill(it, i); err != nil {
			return nil, fmt.Errorf("calibration sample %s: %w", ds.Name(i), err)
		}
		if err := it.Invoke(); err != nil {
			return nil, fmt.Errorf("calibration sample %s: %w", ds.Name(i), err)
		}
		for t, s := range st.Tensors {
			s.add(it.Tensor(t).Float32s())
		}
		if o.Progress != nil {
			o.Progress(i+1, n)
		}
	}
	sg := m.Main()
	for t, s := range st.Tensors {
		if s.NonFinite > 0 {
			return nil, fmt.Errorf("tensor %d (%s) took %d NaN or infinite values during calibration: the float model is broken on these inputs", t, sg.Tensors[t].Name, s.NonFinite)
		}
	}
	return st, nil
}

// activations lists the float tensors that carry values at run time: graph
// inputs and operator outputs.
func activations(m *tflite.Model) []int {
	sg := m.Main()
	var ts []int
	seen := map[int]bool{}
	add := func(t int) {
		if !seen[t] && sg.Tensors[t].Type == tflite.Float32 {
			seen[t] = true
			ts = append(ts, t)
		}
	}
	for _, t := range sg.Inputs {
		add(t)
	}
	for _, op := range sg.Operators {
		for _, t := range op.Outputs {
			add(t)
		}
	}
	return ts
}
