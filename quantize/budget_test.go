package quantize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgeclass/edgeclass/tflite"
)

// agreementBudget splits the disagreement of a quantized classifier qm with
// its float model fm on ds into what the 8-bit ends alone cost and what the
// noise of the layers before them costs. Both models must end in a SOFTMAX.
//
// ends is the agreement an exact float model would reach through qm's
// quantized logits and 8-bit softmax output (the float logits rounded to
// qm's logits grid; the softmax's probabilities rounded to 1/256; ties go
// to the first class, as argmax does). noisy(sqnr) is the agreement the
// float logits keep when Gaussian noise of that SQNR (dB) is added to them
// (the mean of several draws): the model of a quantized body whose only
// flaw is noise.
func agreementBudget(t *testing.T, fm, qm *tflite.Model, ds Dataset) (ends float64, noisy func(sqnr float64) float64) {
	t.Helper()
	lq := qm.Main().Tensors[softmaxInput(t, qm)].Quant
	if lq == nil || len(lq.Scale) != 1 {
		t.Fatalf("the quantized model's logits are not quantized per tensor")
	}
	scale, zp := float64(lq.Scale[0]), float64(lq.ZeroPoint[0])
	it, err := tflite.NewInterpreter(fm, &tflite.Options{KeepIntermediates: true, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	logitsT := softmaxInput(t, fm)
	var logits [][]float64
	var top []int
	var sum2, count float64
	hits := 0
	for i := 0; i < ds.Len(); i++ {
		if err := ds.Fill(it, i); err != nil {
			t.Fatal(err)
		}
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		l := make([]float64, 0, it.Tensor(logitsT).Len())
		for _, v := range it.Tensor(logitsT).Float32s() {
			l = append(l, float64(v))
			sum2 += float64(v) * float64(v)
		}
		count += float64(len(l))
		ft := argmax(it.Output(0).Float32s())
		logits, top = append(logits, l), append(top, ft)

		// The 8-bit ends: logits on the grid, probabilities in 1/256 steps.
		grid := make([]float64, len(l))
		for k, v := range l {
			grid[k] = (math.Max(-128, math.Min(127, math.Round(v/scale+zp))) - zp) * scale
		}
		p := softmax64(grid)
		for k := range p {
			p[k] = math.Min(255, math.Round(p[k]*256))
		}
		if argmax(p) == ft {
			hits++
		}
	}
	ends = float64(hits) / float64(ds.Len())
	rms := math.Sqrt(sum2 / count)
	noisy = func(sqnr float64) float64 {
		const draws = 20
		sigma := rms * math.Pow(10, -sqnr/20)
		rng := rand.New(rand.NewPCG(1, uint64(sqnr*1000)))
		agree := 0
		buf := make([]float64, len(logits[0]))
		for range draws {
			for i, l := range logits {
				for k, v := range l {
					buf[k] = v + sigma*rng.NormFloat64()
				}
				if argmax(buf) == top[i] {
					agree++
				}
			}
		}
		return float64(agree) / float64(draws*len(logits))
	}
	return ends, noisy
}

// softmaxInput is the input tensor of the last SOFTMAX of m: its logits.
func softmaxInput(t *testing.T, m *tflite.Model) int {
	ops := m.Main().Operators
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].Op == tflite.OpSoftmax {
			return ops[i].Inputs[0]
		}
	}
	t.Fatalf("the model has no SOFTMAX")
	return -1
}

func softmax64(v []float64) []float64 {
	m := v[argmax(v)]
	out := make([]float64, len(v))
	var s float64
	for i, x := range v {
		out[i] = math.Exp(x - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
