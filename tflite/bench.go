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
}

// BenchStats are the latencies of Benchmark's timed runs, in milliseconds.
type BenchStats struct {
	Median, Min, Max float64
	Ops              []string // distinct operators, in order of first use
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
	seen := map[string]bool{}
	for i := range it.sg.Operators {
		if n := opName(&it.sg.Operators[i]); !seen[n] {
			seen[n] = true
			st.Ops = append(st.Ops, n)
		}
	}
	return st, nil
}
