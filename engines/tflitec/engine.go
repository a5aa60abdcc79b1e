//go:build tflitec && cgo

package tflitec

/*
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"

	gotflite "github.com/mattn/go-tflite"

	"github.com/edgeclass/edgeclass/tflite"
)

// Engine runs one model on the C library. Like the pure-Go interpreter it
// is not safe for concurrent use; create one per goroutine.
type Engine struct {
	delegate  string
	model     *gotflite.Model
	interp    *gotflite.Interpreter
	rep       *C.ec_reporter
	del       *C.TfLiteDelegate
	destroy   unsafe.Pointer
	inspector *C.TfLiteDelegate
	plan      *C.ec_plan
	cin, cout []*gotflite.Tensor
	in, out   []*tflite.Tensor
	placement Placement
}

// Placement says where a model's operators run.
type Placement struct {
	// Delegate is the delegate applied ("" for none).
	Delegate string
	// Ops is the number of operators in the model's main graph.
	Ops int
	// Known is false when no delegate was applied: the C API shows the
	// execution plan only to delegates, so without one it cannot be read.
	Known bool
	// Nodes is the number of nodes in the execution plan after
	// delegation, of which Kernels are delegate kernels named Names.
	Nodes, Kernels int
	Names          []string
}

// Delegated is the number of the model's operators the delegate kernels
// replaced.
func (p Placement) Delegated() int { return p.Ops - (p.Nodes - p.Kernels) }

func (p Placement) String() string {
	switch {
	case p.Delegate == "":
		return fmt.Sprintf("%d operators on the CPU (TensorFlow Lite's kernels; the library may apply its default XNNPACK delegate by itself)", p.Ops)
	case !p.Known:
		return fmt.Sprintf("%s: the library did not show the execution plan", p.Delegate)
	case p.Kernels == 0:
		return fmt.Sprintf("%s took none of the %d operators; all run on the CPU", p.Delegate, p.Ops)
	}
	return fmt.Sprintf("%s took %d of %d operators (%.0f%%) into %d kernel(s) (%s); %d run on the CPU",
		p.Delegate, p.Delegated(), p.Ops, 100*float64(p.Delegated())/float64(max(p.Ops, 1)), p.Kernels,
		strings.Join(p.Names, ", "), p.Nodes-p.Kernels)
}

// edgeTPUOp is the custom operator edgetpu_compiler puts in a model for
// the part it maps to the Edge TPU.
const edgeTPUOp = "edgetpu-custom-op"

// NewEngine prepares model m to run with the backend's delegate, using
// threads CPU threads.
func (b *Backend) NewEngine(m *tflite.Model, threads int) (*Engine, error) {
	threads = max(threads, 1)
	sg := m.Main()
	if b.opts.Delegate != EdgeTPU && slices.ContainsFunc(sg.Operators, func(op tflite.Operator) bool { return op.Custom == edgeTPUOp }) {
		return nil, fmt.Errorf("the model was compiled for the Edge TPU (it has %s operators): it runs only with delegate edgetpu", edgeTPUOp)
	}
	raw := m.Raw()
	if len(raw) == 0 {
		var err error
		if raw, err = m.Marshal(); err != nil {
			return nil, err
		}
	}
	e := &Engine{delegate: b.opts.Delegate, rep: C.ec_reporter_new()}
	if e.rep == nil {
		return nil, errors.New("out of memory")
	}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	if e.model = gotflite.NewModel(raw); e.model == nil {
		return nil, fmt.Errorf("the TensorFlow Lite C library rejected the model (%d bytes)", len(raw))
	}
	opts := gotflite.NewInterpreterOptions()
	if opts == nil {
		return nil, errors.New("TfLiteInterpreterOptionsCreate failed")
	}
	defer opts.Delete()
	copts, err := cOptions(opts)
	if err != nil {
		return nil, err
	}
	C.ec_reporter_attach(e.rep, copts)
	opts.SetNumThread(threads)
	if b.opts.Delegate != None {
		if e.del = b.newDelegate(threads); e.del == nil {
			return nil, &UnavailableError{b.opts.Delegate, "creating the delegate failed" + e.messages(": ")}
		}
		e.destroy = b.destroy
		opts.AddDelegate(cDelegate{e.del})
		if e.plan = (*C.ec_plan)(C.calloc(1, C.sizeof_ec_plan)); e.plan == nil {
			return nil, errors.New("out of memory")
		}
		if e.inspector = C.ec_inspector_new(e.plan); e.inspector == nil {
			return nil, errors.New("out of memory")
		}
		opts.AddDelegate(cDelegate{e.inspector})
	}
	if e.interp = gotflite.NewInterpreter(e.model, opts); e.interp == nil {
		return nil, fmt.Errorf("the TensorFlow Lite C library cannot run the model%s", e.messages(": "))
	}
	if e.interp.AllocateTensors() != gotflite.OK {
		return nil, fmt.Errorf("allocating tensors%s", e.messages(": "))
	}
	if e.in, e.cin, err = e.wrap(sg, sg.Inputs, e.interp.GetInputTensorCount(), e.interp.GetInputTensor); err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	if e.out, e.cout, err = e.wrap(sg, sg.Outputs, e.interp.GetOutputTensorCount(), e.interp.GetOutputTensor); err != nil {
		return nil, fmt.Errorf("outputs: %w", err)
	}
	e.placement = Placement{Ops: len(sg.Operators)}
	if e.plan != nil {
		e.placement.Delegate = b.opts.Delegate
		e.placement.Known = e.plan.ok != 0
		e.placement.Nodes, e.placement.Kernels = int(e.plan.nodes), int(e.plan.kernels)
		if names := C.GoString(&e.plan.names[0]); names != "" {
			e.placement.Names = strings.Split(names, ",")
		}
	}
	ok = true
	return e, nil
}

// wrap describes the library's tensors as *tflite.Tensor over their memory,
// after checking that the library sees them as the model declares them.
func (e *Engine) wrap(sg *tflite.Subgraph, indices []int, count int, get func(int) *gotflite.Tensor) ([]*tflite.Tensor, []*gotflite.Tensor, error) {
	if count != len(indices) {
		return nil, nil, fmt.Errorf("the library has %d, the model declares %d", count, len(indices))
	}
	var ts []*tflite.Tensor
	var cs []*gotflite.Tensor
	for i, idx := range indices {
		ct := get(i)
		if ct == nil {
			return nil, nil, fmt.Errorf("tensor %d: the library returned none", i)
		}
		def := &sg.Tensors[idx]
		if err := check(ct, def); err != nil {
			return nil, nil, err
		}
		var data []byte
		if n := ct.ByteSize(); n > 0 {
			data = unsafe.Slice((*byte)(ct.Data()), n)
		}
		t, err := tflite.NewTensor(idx, def, data)
		if err != nil {
			return nil, nil, err
		}
		ts, cs = append(ts, t), append(cs, ct)
	}
	return ts, cs, nil
}

// check compares the library's view of a tensor with the model's.
func check(ct *gotflite.Tensor, def *tflite.TensorDef) error {
	typ, ok := tensorTypes[ct.Type()]
	if !ok || typ != def.Type {
		return fmt.Errorf("tensor %q: the library says type %d, the model %s", def.Name, ct.Type(), def.Type)
	}
	if shape := ct.Shape(); !slices.Equal(shape, def.Shape) {
		return fmt.Errorf("tensor %q: the library says shape %v, the model %v", def.Name, shape, def.Shape)
	}
	if q := def.Quant; q != nil && len(q.Scale) == 1 {
		p := ct.QuantizationParams()
		if math.Abs(p.Scale-float64(q.Scale[0])) > 1e-6*math.Abs(float64(q.Scale[0])) || int64(p.ZeroPoint) != q.ZeroPoint[0] {
			return fmt.Errorf("tensor %q: the library says scale %g zero point %d, the model %g and %d", def.Name, p.Scale, p.ZeroPoint, q.Scale[0], q.ZeroPoint[0])
		}
	}
	return nil
}

// messages returns the library's reports since the last call, one per
// line, joined after prefix, or "".
func (e *Engine) messages(prefix string) string {
	s := C.ec_reporter_take(e.rep)
	if s == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(s))
	if m := C.GoString(s); m != "" {
		return prefix + strings.ReplaceAll(m, "\n", "; ")
	}
	return ""
}

// Inputs returns the model's input tensors, over the library's memory.
func (e *Engine) Inputs() []*tflite.Tensor { return e.in }

// Outputs returns the model's output tensors, over the library's memory.
func (e *Engine) Outputs() []*tflite.Tensor { return e.out }

// Placement says where the model's operators run.
func (e *Engine) Placement() Placement { return e.placement }

// Invoke runs the model on the current inputs.
func (e *Engine) Invoke() error {
	if e.interp == nil {
		return errors.New("the engine is closed")
	}
	if e.interp.Invoke() != gotflite.OK {
		return fmt.Errorf("the TensorFlow Lite C library failed to run the model%s", e.messages(": "))
	}
	// The tensors point into the library's memory; it must not have moved
	// them (it does not for models with fixed shapes).
	if err := moved(e.cin, e.in); err != nil {
		return fmt.Errorf("input %w", err)
	}
	if err := moved(e.cout, e.out); err != nil {
		return fmt.Errorf("output %w", err)
	}
	return nil
}

func moved(cs []*gotflite.Tensor, ts []*tflite.Tensor) error {
	for i, ct := range cs {
		if b := ts[i].Bytes(); len(b) > 0 && ct.Data() != unsafe.Pointer(&b[0]) {
			return fmt.Errorf("%d moved in the library's memory", i)
		}
	}
	return nil
}

// Close frees the interpreter, the delegate and the model, in that order.
// It is safe to call more than once.
func (e *Engine) Close() {
	if e.interp != nil {
		e.interp.Delete()
		e.interp = nil
	}
	if e.del != nil {
		C.ec_delegate_delete(e.destroy, e.del)
		e.del = nil
	}
	if e.inspector != nil {
		C.ec_inspector_free(e.inspector)
		e.inspector = nil
	}
	if e.plan != nil {
		C.free(unsafe.Pointer(e.plan))
		e.plan = nil
	}
	if e.model != nil {
		e.model.Delete()
		e.model = nil
	}
	if e.rep != nil {
		C.ec_reporter_free(e.rep)
		e.rep = nil
	}
	e.in, e.out, e.cin, e.cout = nil, nil, nil, nil
}
