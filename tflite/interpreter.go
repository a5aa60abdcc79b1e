package tflite

import (
	"fmt"
	"runtime"
	"sort"

	"github.com/edgeclass/edgeclass/tflite/internal/kern"
)

// Options configure an interpreter. The zero value runs on one thread.
type Options struct {
	// Threads is the number of goroutines kernels split work over; 0 or 1
	// runs everything on the calling goroutine.
	Threads int
	// MaxArenaBytes bounds the memory for activations and for the index
	// maps kernels build when prepared; 0 means the default limit
	// (DefaultLimits.MaxArenaBytes).
	MaxArenaBytes int64
	// KeepIntermediates gives every tensor its own memory, so all
	// intermediate values can be read after Invoke (calibration, debugging).
	KeepIntermediates bool
	// Requantization selects how quantized convolutions and fully
	// connected layers round their results.
	Requantization Requantization
}

// Requantization is a rounding scheme for quantized kernels.
type Requantization int

const (
	// RequantizeFloat multiplies the int32 accumulator by a float32 scale
	// and rounds to nearest even, as XNNPACK does. It is the default of
	// Google's TFLite runtime on CPUs, and ours; outputs match it bit for
	// bit.
	RequantizeFloat Requantization = iota
	// RequantizeFixedPoint uses the Q31 fixed-point multiply of TFLite's
	// reference kernels, with their double rounding.
	RequantizeFixedPoint
)

// Interpreter runs subgraph 0 of a model. Create one per goroutine; all
// memory is planned when it is created, and Invoke does not allocate.
type Interpreter struct {
	model   *Model
	sg      *Subgraph
	tensors []*Tensor
	inputs  []*Tensor
	outputs []*Tensor
	kernels []kernel
	arena   []byte
	spare   int64 // bytes of the memory limit the arena leaves to kernels
	pool    *pool
	requant Requantization
}

// kernel is a prepared operator: all checks are done and all scratch
// memory is allocated, so eval cannot fail.
type kernel interface {
	eval()
}

// NewInterpreter prepares model m to run: it checks every operator, plans
// memory and packs weights (once per model).
func NewInterpreter(m *Model, opts *Options) (*Interpreter, error) {
	if opts == nil {
		opts = &Options{}
	}
	it := &Interpreter{model: m, sg: m.Main(), requant: opts.Requantization}
	if err := it.checkOps(); err != nil {
		return nil, err
	}
	maxArena := opts.MaxArenaBytes
	if maxArena <= 0 {
		maxArena = DefaultLimits.MaxArenaBytes
	}
	if err := it.allocate(maxArena, opts.KeepIntermediates); err != nil {
		return nil, err
	}
	it.pool = newPool(opts.Threads)
	for i := range it.sg.Operators {
		op := &it.sg.Operators[i]
		k, err := prepare(&opContext{it: it, op: op, index: i})
		if err != nil {
			it.pool.close()
			return nil, fmt.Errorf("operator %d (%s): %w", i, opName(op), err)
		}
		it.kernels = append(it.kernels, k)
	}
	for _, i := range it.sg.Inputs {
		it.inputs = append(it.inputs, it.tensors[i])
	}
	for _, i := range it.sg.Outputs {
		it.outputs = append(it.outputs, it.tensors[i])
	}
	if it.pool.n > 1 {
		runtime.AddCleanup(it, func(p *pool) { p.close() }, it.pool)
	}
	return it, nil
}

// checkOps names every operator the engine cannot run, before any work.
func (it *Interpreter) checkOps() error {
	var missing []string
	seen := map[string]bool{}
	for _, op := range it.sg.Operators {
		if _, ok := registry[op.Op]; ok && op.Op != OpCustom {
			continue
		}
		name := opName(&op)
		if !seen[name] {
			seen[name] = true
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("model uses operators this engine does not support: %v", missing)
	}
	return nil
}

func opName(op *Operator) string {
	if op.Op == OpCustom {
		return fmt.Sprintf("CUSTOM(%s)", op.Custom)
	}
	return op.Op.String()
}

// epilogue adapts a shared, cached epilogue to the interpreter's rounding.
func (it *Interpreter) epilogue(ep *kern.QEpilogue) *kern.QEpilogue {
	if it.requant == RequantizeFloat {
		return ep
	}
	fixed := *ep
	fixed.Scale = nil
	return &fixed
}

// Model returns the model the interpreter runs.
func (it *Interpreter) Model() *Model { return it.model }

// Inputs returns the graph's input tensors in order.
func (it *Interpreter) Inputs() []*Tensor { return it.inputs }

// Outputs returns the graph's output tensors in order.
func (it *Interpreter) Outputs() []*Tensor { return it.outputs }

// Input returns input i.
func (it *Interpreter) Input(i int) *Tensor { return it.inputs[i] }

// Output returns output i.
func (it *Interpreter) Output(i int) *Tensor { return it.outputs[i] }

// Tensor returns tensor i of the graph. Intermediate tensors share memory
// (unless Options.KeepIntermediates is set), so their contents are only
// meaningful until a later operator reuses it.
func (it *Interpreter) Tensor(i int) *Tensor { return it.tensors[i] }

// Invoke runs the graph on the current inputs.
func (it *Interpreter) Invoke() error {
	for _, k := range it.kernels {
		k.eval()
	}
	return nil
}

// Close stops the interpreter's worker goroutines. Using the interpreter
// afterwards runs kernels on the calling goroutine only.
func (it *Interpreter) Close() { it.pool.close() }

// allocate creates runtime tensors and lays activations out in one arena.
// Tensors whose lifetimes do not overlap share memory (greedy by size, as
// TFLite's arena planner does).
func (it *Interpreter) allocate(maxArena int64, keepAll bool) error {
	sg := it.sg
	n := len(sg.Tensors)
	it.tensors = make([]*Tensor, n)
	first := make([]int, n)
	last := make([]int, n)
	for i := range first {
		first[i], last[i] = -2, -2
	}
	end := len(sg.Operators)
	use := func(t, step int) {
		if first[t] == -2 {
			first[t] = step
		}
		if step > last[t] {
			last[t] = step
		}
	}
	for _, t := range sg.Inputs {
		use(t, -1)
	}
	for oi, op := range sg.Operators {
		for _, t := range op.Inputs {
			if t >= 0 {
				use(t, oi)
			}
		}
		for _, t := range op.Outputs {
			use(t, oi)
		}
	}
	for _, t := range sg.Outputs {
		use(t, end)
	}
	type block struct {
		t          int
		size       int64
		first, end int
		off        int64
	}
	var blocks []*block
	for i := range sg.Tensors {
		def := &sg.Tensors[i]
		count, _ := elementCount(def.Shape) // validated
		t := &Tensor{index: i, def: def, n: int(count)}
		it.tensors[i] = t
		if data := it.model.Buffers[def.Buffer]; len(data) > 0 {
			// Load aligns what it reads; models built in memory may not
			// be, and typed views need it (a copy only then).
			t.data = aligned(data)
			continue
		}
		if first[i] == -2 {
			continue // unused
		}
		if def.Type.Size() == 0 {
			return fmt.Errorf("tensor %d (%s): type %s is not supported", i, def.Name, def.Type)
		}
		if def.IsVariable || keepAll {
			first[i], last[i] = -1, end
		}
		size := (count*int64(def.Type.Size()) + 63) &^ 63
		blocks = append(blocks, &block{t: i, size: size, first: first[i], end: last[i]})
	}
	sort.SliceStable(blocks, func(a, b int) bool { return blocks[a].size > blocks[b].size })
	var placed []*block // sorted by offset
	var total int64
	for _, b := range blocks {
		off := int64(0)
		for _, p := range placed {
			if p.end < b.first || b.end < p.first {
				continue // lifetimes do not overlap
			}
			if off+b.size <= p.off {
				break
			}
			if p.off+p.size > off {
				off = p.off + p.size
			}
		}
		b.off = off
		i := sort.Search(len(placed), func(i int) bool { return placed[i].off > off })
		placed = append(placed, nil)
		copy(placed[i+1:], placed[i:])
		placed[i] = b
		if off+b.size > total {
			total = off + b.size
		}
		if total > maxArena {
			return fmt.Errorf("activations need more than %d bytes (limit %d)", total, maxArena)
		}
	}
	it.arena = alignedBytes(int(total))
	it.spare = maxArena - total
	for _, b := range blocks {
		t := it.tensors[b.t]
		t.data = it.arena[b.off : b.off+int64(t.n*t.def.Type.Size()) : b.off+b.size]
	}
	return nil
}
