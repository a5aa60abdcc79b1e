package agent

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/tflite"
)

// The TensorFlow Serving REST API (v1), for the model the agent runs:
//
//	GET  /v1/models/NAME[/versions/V]            status
//	GET  /v1/models/NAME[/versions/V]/metadata   signature (inputs, outputs)
//	POST /v1/models/NAME[/versions/V]:predict    {"instances": [...]} or {"inputs": ...}
//	POST /v1/models/NAME[/versions/V]:classify   {"examples": [{"image": {"b64": ...}}]}
//
// Instances are either the input tensor as nested numbers (without the
// batch dimension) or an encoded image as {"b64": "..."}, which is resized
// and normalized like camera frames. Errors are {"error": "..."}.

// maxRequestBytes bounds request bodies (a few encoded photos).
const maxRequestBytes = 32 << 20

type servingAPI struct {
	current func() *LoadedModel
	topK    int
}

func (s *servingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v1/models/")
	path, verb, _ := strings.Cut(path, ":")
	parts := strings.Split(path, "/")
	name := parts[0]
	rest := parts[1:]
	version := ""
	if len(rest) >= 2 && rest[0] == "versions" {
		version, rest = rest[1], rest[2:]
	}
	lm := s.current()
	if lm == nil {
		writeError(w, http.StatusServiceUnavailable, "no model is loaded")
		return
	}
	if name != lm.Name {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Servable not found for request: Latest(%s); this agent serves %q", name, lm.Name))
		return
	}
	if version != "" && version != lm.Version {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Servable not found for request: Specific(%s, %s); loaded version is %s", name, version, lm.Version))
		return
	}
	switch {
	case verb == "" && len(rest) == 0 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"model_version_status": []any{map[string]any{
			"version": lm.Version, "state": "AVAILABLE",
			"status": map[string]string{"error_code": "OK", "error_message": ""},
		}}})
	case verb == "" && len(rest) == 1 && rest[0] == "metadata" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, metadata(lm))
	case verb == "predict" && len(rest) == 0 && r.Method == http.MethodPost:
		s.predict(w, r, lm)
	case verb == "classify" && len(rest) == 0 && r.Method == http.MethodPost:
		s.classify(w, r, lm)
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

var dtypeNames = map[tflite.TensorType]string{
	tflite.Float32: "DT_FLOAT", tflite.Uint8: "DT_UINT8", tflite.Int8: "DT_INT8", tflite.Int16: "DT_INT16",
	tflite.Int32: "DT_INT32", tflite.Int64: "DT_INT64", tflite.Bool: "DT_BOOL", tflite.Float16: "DT_HALF",
}

func tensorInfo(m *tflite.Model, idx int) map[string]any {
	t := m.Main().Tensors[idx]
	var dims []map[string]string
	for _, d := range t.Shape {
		dims = append(dims, map[string]string{"size": strconv.Itoa(d), "name": ""})
	}
	return map[string]any{"dtype": dtypeNames[t.Type], "name": t.Name,
		"tensor_shape": map[string]any{"dim": dims, "unknown_rank": false}}
}

func metadata(lm *LoadedModel) map[string]any {
	sg := lm.Model.Main()
	ins, outs := map[string]any{}, map[string]any{}
	for _, i := range sg.Inputs {
		ins[sg.Tensors[i].Name] = tensorInfo(lm.Model, i)
	}
	for _, o := range sg.Outputs {
		outs[sg.Tensors[o].Name] = tensorInfo(lm.Model, o)
	}
	return map[string]any{
		"model_spec": map[string]string{"name": lm.Name, "signature_name": "", "version": lm.Version},
		"metadata": map[string]any{"signature_def": map[string]any{"signature_def": map[string]any{
			"serving_default": map[string]any{"inputs": ins, "outputs": outs, "method_name": "tensorflow/serving/predict"},
		}}},
	}
}

// readBody decodes a JSON request body into v.
func readBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if len(body) > maxRequestBytes {
		return fmt.Errorf("request is larger than %d bytes", maxRequestBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("request is not valid JSON: %w", err)
	}
	return nil
}

type predictRequest struct {
	SignatureName string            `json:"signature_name"`
	Instances     []json.RawMessage `json:"instances"`
	Inputs        json.RawMessage   `json:"inputs"`
}

func (s *servingAPI) predict(w http.ResponseWriter, r *http.Request, lm *LoadedModel) {
	var req predictRequest
	if err := readBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	columnar := req.Instances == nil
	instances := req.Instances
	if columnar {
		if req.Inputs == nil {
			writeError(w, http.StatusBadRequest, `request needs "instances" (row format) or "inputs" (columnar format)`)
			return
		}
		// Columnar: the value holds a batch; a single input may be named.
		v := req.Inputs
		var named map[string]json.RawMessage
		if json.Unmarshal(v, &named) == nil && len(named) == 1 && !isB64(v) {
			for _, x := range named {
				v = x
			}
		}
		if err := json.Unmarshal(v, &instances); err != nil || isB64(v) {
			instances = []json.RawMessage{v}
		}
	}
	if len(instances) == 0 {
		writeError(w, http.StatusBadRequest, "no instances")
		return
	}
	c, err := lm.Acquire()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer lm.Release(c)
	var preds []any
	for i, inst := range instances {
		if err := loadInstance(c, inst); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("instance %d: %v", i, err))
			return
		}
		if err := c.Engine().Invoke(); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		preds = append(preds, outputValue(c.Output()))
	}
	if columnar {
		writeJSON(w, http.StatusOK, map[string]any{"outputs": preds})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"predictions": preds})
}

func isB64(v json.RawMessage) bool {
	var o struct {
		B64 *string `json:"b64"`
	}
	return json.Unmarshal(v, &o) == nil && o.B64 != nil
}

// loadInstance fills the classifier's input from an instance: an encoded
// image {"b64": ...}, an object naming the input (once) around either, or
// nested numbers.
func loadInstance(c *classify.Classifier, inst json.RawMessage) error {
	return loadValue(c, inst, true)
}

// loadValue is loadInstance; named says an object may still name the
// input. Allowing it once bounds the parsing a hostile request can cause.
func loadValue(c *classify.Classifier, inst json.RawMessage, named bool) error {
	in := c.Input()
	var obj map[string]json.RawMessage
	if json.Unmarshal(inst, &obj) == nil {
		if b, ok := obj["b64"]; ok {
			var s string
			if err := json.Unmarshal(b, &s); err != nil {
				return fmt.Errorf(`"b64" must be a string`)
			}
			data, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return fmt.Errorf("b64: %w", err)
			}
			img, err := camera.DecodeImage(data)
			if err != nil {
				return err
			}
			return c.Spec.Load(in, img)
		}
		if len(obj) != 1 || !named {
			return fmt.Errorf("an object instance must name the one input %q, once, around {\"b64\": ...} or numbers", in.Name())
		}
		for _, v := range obj {
			return loadValue(c, v, false)
		}
	}
	var flat []float64
	if err := flatten(inst, &flat, len(in.Shape())); err != nil {
		return err
	}
	if len(flat) != in.Len() {
		return fmt.Errorf("instance has %d values, input %q (%v without batch) needs %d", len(flat), in.Name(), in.Shape(), in.Len())
	}
	return setValues(in, flat)
}

// flatten appends the numbers of a nested JSON array of at most depth
// levels (each level parses its content again, so the bound also bounds
// the work a hostile request causes).
func flatten(v json.RawMessage, out *[]float64, depth int) error {
	var arr []json.RawMessage
	if err := json.Unmarshal(v, &arr); err == nil {
		if depth == 0 {
			return errors.New("instance lists are nested deeper than the input has dimensions")
		}
		for _, e := range arr {
			if err := flatten(e, out, depth-1); err != nil {
				return err
			}
		}
		return nil
	}
	var x float64
	if err := json.Unmarshal(v, &x); err != nil {
		return errors.New("instance values must be numbers, nested lists of numbers or {\"b64\": ...}")
	}
	*out = append(*out, x)
	return nil
}

func setValues(t *tflite.Tensor, vals []float64) error {
	switch t.Type() {
	case tflite.Float32:
		f := t.Float32s()
		for i, v := range vals {
			f[i] = float32(v)
		}
	case tflite.Uint8:
		b := t.Uint8s()
		for i, v := range vals {
			if v < 0 || v > 255 || v != float64(int(v)) {
				return fmt.Errorf("value %g at %d is not a uint8", v, i)
			}
			b[i] = uint8(v)
		}
	case tflite.Int8:
		b := t.Int8s()
		for i, v := range vals {
			if v < -128 || v > 127 || v != float64(int(v)) {
				return fmt.Errorf("value %g at %d is not an int8", v, i)
			}
			b[i] = int8(v)
		}
	default:
		return fmt.Errorf("input type %s is not supported", t.Type())
	}
	return nil
}

// outputValue returns an output tensor's values without the batch
// dimension, in the tensor's own type (as TF Serving does).
func outputValue(t *tflite.Tensor) any {
	switch t.Type() {
	case tflite.Float32:
		return t.Float32s()
	case tflite.Uint8:
		out := make([]int, t.Len())
		for i, v := range t.Uint8s() {
			out[i] = int(v)
		}
		return out
	case tflite.Int8:
		out := make([]int, t.Len())
		for i, v := range t.Int8s() {
			out[i] = int(v)
		}
		return out
	}
	return t.Dequantized()
}

type classifyRequest struct {
	Examples []map[string]json.RawMessage `json:"examples"`
}

func (s *servingAPI) classify(w http.ResponseWriter, r *http.Request, lm *LoadedModel) {
	var req classifyRequest
	if err := readBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(req.Examples) == 0 {
		writeError(w, http.StatusBadRequest, `request needs "examples"`)
		return
	}
	c, err := lm.Acquire()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer lm.Release(c)
	var results [][][2]any
	for i, ex := range req.Examples {
		var feature json.RawMessage
		for _, key := range []string{"image", "image/encoded", "b64"} {
			if v, ok := ex[key]; ok {
				feature = v
				break
			}
		}
		if feature == nil && len(ex) == 1 {
			for _, v := range ex {
				feature = v
			}
		}
		if feature == nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf(`example %d: needs an "image" feature`, i))
			return
		}
		if err := loadInstance(c, feature); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("example %d: %v", i, err))
			return
		}
		res, err := c.Run(s.topK)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		var pairs [][2]any
		for _, r := range res {
			pairs = append(pairs, [2]any{r.Label, r.Score})
		}
		results = append(results, pairs)
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": results})
}
