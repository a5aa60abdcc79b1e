package quantize

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/edgeclass/edgeclass/tflite"
)

// MaxSQNR is the SQNR reported for a tensor the quantized model reproduces
// exactly (dB).
const MaxSQNR = 120

// CompareOptions configure Compare.
type CompareOptions struct {
	Threads int
	// OutputOfClass maps a dataset label to the index of output 0 that
	// stands for it (see MatchClasses). When nil, the float model's top-1 is
	// the label: accuracy is then agreement.
	OutputOfClass []int
}

// Eval is how often two models pick the same class.
type Eval struct {
	Samples   int     `json:"samples"`
	Labels    string  `json:"labels"` // "folders", or "float model" when its predictions are the labels
	FloatTop1 float64 `json:"float_top1"`
	QuantTop1 float64 `json:"int8_top1"`
	Agreement float64 `json:"agreement"` // fraction of samples where both top-1 agree
	// EndsBound is the agreement the float model's exact logits reach
	// through the quantized model's 8-bit softmax input and output: no
	// quantization of the layers before can agree more often. 0 when the
	// models do not end in a SOFTMAX.
	EndsBound float64 `json:"ends_bound,omitempty"`
}

// LayerError compares a tensor of the quantized model, dequantized, with the
// same tensor of the float model on the same inputs.
type LayerError struct {
	Tensor  string  `json:"tensor"`
	Op      string  `json:"op"`       // the operator that writes it, or "input"
	OpIndex int     `json:"op_index"` // its position in the float graph (-1 for inputs)
	SQNR    float64 `json:"sqnr_db"`  // signal to quantization noise ratio
	MeanAbs float64 `json:"mean_abs_error"`
	// Drop is the SQNR lost at this operator: the lowest SQNR of its
	// inputs minus its own (0 for graph inputs). The operator that hurts
	// has the largest drop.
	Drop float64 `json:"sqnr_drop_db"`
}

// Comparison is the result of Compare.
type Comparison struct {
	Eval Eval
	// Layers are sorted by decreasing Drop.
	Layers []LayerError
}

// MatchClasses maps class names (a labelled image folder's) to indices of
// labels (a model's), ignoring case, spaces, '-' and '_'; of duplicate
// labels the first counts. It fails naming the classes that match no label.
func MatchClasses(classes, labels []string) ([]int, error) {
	norm := func(s string) string {
		return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(s)))
	}
	byName := map[string]int{}
	for i, l := range labels {
		if _, dup := byName[norm(l)]; !dup {
			byName[norm(l)] = i
		}
	}
	out := make([]int, len(classes))
	var missing []string
	for i, c := range classes {
		j, ok := byName[norm(c)]
		if !ok {
			missing = append(missing, c)
		}
		out[i] = j
	}
	if len(missing) > 0 {
		shown := labels
		if len(shown) > 10 {
			shown = append(shown[:10:10], "...")
		}
		return nil, fmt.Errorf("data classes %s are not among the model's %d labels %v", strings.Join(missing, ", "), len(labels), shown)
	}
	return out, nil
}

// pair is a tensor of the quantized model and its float counterpart.
type pair struct {
	f, q               int
	op                 int // float operator writing f, -1 for inputs
	sig, noise, abs, n float64
	sqnr               float64
	buf                []float32
}

// Compare runs float model fm and its quantized version qm on every sample of
// ds and reports top-1 accuracy and agreement (on output 0) and the error
// of every quantized tensor that has a float counterpart of the same name
// (or the same name plus Int8Suffix).
func Compare(fm, qm *tflite.Model, ds Dataset, o CompareOptions) (*Comparison, error) {
	if ds.Len() == 0 {
		return nil, fmt.Errorf("no samples to compare on")
	}
	fi, err := tflite.NewInterpreter(fm, &tflite.Options{KeepIntermediates: true, Threads: o.Threads})
	if err != nil {
		return nil, fmt.Errorf("float model: %w", err)
	}
	defer fi.Close()
	qi, err := tflite.NewInterpreter(qm, &tflite.Options{KeepIntermediates: true, Threads: o.Threads})
	if err != nil {
		return nil, fmt.Errorf("quantized model: %w", err)
	}
	defer qi.Close()
	pairs := matchTensors(fm, qm)
	ev := Eval{Samples: ds.Len(), Labels: "float model"}
	if o.OutputOfClass != nil {
		ev.Labels = "folders"
	}
	var floatOK, quantOK, agree, endsAgree int
	ends := newEndsBound(fm, qm)
	fout, qout := make([]float32, fi.Output(0).Len()), make([]float32, qi.Output(0).Len())
	for i := 0; i < ds.Len(); i++ {
		for _, it := range []*tflite.Interpreter{fi, qi} {
			if err := ds.Fill(it, i); err != nil {
				return nil, fmt.Errorf("sample %s: %w", ds.Name(i), err)
			}
			if err := it.Invoke(); err != nil {
				return nil, fmt.Errorf("sample %s: %w", ds.Name(i), err)
			}
		}
		fi.Output(0).DequantizeInto(fout)
		qi.Output(0).DequantizeInto(qout)
		ft, qt := argmax(fout), argmax(qout)
		want := ft
		if o.OutputOfClass != nil {
			want = -1
			if l := ds.Label(i); l >= 0 && l < len(o.OutputOfClass) {
				want = o.OutputOfClass[l]
			}
		}
		if ft == want {
			floatOK++
		}
		if qt == want {
			quantOK++
		}
		if ft == qt {
			agree++
		}
		if ends != nil && ends.top(fi.Tensor(ends.logits).Float32s()) == ft {
			endsAgree++
		}
		for _, p := range pairs {
			p.add(fi.Tensor(p.f).Float32s(), qi.Tensor(p.q))
		}
	}
	n := float64(ds.Len())
	ev.FloatTop1, ev.QuantTop1, ev.Agreement = float64(floatOK)/n, float64(quantOK)/n, float64(agree)/n
	if ends != nil {
		ev.EndsBound = float64(endsAgree) / n
	}
	return &Comparison{Eval: ev, Layers: layerErrors(fm, pairs)}, nil
}

func (p *pair) add(f []float32, q *tflite.Tensor) {
	q.DequantizeInto(p.buf)
	for i, v := range f {
		d := float64(v) - float64(p.buf[i])
		p.sig += float64(v) * float64(v)
		p.noise += d * d
		p.abs += math.Abs(d)
	}
	p.n += float64(len(f))
}

// matchTensors pairs the 8-bit activations of qm with the float activations
// of fm by name.
func matchTensors(fm, qm *tflite.Model) []*pair {
	fsg, qsg := fm.Main(), qm.Main()
	producer := map[int]int{}
	for i, op := range fsg.Operators {
		for _, t := range op.Outputs {
			producer[t] = i
		}
	}
	byName := map[string]int{}
	dup := map[string]bool{}
	for _, t := range activations(fm) {
		name := fsg.Tensors[t].Name
		if _, ok := byName[name]; ok {
			dup[name] = true
		}
		byName[name] = t
	}
	var pairs []*pair
	for q, def := range qsg.Tensors {
		if (def.Type != tflite.Int8 && def.Type != tflite.Uint8) || def.Quant == nil || len(def.Quant.Scale) != 1 || len(qm.Buffers[def.Buffer]) > 0 {
			continue
		}
		name := strings.TrimSuffix(def.Name, Int8Suffix)
		f, ok := byName[name]
		if !ok || dup[name] {
			continue
		}
		n := 1
		for _, d := range def.Shape {
			n *= d
		}
		fn := 1
		for _, d := range fsg.Tensors[f].Shape {
			fn *= d
		}
		if n != fn {
			continue
		}
		p := &pair{f: f, q: q, op: -1, buf: make([]float32, n)}
		if oi, ok := producer[f]; ok {
			p.op = oi
		}
		pairs = append(pairs, p)
	}
	return pairs
}

func layerErrors(fm *tflite.Model, pairs []*pair) []LayerError {
	sg := fm.Main()
	sqnr := map[int]float64{} // by float tensor; the best-matching copy wins
	for _, p := range pairs {
		p.sqnr = MaxSQNR
		if p.noise > 0 {
			p.sqnr = min(MaxSQNR, 10*math.Log10(p.sig/p.noise))
		}
		if s, ok := sqnr[p.f]; !ok || p.sqnr > s {
			sqnr[p.f] = p.sqnr
		}
	}
	var out []LayerError
	seen := map[int]bool{}
	for _, p := range pairs {
		if seen[p.f] || p.sqnr != sqnr[p.f] {
			continue
		}
		seen[p.f] = true
		le := LayerError{Tensor: sg.Tensors[p.f].Name, Op: "input", OpIndex: p.op, SQNR: p.sqnr, MeanAbs: p.abs / max(p.n, 1)}
		in := float64(MaxSQNR)
		if p.op >= 0 {
			op := &sg.Operators[p.op]
			le.Op = op.Op.String()
			for _, t := range op.Inputs {
				if s, ok := sqnr[t]; ok {
					in = min(in, s)
				}
			}
		}
		if p.op >= 0 {
			le.Drop = in - p.sqnr
		}
		out = append(out, le)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Drop > out[b].Drop })
	return out
}

func argmax[T float32 | float64](v []T) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
