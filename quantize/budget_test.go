package quantize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgeclass/edgeclass/tflite"
)

// logitNoise returns noisy(sqnr): the top-1 agreement the float model's
// logits keep on ds when Gaussian noise of that SQNR (dB) is added to them
// (the mean of several draws). It models a quantized body whose only flaw
// is noise; the logits are the input of fm's last SOFTMAX.
func logitNoise(t *testing.T, fm *tflite.Model, ds Dataset) (noisy func(sqnr float64) float64) {
	t.Helper()
	sm := lastSoftmax(fm)
	if sm == nil {
		t.Fatal("the model has no SOFTMAX")
	}
	it, err := tflite.NewInterpreter(fm, &tflite.Options{KeepIntermediates: true, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var logits [][]float64
	var top []int
	var sum2, count float64
	for i := 0; i < ds.Len(); i++ {
		if err := ds.Fill(it, i); err != nil {
			t.Fatal(err)
		}
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		l := make([]float64, 0, it.Tensor(sm.Inputs[0]).Len())
		for _, v := range it.Tensor(sm.Inputs[0]).Float32s() {
			l = append(l, float64(v))
			sum2 += float64(v) * float64(v)
		}
		count += float64(len(l))
		logits, top = append(logits, l), append(top, argmax(it.Output(0).Float32s()))
	}
	rms := math.Sqrt(sum2 / count)
	return func(sqnr float64) float64 {
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
}

// relu6Reach returns the share of the channels of fm's ReLU6 layers whose
// largest value on ds reaches 3 (half of ReLU6's range) and 6: how much
// range imbalance there is for channel equalization to remove.
func relu6Reach(t *testing.T, fm *tflite.Model, ds Dataset) (half, full float64) {
	t.Helper()
	sg := fm.Main()
	var outs []int
	for i := range sg.Operators {
		if act(&sg.Operators[i]) == tflite.ActRelu6 {
			outs = append(outs, sg.Operators[i].Outputs[0])
		}
	}
	it, err := tflite.NewInterpreter(fm, &tflite.Options{KeepIntermediates: true, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	maxes := make([][]float32, len(outs))
	for s := 0; s < ds.Len(); s++ {
		if err := ds.Fill(it, s); err != nil {
			t.Fatal(err)
		}
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		for k, o := range outs {
			shape := sg.Tensors[o].Shape
			ch := shape[len(shape)-1]
			if maxes[k] == nil {
				maxes[k] = make([]float32, ch)
			}
			for i, v := range it.Tensor(o).Float32s() {
				maxes[k][i%ch] = max(maxes[k][i%ch], v)
			}
		}
	}
	var n, h, f int
	for _, m := range maxes {
		for _, v := range m {
			n++
			if v >= 3 {
				h++
			}
			if v >= 6 {
				f++
			}
		}
	}
	return float64(h) / float64(n), float64(f) / float64(n)
}

// act is the fused activation of a convolution.
func act(op *tflite.Operator) tflite.Activation {
	switch o := op.Options.(type) {
	case *tflite.Conv2DOptions:
		return o.Activation
	case *tflite.DepthwiseConv2DOptions:
		return o.Activation
	}
	return tflite.ActNone
}
