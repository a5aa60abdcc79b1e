package tflite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// BenchOptions configure Benchmark.
type BenchOptions struct {
	Threads int
	Runs    int
	Warmup  int
	// PerOp adds Runs more runs that time each operator on its own.
	PerOp bool
}

// BenchStats are the latencies of Benchmark's timed runs, in milliseconds.
type BenchStats struct {
	Median, Min, Max float64
	Ops              []string // distinct operators, in order of first use
	PerOp            []OpTime // with BenchOptions.PerOp, one per operator in graph order
}

// OpTime is one operator's latency over Benchmark's per-operator runs.
type OpTime struct {
	Index  int     // in the graph
	Op     string  // operator name
	Output []int   // shape of its first output
	Median float64 // milliseconds
}

// Benchmark times Invoke on deterministic pseudo-random inputs.
func Benchmark(m *Model, o BenchOptions) (BenchStats, error) {
	if o.Runs < 1 {
		return BenchStats{}, fmt.Errorf("runs must be at least 1")
	}
	it, err := NewInterpreter(m, &Options{Threads: o.Threads})
	if err != nil {
		return BenchStats{}, err
	}
	defer it.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range it.Inputs() {
		if f := in.Float32s(); f != nil {
			for i := range f {
				f[i] = rng.Float32()*2 - 1
			}
			continue
		}
		b := in.Bytes()
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
	}
	for i := 0; i < o.Warmup; i++ {
		if err := it.Invoke(); err != nil {
			return BenchStats{}, err
		}
	}
	times := make([]float64, o.Runs)
	for i := range times {
		start := time.Now()
		if err := it.Invoke(); err != nil {
			return BenchStats{}, err
		}
		times[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	slices.Sort(times)
	st := BenchStats{Median: times[len(times)/2], Min: times[0], Max: times[len(times)-1]}
	if o.PerOp {
		st.PerOp = it.timeOps(o.Runs)
	}
	seen := map[string]bool{}
	for i := range it.sg.Operators {
		if n := opName(&it.sg.Operators[i]); !seen[n] {
			seen[n] = true
			st.Ops = append(st.Ops, n)
		}
	}
	return st, nil
}

// timeOps runs the graph runs times, timing each kernel on its own, and
// returns each operator's median.
func (it *Interpreter) timeOps(runs int) []OpTime {
	samples := make([][]float64, len(it.kernels))
	for i := range samples {
		samples[i] = make([]float64, runs)
	}
	for r := 0; r < runs; r++ {
		for i, k := range it.kernels {
			start := time.Now()
			k.eval()
			samples[i][r] = float64(time.Since(start).Nanoseconds()) / 1e6
		}
	}
	out := make([]OpTime, len(it.kernels))
	for i, s := range samples {
		slices.Sort(s)
		op := &it.sg.Operators[i]
		out[i] = OpTime{Index: i, Op: opName(op), Median: s[len(s)/2]}
		if len(op.Outputs) > 0 && op.Outputs[0] >= 0 {
			out[i].Output = slices.Clone(it.sg.Tensors[op.Outputs[0]].Shape)
		}
	}
	return out
}
