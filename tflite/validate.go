package tflite

import (
	"fmt"
	"math"
)

// validate checks every index, shape and size in the model, so that the
// interpreter can trust them.
func (m *Model) validate(lim Limits) error {
	for i, md := range m.Metadata {
		if md.Buffer < 0 || md.Buffer >= len(m.Buffers) {
			return fmt.Errorf("metadata %d (%q): buffer %d out of range", i, md.Name, md.Buffer)
		}
	}
	for i, s := range m.Signatures {
		if s.Subgraph < 0 || s.Subgraph >= len(m.Subgraphs) {
			return fmt.Errorf("signature %d (%q): subgraph %d out of range", i, s.Key, s.Subgraph)
		}
		n := len(m.Subgraphs[s.Subgraph].Tensors)
		for _, st := range append(append([]SignatureTensor(nil), s.Inputs...), s.Outputs...) {
			if st.Tensor < 0 || st.Tensor >= n {
				return fmt.Errorf("signature %d (%q): tensor %d of %q out of range", i, s.Key, st.Tensor, st.Name)
			}
		}
	}
	for si := range m.Subgraphs {
		if err := m.validateSubgraph(&m.Subgraphs[si], lim); err != nil {
			return fmt.Errorf("subgraph %d: %w", si, err)
		}
	}
	return nil
}

func (m *Model) validateSubgraph(sg *Subgraph, lim Limits) error {
	n := len(sg.Tensors)
	for i := range sg.Tensors {
		if err := m.validateTensor(&sg.Tensors[i], lim); err != nil {
			return fmt.Errorf("tensor %d (%s): %w", i, sg.Tensors[i].Name, err)
		}
	}
	// written marks tensors that hold a value at the current point of
	// execution: constants, graph inputs, variables, then each op's outputs.
	written := make([]bool, n)
	for i, t := range sg.Tensors {
		written[i] = len(m.Buffers[t.Buffer]) > 0 || t.IsVariable
	}
	for _, in := range sg.Inputs {
		if in < 0 || in >= n {
			return fmt.Errorf("graph input %d out of range (%d tensors)", in, n)
		}
		if len(m.Buffers[sg.Tensors[in].Buffer]) > 0 {
			return fmt.Errorf("graph input %d (%s) is a constant", in, sg.Tensors[in].Name)
		}
		written[in] = true
	}
	for oi := range sg.Operators {
		op := &sg.Operators[oi]
		for _, in := range op.Inputs {
			if in == -1 {
				continue
			}
			if in < 0 || in >= n {
				return fmt.Errorf("operator %d (%s): input tensor %d out of range (%d tensors)", oi, op.Op, in, n)
			}
			if !written[in] {
				return fmt.Errorf("operator %d (%s): reads tensor %d (%s) before anything writes it", oi, op.Op, in, sg.Tensors[in].Name)
			}
		}
		if len(op.Outputs) == 0 {
			return fmt.Errorf("operator %d (%s): has no outputs", oi, op.Op)
		}
		for _, out := range op.Outputs {
			if out < 0 || out >= n {
				return fmt.Errorf("operator %d (%s): output tensor %d out of range (%d tensors)", oi, op.Op, out, n)
			}
			if len(m.Buffers[sg.Tensors[out].Buffer]) > 0 {
				return fmt.Errorf("operator %d (%s): writes constant tensor %d (%s)", oi, op.Op, out, sg.Tensors[out].Name)
			}
			if written[out] && !sg.Tensors[out].IsVariable {
				return fmt.Errorf("operator %d (%s): tensor %d (%s) is written twice", oi, op.Op, out, sg.Tensors[out].Name)
			}
			written[out] = true
		}
	}
	for _, out := range sg.Outputs {
		if out < 0 || out >= n {
			return fmt.Errorf("graph output %d out of range (%d tensors)", out, n)
		}
		if !written[out] {
			return fmt.Errorf("graph output %d (%s) is never written", out, sg.Tensors[out].Name)
		}
	}
	return nil
}

func (m *Model) validateTensor(t *TensorDef, lim Limits) error {
	if len(t.Shape) > lim.MaxRank {
		return fmt.Errorf("rank %d exceeds the limit of %d", len(t.Shape), lim.MaxRank)
	}
	if t.Buffer < 0 || t.Buffer >= len(m.Buffers) {
		return fmt.Errorf("buffer %d out of range (%d buffers)", t.Buffer, len(m.Buffers))
	}
	if _, ok := typeNames[t.Type]; !ok {
		return fmt.Errorf("unknown tensor type %d", t.Type)
	}
	n, err := elementCount(t.Shape)
	if err != nil {
		return err
	}
	// A zero dimension empties a tensor, but kernels still loop over the
	// others, so they count against the limit too.
	size := int64(max(t.Type.Size(), 1))
	if span := nonZeroProduct(t.Shape); span > lim.MaxTensorBytes/size {
		return fmt.Errorf("shape %v of %s spans %d elements, over the limit of %d bytes", t.Shape, t.Type, span, lim.MaxTensorBytes)
	}
	if data := m.Buffers[t.Buffer]; len(data) > 0 && t.Type.Size() > 0 && int64(len(data)) != n*size {
		return fmt.Errorf("constant data is %d bytes, shape %v of %s needs %d", len(data), t.Shape, t.Type, n*size)
	}
	if q := t.Quant; q != nil {
		if err := validateQuant(q, t); err != nil {
			return fmt.Errorf("quantization: %w", err)
		}
	}
	return nil
}

func validateQuant(q *Quantization, t *TensorDef) error {
	if len(q.Scale) != len(q.ZeroPoint) {
		return fmt.Errorf("%d scales but %d zero points", len(q.Scale), len(q.ZeroPoint))
	}
	for _, s := range q.Scale {
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) || s < 0 {
			return fmt.Errorf("scale %v is not a finite non-negative number", s)
		}
	}
	lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
	switch t.Type {
	case Uint8:
		lo, hi = 0, 255
	case Int8:
		lo, hi = -128, 127
	case Int16:
		lo, hi = -32768, 32767
	}
	for _, z := range q.ZeroPoint {
		if z < lo || z > hi {
			return fmt.Errorf("zero point %d is outside the range of %s", z, t.Type)
		}
	}
	if len(q.Scale) > 1 {
		if q.Dim < 0 || q.Dim >= len(t.Shape) {
			// TFLite Micro's converters wrote biases carrying the filter's
			// dimension; on a 1-D tensor of matching length the only
			// meaningful axis is 0.
			if len(t.Shape) == 1 && t.Shape[0] == len(q.Scale) {
				q.Dim = 0
			} else {
				return fmt.Errorf("quantized dimension %d is outside the shape %v", q.Dim, t.Shape)
			}
		}
		if t.Shape[q.Dim] != len(q.Scale) {
			return fmt.Errorf("%d scales for dimension %d of size %d", len(q.Scale), q.Dim, t.Shape[q.Dim])
		}
	}
	return nil
}

// nonZeroProduct multiplies the dimensions of shape other than zeros,
// saturating at math.MaxInt64 (shapes have no negative dimensions here).
func nonZeroProduct(shape []int) int64 {
	n := int64(1)
	for _, d := range shape {
		if d == 0 {
			continue
		}
		if n > math.MaxInt64/int64(d) {
			return math.MaxInt64
		}
		n *= int64(d)
	}
	return n
}

// elementCount multiplies the dimensions of shape, refusing negative
// dimensions and overflow.
func elementCount(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d > 0 && n > math.MaxInt64/4/int64(d) {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= int64(d)
	}
	return n, nil
}
