package quantize

import (
	"fmt"
	"io"
	"strings"

	"github.com/edgeclass/edgeclass/tflite"
)

// Report gathers what a quantization run measured; edgeclass quantize
// prints it and writes it as JSON.
type Report struct {
	Model              string            `json:"model"`
	Output             string            `json:"output"`
	Method             string            `json:"method"`
	Percentile         float64           `json:"percentile,omitempty"`
	Refine             string            `json:"refine"`
	InputType          string            `json:"input_type"`
	OutputType         string            `json:"output_type"`
	CalibrationSamples int               `json:"calibration_samples"`
	FloatBytes         int               `json:"float_bytes"`
	QuantBytes         int               `json:"int8_bytes"`
	SizeRatio          float64           `json:"size_ratio"`
	Eval               *Eval             `json:"eval,omitempty"`
	Layers             []LayerError      `json:"layers,omitempty"`
	Ranges             []TensorRange     `json:"ranges"`
	EdgeTPUChecked     bool              `json:"edgetpu_checked"`
	EdgeTPUFallbacks   []EdgeTPUFallback `json:"edgetpu_fallbacks,omitempty"`
}

// TensorRange is one activation's calibrated range and the parameters the
// quantized model gives it.
type TensorRange struct {
	Tensor    string  `json:"tensor"`
	Min       float64 `json:"min"`   // smallest calibration value
	Max       float64 `json:"max"`   // largest calibration value
	Lo        float64 `json:"lo"`    // range the method chose
	Hi        float64 `json:"hi"`    //
	Scale     float64 `json:"scale"` // parameters in the quantized model
	ZeroPoint int64   `json:"zero_point"`
	Rule      string  `json:"rule"` // "calibrated", or why the parameters are others
}

// Ranges lists, for every activation of float model fm with statistics in
// st, its calibrated range, the range method o.Method picks and the
// parameters quantized model qm gives the tensor of the same name.
func Ranges(fm, qm *tflite.Model, st *Stats, o Options) []TensorRange {
	if o.Percentile == 0 {
		o.Percentile = DefaultPercentile
	}
	fsg := fm.Main()
	rule := map[int]string{}
	for _, op := range fsg.Operators {
		switch rules[op.Op] {
		case ruleFixed:
			rule[op.Outputs[0]] = "fixed by " + op.Op.String()
		case ruleSame:
			rule[op.Outputs[0]] = "same as the input of " + op.Op.String()
		case ruleShared:
			rule[op.Outputs[0]] = "shared by the inputs of " + op.Op.String()
		}
	}
	quant := map[string]*tflite.TensorDef{}
	for i := range qm.Main().Tensors {
		def := &qm.Main().Tensors[i]
		if (def.Type == tflite.Int8 || def.Type == tflite.Uint8) && def.Quant != nil && len(def.Quant.Scale) == 1 && len(qm.Buffers[def.Buffer]) == 0 {
			name := strings.TrimSuffix(def.Name, Int8Suffix)
			if prev, ok := quant[name]; !ok || prev.Type != tflite.Int8 {
				quant[name] = def
			}
		}
	}
	var out []TensorRange
	for _, t := range activations(fm) {
		s := st.Tensors[t]
		if s == nil || s.Count == 0 {
			continue
		}
		r := TensorRange{Tensor: fsg.Tensors[t].Name, Min: s.Min, Max: s.Max, Rule: "calibrated"}
		r.Lo, r.Hi = s.Range(o.Method, o.Percentile)
		if why, ok := rule[t]; ok {
			r.Rule = why
		}
		if def := quant[r.Tensor]; def != nil {
			r.Scale, r.ZeroPoint = float64(def.Quant.Scale[0]), def.Quant.ZeroPoint[0]
			if def.Type == tflite.Uint8 {
				r.ZeroPoint -= 128
			}
		}
		out = append(out, r)
	}
	return out
}

// WriteText prints the report for people: sizes, accuracy, the layers that
// lose the most (at most maxLayers), the Edge TPU check and, when ranges is
// set, every tensor's range.
func (r *Report) WriteText(w io.Writer, maxLayers int, ranges bool) {
	fmt.Fprintf(w, "quantized %s -> %s (%s ends in, %s out; ranges: %s", r.Model, r.Output, r.InputType, r.OutputType, r.Method)
	if r.Method == Percentile.String() {
		fmt.Fprintf(w, " %g", r.Percentile)
	}
	fmt.Fprintf(w, "; refine: %s; %d calibration samples)\n", r.Refine, r.CalibrationSamples)
	fmt.Fprintf(w, "size: %d -> %d bytes (%.2fx)\n", r.FloatBytes, r.QuantBytes, r.SizeRatio)
	if e := r.Eval; e != nil {
		fmt.Fprintf(w, "eval on %d samples (labels: %s): float top-1 %.1f%%, int8 top-1 %.1f%%, agreement %.1f%%",
			e.Samples, e.Labels, 100*e.FloatTop1, 100*e.QuantTop1, 100*e.Agreement)
		if e.EndsBound > 0 {
			fmt.Fprintf(w, " (its 8-bit softmax ends allow %.1f%%)", 100*e.EndsBound)
		}
		fmt.Fprintln(w)
	}
	if len(r.Layers) > 0 {
		n := min(maxLayers, len(r.Layers))
		fmt.Fprintf(w, "per-layer error, float vs dequantized int8 (%d of %d tensors, largest SQNR drop first):\n", n, len(r.Layers))
		fmt.Fprintf(w, "  %4s  %-18s %9s %9s %11s  %s\n", "op", "operator", "SQNR dB", "drop dB", "mean |err|", "tensor")
		for _, l := range r.Layers[:n] {
			fmt.Fprintf(w, "  %4d  %-18s %9.2f %9.2f %11.4g  %s\n", l.OpIndex, l.Op, l.SQNR, l.Drop, l.MeanAbs, l.Tensor)
		}
	}
	if r.EdgeTPUChecked {
		if len(r.EdgeTPUFallbacks) == 0 {
			fmt.Fprintln(w, "edge tpu: every operator would be mapped to the Edge TPU")
		} else {
			fmt.Fprintf(w, "edge tpu: %d operators would run on the CPU:\n", len(r.EdgeTPUFallbacks))
			for _, f := range r.EdgeTPUFallbacks {
				fmt.Fprintf(w, "  %4d  %-18s %s\n", f.Op, f.Name, f.Reason)
			}
		}
	}
	if ranges {
		fmt.Fprintf(w, "ranges (%d activations):\n", len(r.Ranges))
		fmt.Fprintf(w, "  %11s %11s %11s %11s %11s %5s  %s\n", "min", "max", "lo", "hi", "scale", "zp", "tensor")
		for _, t := range r.Ranges {
			fmt.Fprintf(w, "  %11.5g %11.5g %11.5g %11.5g %11.5g %5d  %s (%s)\n", t.Min, t.Max, t.Lo, t.Hi, t.Scale, t.ZeroPoint, t.Tensor, t.Rule)
		}
	}
}
