package trainer

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// blobs makes n examples per class of Gaussian clusters in dim dimensions
// (class k's centre is sep along axis k), with views extra noisy views.
func blobs(classes, n, dim, views int, sep float64, seed uint64) examples {
	rng := rand.New(rand.NewPCG(seed, 1))
	var ex examples
	for k := 0; k < classes; k++ {
		for i := 0; i < n; i++ {
			base := make([]float32, dim)
			for j := range base {
				base[j] = float32(rng.NormFloat64())
			}
			base[k] += float32(sep)
			vs := [][]float32{base}
			for v := 0; v < views; v++ {
				nv := slices.Clone(base)
				for j := range nv {
					nv[j] += float32(0.3 * rng.NormFloat64())
				}
				vs = append(vs, nv)
			}
			ex.x = append(ex.x, vs)
			ex.y = append(ex.y, k)
		}
	}
	return ex
}

func TestTrainHeadLearns(t *testing.T) {
	train := blobs(4, 60, 16, 2, 3, 1)
	val := blobs(4, 20, 16, 0, 3, 2)
	test := blobs(4, 30, 16, 0, 3, 3)
	cfg := DefaultHead
	cfg.Epochs = 30
	for _, balance := range []string{"none", "weights", "sample"} {
		cfg.Balance = balance
		h, hist, best, err := trainHead(train, val, 4, cfg, 7, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, acc := h.evaluate(test)
		// Nearest-centre accuracy at this separation is about 0.93.
		if acc < 0.85 {
			t.Errorf("balance %s: test accuracy %.3f, want >= 0.85", balance, acc)
		}
		if hist[0].TrainLoss < hist[len(hist)-1].TrainLoss {
			t.Errorf("balance %s: training loss rose from %.3f to %.3f", balance, hist[0].TrainLoss, hist[len(hist)-1].TrainLoss)
		}
		// The kept head is the one of the best epoch.
		for _, e := range hist {
			if e.ValLoss < hist[best-1].ValLoss-1e-5 {
				t.Errorf("epoch %d has val loss %.5f below the kept epoch %d's %.5f", e.Epoch, e.ValLoss, best, hist[best-1].ValLoss)
			}
		}
		if l, _ := h.evaluate(val); math.Abs(l-hist[best-1].ValLoss) > 1e-9 {
			t.Errorf("kept head has val loss %.6f, its epoch recorded %.6f", l, hist[best-1].ValLoss)
		}
	}
}

func TestTrainHeadDeterministicAndEarlyStop(t *testing.T) {
	train := blobs(3, 40, 8, 1, 2, 4)
	val := blobs(3, 10, 8, 0, 2, 5)
	cfg := DefaultHead
	cfg.Epochs, cfg.Patience, cfg.LearningRate = 200, 3, 0.05
	a, histA, _, _ := trainHead(train, val, 3, cfg, 9, nil)
	b, histB, _, _ := trainHead(train, val, 3, cfg, 9, nil)
	if !slices.Equal(a.W, b.W) || !slices.Equal(a.B, b.B) || len(histA) != len(histB) {
		t.Error("the same seed gave different heads")
	}
	if len(histA) == cfg.Epochs {
		t.Errorf("ran all %d epochs; early stopping never triggered", cfg.Epochs)
	}
	c, _, _, _ := trainHead(train, val, 3, cfg, 10, nil)
	if slices.Equal(a.W, c.W) {
		t.Error("seeds 9 and 10 gave the same head")
	}
}

func TestHeadConfigCheck(t *testing.T) {
	bad := []func(*HeadConfig){
		func(c *HeadConfig) { c.Epochs = 0 },
		func(c *HeadConfig) { c.BatchSize = 0 },
		func(c *HeadConfig) { c.LearningRate = 0 },
		func(c *HeadConfig) { c.Dropout = 1 },
		func(c *HeadConfig) { c.LabelSmoothing = -0.1 },
		func(c *HeadConfig) { c.Balance = "oversample" },
	}
	for i, f := range bad {
		c := DefaultHead
		f(&c)
		if c.Check() == nil {
			t.Errorf("bad config %d accepted: %+v", i, c)
		}
	}
}

func TestMetrics(t *testing.T) {
	classes := []string{"a", "b", "c"}
	truth := []int{0, 0, 0, 0, 1, 1, 1, 2, 2, 2}
	pred := []int{0, 0, 1, -1, 1, 1, 0, 2, 2, 1}
	m := ComputeMetrics(classes, truth, pred)
	if m.Correct != 6 || m.Accuracy != 0.6 {
		t.Errorf("correct %d accuracy %v, want 6 and 0.6", m.Correct, m.Accuracy)
	}
	want := [][]int{{2, 1, 0, 1}, {1, 2, 0, 0}, {0, 1, 2, 0}}
	for i := range want {
		if !slices.Equal(m.Confusion[i], want[i]) {
			t.Errorf("confusion row %d = %v, want %v", i, m.Confusion[i], want[i])
		}
	}
	// a: tp 2, predicted 3, support 4. b: tp 2, predicted 4, support 3.
	// c: tp 2, predicted 2, support 3.
	exp := []ClassMetrics{
		{"a", 4, 2.0 / 3, 0.5, 2 * (2.0 / 3 * 0.5) / (2.0/3 + 0.5)},
		{"b", 3, 0.5, 2.0 / 3, 2 * (0.5 * 2.0 / 3) / (0.5 + 2.0/3)},
		{"c", 3, 1, 2.0 / 3, 0.8},
	}
	for i, e := range exp {
		g := m.PerClass[i]
		if g.Class != e.Class || g.Support != e.Support || math.Abs(g.Precision-e.Precision) > 1e-12 ||
			math.Abs(g.Recall-e.Recall) > 1e-12 || math.Abs(g.F1-e.F1) > 1e-12 {
			t.Errorf("class %s: %+v, want %+v", e.Class, g, e)
		}
	}
	if !m.hasOther() {
		t.Error("the prediction outside the classes is not counted")
	}
}
