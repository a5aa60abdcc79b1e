package agent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/internal/testenv"
)

func servingServer(t *testing.T) (*httptest.Server, *LoadedModel) {
	t.Helper()
	lm, err := LoadModel(testenv.TestData(t, "models/mobilenet_v2_1.0_224_quant.tflite"),
		testenv.TestData(t, "labels/coral_imagenet_labels.txt"), classify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/models/", &servingAPI{current: func() *LoadedModel { return lm }, topK: 3})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, lm
}

func post(t *testing.T, url, body string) (int, map[string]json.RawMessage) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]json.RawMessage
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("response is not JSON: %s", data)
	}
	return resp.StatusCode, out
}

// TestPredictPhoto sends a real photo as {"b64": ...} and checks the label
// against Google's runtime's golden output for the same image.
func TestPredictPhoto(t *testing.T) {
	srv, lm := servingServer(t)
	img, err := os.ReadFile(testenv.TestData(t, "images/parrot.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(testenv.TestData(t, "golden/mobilenet_v2_1.0_224_quant__parrot.out0.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i, v := range golden {
		if v > golden[want] {
			want = i
		}
	}
	b64 := base64.StdEncoding.EncodeToString(img)
	code, out := post(t, srv.URL+"/v1/models/"+lm.Name+":predict", `{"instances": [{"b64": "`+b64+`"}]}`)
	if code != 200 {
		t.Fatalf("status %d: %s", code, out["error"])
	}
	var preds [][]int
	if err := json.Unmarshal(out["predictions"], &preds); err != nil || len(preds) != 1 || len(preds[0]) != 1001 {
		t.Fatalf("predictions: %v %s", err, out["predictions"])
	}
	got := 0
	for i, v := range preds[0] {
		if v > preds[0][got] {
			got = i
		}
	}
	if got != want {
		t.Fatalf("predict top-1 %d, Google's runtime %d", got, want)
	}

	code, out = post(t, srv.URL+"/v1/models/"+lm.Name+":classify", `{"examples": [{"image": {"b64": "`+b64+`"}}]}`)
	if code != 200 {
		t.Fatalf("classify status %d: %s", code, out["error"])
	}
	var res [][][2]any
	if err := json.Unmarshal(out["result"], &res); err != nil || len(res) != 1 || len(res[0]) != 3 {
		t.Fatalf("classify result: %v %s", err, out["result"])
	}
	if label := res[0][0][0].(string); label != lm.Labels[want] {
		t.Fatalf("classify top label %q, want %q", label, lm.Labels[want])
	}
}

// TestPredictTensor sends the golden input tensor as nested numbers and
// checks every output value against Google's runtime.
func TestPredictTensor(t *testing.T) {
	srv, lm := servingServer(t)
	in, _ := os.ReadFile(testenv.TestData(t, "golden/mobilenet_v2_1.0_224_quant__cat.in.bin"))
	golden, _ := os.ReadFile(testenv.TestData(t, "golden/mobilenet_v2_1.0_224_quant__cat.out0.bin"))
	var sb bytes.Buffer
	sb.WriteString(`{"inputs": [[`)
	for i, v := range in {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(int(v)))
	}
	sb.WriteString(`]]}`)
	code, out := post(t, srv.URL+"/v1/models/"+lm.Name+"/versions/"+lm.Version+":predict", sb.String())
	if code != 200 {
		t.Fatalf("status %d: %s", code, out["error"])
	}
	var outs [][]int
	if err := json.Unmarshal(out["outputs"], &outs); err != nil || len(outs) != 1 {
		t.Fatalf("outputs: %v", err)
	}
	for i, v := range outs[0] {
		if byte(v) != golden[i] {
			t.Fatalf("output %d is %d, Google's runtime %d", i, v, golden[i])
		}
	}
}

func TestServingErrors(t *testing.T) {
	srv, lm := servingServer(t)
	base := srv.URL + "/v1/models/" + lm.Name
	for _, c := range []struct{ url, body, want string }{
		{base + ":predict", `not json`, "not valid JSON"},
		{base + ":predict", `{}`, "instances"},
		{base + ":predict", `{"instances": [[1, 2, 3]]}`, "needs 150528"},
		{base + ":predict", `{"instances": [{"b64": "AAAA"}]}`, "decode image"},
		{base + ":predict", `{"instances": [["x"]]}`, "must be numbers"},
		{base + ":predict", `{"instances": [` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `]}`, "nested deeper"},
		{base + ":predict", `{"instances": [` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + `]}`, "once"},
		{base + ":classify", `{"examples": [{"other": 1, "more": 2}]}`, "image"},
		{srv.URL + "/v1/models/nope:predict", `{"instances": []}`, "Servable not found"},
		{base + "/versions/9:predict", `{"instances": []}`, "Servable not found"},
	} {
		code, out := post(t, c.url, c.body)
		if code < 400 || !strings.Contains(string(out["error"]), c.want) {
			t.Errorf("%s %s: status %d error %s, want a 4xx naming %q", c.url, c.body, code, out["error"], c.want)
		}
	}
	resp, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"AVAILABLE"`) {
		t.Fatalf("status endpoint: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(base + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"DT_UINT8"`) || !strings.Contains(string(body), "serving_default") {
		t.Fatalf("metadata endpoint: %d %s", resp.StatusCode, body)
	}
}
