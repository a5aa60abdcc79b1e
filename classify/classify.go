// Package classify turns images into labelled scores with a .tflite image
// classifier: preprocessing from the model's input tensor, one inference,
// dequantized scores, top-K.
package classify

import (
	"fmt"
	"image"
	"sort"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/tflite"
)

// Engine runs a model. The pure-Go *tflite.Interpreter is one; backends
// over other runtimes (the TensorFlow Lite C library) are others.
type Engine interface {
	Inputs() []*tflite.Tensor
	Outputs() []*tflite.Tensor
	Invoke() error
	Close()
}

// NewEngineFunc creates an engine for a model.
type NewEngineFunc func(m *tflite.Model, threads int) (Engine, error)

// GoEngine is the pure-Go engine, the default.
func GoEngine(m *tflite.Model, threads int) (Engine, error) {
	return tflite.NewInterpreter(m, &tflite.Options{Threads: threads})
}

// Options configure a Classifier.
type Options struct {
	Threads int
	// NewEngine creates the engine; nil means GoEngine.
	NewEngine NewEngineFunc
	// Labels name the classes; nil takes them from the model's metadata.
	Labels []string
	Fit    camera.Fit
}

// Result is one class and its score.
type Result struct {
	Index int     `json:"index"`
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Classifier runs one model on images. It is not safe for concurrent use;
// create one per goroutine (they can share the *tflite.Model).
type Classifier struct {
	Model  *tflite.Model
	Spec   camera.InputSpec
	Labels []string
	it     Engine
	scores []float32
	order  []int
}

// New prepares a classifier for model m.
func New(m *tflite.Model, opts Options) (*Classifier, error) {
	newEngine := opts.NewEngine
	if newEngine == nil {
		newEngine = GoEngine
	}
	it, err := newEngine(m, opts.Threads)
	if err != nil {
		return nil, err
	}
	if len(it.Inputs()) != 1 || len(it.Outputs()) < 1 {
		it.Close()
		return nil, fmt.Errorf("an image classifier needs 1 input and at least 1 output, model has %d and %d", len(it.Inputs()), len(it.Outputs()))
	}
	spec, err := camera.SpecFor(m, it.Inputs()[0])
	if err != nil {
		it.Close()
		return nil, err
	}
	spec.Fit = opts.Fit
	c := &Classifier{Model: m, Spec: spec, it: it, Labels: opts.Labels}
	if c.Labels == nil {
		c.Labels = m.Labels()
	}
	c.scores = make([]float32, it.Outputs()[0].Len())
	c.order = make([]int, len(c.scores))
	return c, nil
}

// Engine exposes the underlying engine.
func (c *Classifier) Engine() Engine { return c.it }

// Input is the model's input tensor.
func (c *Classifier) Input() *tflite.Tensor { return c.it.Inputs()[0] }

// Output is the model's first output tensor (the scores).
func (c *Classifier) Output() *tflite.Tensor { return c.it.Outputs()[0] }

// Close releases the interpreter's workers.
func (c *Classifier) Close() { c.it.Close() }

// Classify resizes img, runs the model and returns the k best classes.
func (c *Classifier) Classify(img image.Image, k int) ([]Result, error) {
	if err := c.Spec.Load(c.Input(), img); err != nil {
		return nil, err
	}
	return c.Run(k)
}

// Run invokes the model on the input already loaded and returns the k best
// classes.
func (c *Classifier) Run(k int) ([]Result, error) {
	if err := c.it.Invoke(); err != nil {
		return nil, err
	}
	return c.Top(k), nil
}

// Scores returns the dequantized scores of the last run (shared memory).
func (c *Classifier) Scores() []float32 { return c.scores }

// Top returns the k best classes of the last run.
func (c *Classifier) Top(k int) []Result {
	c.Output().DequantizeInto(c.scores)
	idx := TopK(c.scores, k, c.order)
	out := make([]Result, len(idx))
	for i, j := range idx {
		out[i] = Result{Index: j, Label: c.Label(j), Score: c.scores[j]}
	}
	return out
}

// Label names class i, or returns "#i" when no label is known.
func (c *Classifier) Label(i int) string {
	return LabelOf(c.Labels, len(c.scores), i)
}

// LabelOf names output i of n given a labels list. A list one shorter
// than the outputs is taken to omit a leading background class.
func LabelOf(labels []string, n, i int) string {
	switch {
	case len(labels) == n && i < n:
		return labels[i]
	case len(labels) == n-1 && i > 0:
		return labels[i-1]
	}
	return fmt.Sprintf("#%d", i)
}

// TopK returns the indices of the k largest scores, best first (ties by
// lower index). order is scratch space of len(scores), or nil.
func TopK(scores []float32, k int, order []int) []int {
	if len(order) < len(scores) {
		order = make([]int, len(scores))
	}
	order = order[:len(scores)]
	for i := range order {
		order[i] = i
	}
	k = min(k, len(scores))
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	return append([]int(nil), order[:k]...)
}
