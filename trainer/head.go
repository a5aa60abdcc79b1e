package trainer

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/edgeclass/edgeclass/internal/progress"
)

// HeadConfig configures training of the new classifier head (dropout, one
// dense layer, softmax) on frozen features.
type HeadConfig struct {
	Epochs         int     `json:"epochs"`          // at most this many passes over the training set
	BatchSize      int     `json:"batch_size"`      // examples per Adam step
	LearningRate   float64 `json:"learning_rate"`   // peak rate; cosine decay to 1% over Epochs
	Dropout        float64 `json:"dropout"`         // rate on the features during training
	LabelSmoothing float64 `json:"label_smoothing"` // share of the target spread over all classes
	WeightDecay    float64 `json:"weight_decay"`    // decoupled (AdamW) decay of the weights
	Patience       int     `json:"patience"`        // stop after this many epochs without a better val loss
	// Balance is "none", "weights" (loss weighted by inverse class
	// frequency) or "sample" (classes drawn equally often).
	Balance string `json:"balance"`
}

// DefaultHead is a configuration that works for ImageNet features.
var DefaultHead = HeadConfig{Epochs: 40, BatchSize: 32, LearningRate: 1e-3, Dropout: 0.2, LabelSmoothing: 0.1, Patience: 6, Balance: "none"}

// Check validates the configuration.
func (c HeadConfig) Check() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("head: epochs %d < 1", c.Epochs)
	case c.BatchSize < 1:
		return fmt.Errorf("head: batch size %d < 1", c.BatchSize)
	case !(c.LearningRate > 0 && c.LearningRate < 10):
		return fmt.Errorf("head: learning rate %v out of range (0, 10)", c.LearningRate)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("head: dropout %v out of range [0, 1)", c.Dropout)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		return fmt.Errorf("head: label smoothing %v out of range [0, 1)", c.LabelSmoothing)
	case c.WeightDecay < 0:
		return fmt.Errorf("head: weight decay %v < 0", c.WeightDecay)
	case c.Patience < 0:
		return fmt.Errorf("head: patience %d < 0", c.Patience)
	case c.Balance != "none" && c.Balance != "weights" && c.Balance != "sample":
		return fmt.Errorf("head: balance %q: want none, weights or sample", c.Balance)
	}
	return nil
}

// Head is a dense layer with softmax: p = softmax(W x + B).
type Head struct {
	Classes, Dim int
	W            []float32 // [Classes][Dim], row-major (FULLY_CONNECTED's layout)
	B            []float32 // [Classes]
}

// Probs writes the class probabilities of feature vector x into p.
func (h *Head) Probs(x, p []float32) {
	for k := 0; k < h.Classes; k++ {
		p[k] = h.B[k] + dot(h.W[k*h.Dim:(k+1)*h.Dim], x)
	}
	softmax(p[:h.Classes])
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func softmax(z []float32) {
	m := z[0]
	for _, v := range z {
		m = max(m, v)
	}
	var s float32
	for i, v := range z {
		z[i] = float32(math.Exp(float64(v - m)))
		s += z[i]
	}
	for i := range z {
		z[i] /= s
	}
}

// Epoch is the record of one training epoch.
type Epoch struct {
	Epoch     int     `json:"epoch"`
	LR        float64 `json:"learning_rate"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_accuracy"`
	ValLoss   float64 `json:"val_loss"`
	ValAcc    float64 `json:"val_accuracy"`
}

// examples are labelled feature vectors: x[i][v] is view v of example i.
type examples struct {
	x [][][]float32
	y []int
}

// adam holds Adam's moment estimates for one parameter vector.
type adam struct{ m, v []float32 }

func newAdam(n int) *adam { return &adam{make([]float32, n), make([]float32, n)} }

// step applies gradient g to p at step t (from 1) with learning rate lr and
// decoupled weight decay wd.
func (a *adam) step(p, g []float32, t int, lr, wd float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-7
	c1 := 1 - math.Pow(b1, float64(t))
	c2 := 1 - math.Pow(b2, float64(t))
	for i := range p {
		gi := float64(g[i])
		m := b1*float64(a.m[i]) + (1-b1)*gi
		v := b2*float64(a.v[i]) + (1-b2)*gi*gi
		a.m[i], a.v[i] = float32(m), float32(v)
		upd := lr*(m/c1)/(math.Sqrt(v/c2)+eps) + lr*wd*float64(p[i])
		p[i] -= float32(upd)
	}
}

// trainHead trains a head with Adam on the training examples (a random
// view of each per epoch) and keeps the weights of the epoch with the
// lowest validation loss, stopping early after cfg.Patience epochs without
// improvement. It runs on one goroutine in a fixed order, so a seed gives
// the same weights on a given machine.
func trainHead(train, val examples, classes int, cfg HeadConfig, seed uint64, log io.Writer) (*Head, []Epoch, int, error) {
	if err := cfg.Check(); err != nil {
		return nil, nil, 0, err
	}
	if len(train.y) == 0 {
		return nil, nil, 0, fmt.Errorf("head: no training examples")
	}
	dim := len(train.x[0][0])
	h := &Head{Classes: classes, Dim: dim, W: make([]float32, classes*dim), B: make([]float32, classes)}
	rng := rand.New(rand.NewPCG(seed, 0x6865616420))
	count := make([]int, classes)
	byClass := make([][]int, classes)
	for i, y := range train.y {
		count[y]++
		byClass[y] = append(byClass[y], i)
	}
	weight := make([]float64, classes)
	for k := range weight {
		weight[k] = 1
		if cfg.Balance == "weights" && count[k] > 0 {
			weight[k] = float64(len(train.y)) / float64(classes*count[k])
		}
	}
	n := len(train.y)
	steps := cfg.Epochs * ((n + cfg.BatchSize - 1) / cfg.BatchSize)
	optW, optB := newAdam(len(h.W)), newAdam(len(h.B))
	gW, gB := make([]float32, len(h.W)), make([]float32, len(h.B))
	xd := make([]float32, dim)
	p := make([]float32, classes)
	best := &Head{Classes: classes, Dim: dim, W: make([]float32, len(h.W)), B: make([]float32, classes)}
	bestLoss, bestEpoch := math.Inf(1), 0
	var history []Epoch
	step := 0
	order := make([]int, n)
	keep := 1 - cfg.Dropout
	eps := cfg.LabelSmoothing
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		// The examples of this epoch.
		if cfg.Balance == "sample" {
			for i := range order {
				c := rng.IntN(classes)
				for len(byClass[c]) == 0 {
					c = rng.IntN(classes)
				}
				order[i] = byClass[c][rng.IntN(len(byClass[c]))]
			}
		} else {
			for i := range order {
				order[i] = i
			}
			rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		prog := progress.New(log, fmt.Sprintf("epoch %d/%d", epoch, cfg.Epochs), n)
		var lossSum, wSum float64
		correct := 0
		var lr float64
		for start := 0; start < n; start += cfg.BatchSize {
			end := min(n, start+cfg.BatchSize)
			clear(gW)
			clear(gB)
			for _, i := range order[start:end] {
				views := train.x[i]
				x := views[rng.IntN(len(views))]
				for j := range xd {
					if cfg.Dropout > 0 && rng.Float64() >= keep {
						xd[j] = 0
					} else {
						xd[j] = x[j] / float32(keep)
					}
				}
				h.Probs(xd, p)
				y := train.y[i]
				if argmax(p) == y {
					correct++
				}
				w := weight[y]
				for k := 0; k < classes; k++ {
					t := eps / float64(classes)
					if k == y {
						t += 1 - eps
					}
					if t > 0 {
						lossSum -= w * t * math.Log(math.Max(float64(p[k]), 1e-12))
					}
					g := float32(w * (float64(p[k]) - t))
					gB[k] += g
					axpy(g, xd, gW[k*dim:(k+1)*dim])
				}
				wSum += w
			}
			scale := 1 / float32(end-start)
			for j := range gW {
				gW[j] *= scale
			}
			for j := range gB {
				gB[j] *= scale
			}
			step++
			lr = cfg.LearningRate * (0.01 + 0.99*0.5*(1+math.Cos(math.Pi*float64(step-1)/float64(steps))))
			optW.step(h.W, gW, step, lr, cfg.WeightDecay)
			optB.step(h.B, gB, step, lr, 0)
			prog.Add(end-start, fmt.Sprintf("loss %.4f acc %.4f", lossSum/wSum, float64(correct)/float64(end)))
		}
		e := Epoch{Epoch: epoch, LR: lr, TrainLoss: lossSum / wSum, TrainAcc: float64(correct) / float64(n)}
		e.ValLoss, e.ValAcc = h.evaluate(val)
		history = append(history, e)
		mark := ""
		// Without a validation set the last epoch is kept.
		if len(val.y) == 0 || e.ValLoss < bestLoss-1e-5 {
			bestLoss, bestEpoch = e.ValLoss, epoch
			copy(best.W, h.W)
			copy(best.B, h.B)
			mark = " *best"
		}
		prog.Finish(fmt.Sprintf("loss %.4f acc %.4f  val_loss %.4f val_acc %.4f%s", e.TrainLoss, e.TrainAcc, e.ValLoss, e.ValAcc, mark))
		if len(val.y) > 0 && cfg.Patience > 0 && epoch-bestEpoch >= cfg.Patience {
			if log != nil {
				fmt.Fprintf(log, "early stop: no better val loss for %d epochs; keeping epoch %d\n", cfg.Patience, bestEpoch)
			}
			break
		}
	}
	return best, history, bestEpoch, nil
}

// evaluate returns the mean cross-entropy (without smoothing or weights)
// and accuracy on view 0 of the examples.
func (h *Head) evaluate(ex examples) (loss, acc float64) {
	if len(ex.y) == 0 {
		return 0, 0
	}
	p := make([]float32, h.Classes)
	correct := 0
	for i, y := range ex.y {
		h.Probs(ex.x[i][0], p)
		loss -= math.Log(math.Max(float64(p[y]), 1e-12))
		if argmax(p) == y {
			correct++
		}
	}
	return loss / float64(len(ex.y)), float64(correct) / float64(len(ex.y))
}

func axpy(a float32, x, y []float32) {
	for i := range x {
		y[i] += a * x[i]
	}
}

func argmax(p []float32) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}
