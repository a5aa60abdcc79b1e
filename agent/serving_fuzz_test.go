package agent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/agent/demomodel"
	"github.com/edgeclass/edgeclass/classify"
)

// FuzzServingRequest sends arbitrary bodies to the TF Serving endpoints,
// which any client on the network can reach, with the demo model loaded.
// Every answer must be JSON: a result, or a client error that says what
// is wrong; nothing may panic or count as a server fault.
func FuzzServingRequest(f *testing.F) {
	lm, err := NewLoadedModel(demomodel.Bytes(), "demo", "", "", classify.Options{Labels: demomodel.Labels})
	if err != nil {
		f.Fatal(err)
	}
	api := &servingAPI{current: func() *LoadedModel { return lm }, topK: 3}

	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		f.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(img.Bytes())
	pixels := "[" + strings.Repeat("[0.5,0.25,1],", demomodel.Size*demomodel.Size-1) + "[0,0,0]]"
	for _, s := range []struct {
		classify bool
		body     string
	}{
		{false, `{"instances": [{"b64": "` + b64 + `"}]}`},
		{false, `{"inputs": {"image": [{"b64": "` + b64 + `"}]}}`},
		{false, `{"inputs": {"b64": "` + b64 + `"}}`},
		{false, `{"instances": [` + pixels + `]}`},
		{false, `{"instances": [{"image": ` + pixels + `}]}`},
		{false, `{"instances": [[1, 2, 3]]}`},
		{false, `{"instances": [[[[[[[[[[[1]]]]]]]]]]]}`},
		{false, `{"instances": [{"image": {"image": [1]}}]}`},
		{false, `{"instances": [["x"]]}`},
		{false, `{}`},
		{true, `{"examples": [{"image": {"b64": "` + b64 + `"}}]}`},
		{true, `{"examples": [{"other": 1, "more": 2}]}`},
	} {
		f.Add(s.classify, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, classify bool, body []byte) {
		url := "/v1/models/" + lm.Name + ":predict"
		if classify {
			url = "/v1/models/" + lm.Name + ":classify"
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body)))
		var out map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("status %d, answer is not a JSON object: %q", rec.Code, rec.Body.Bytes())
		}
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			var msg string
			if json.Unmarshal(out["error"], &msg) != nil || msg == "" {
				t.Fatalf("400 without an error message: %s", rec.Body.Bytes())
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.Bytes())
		}
	})
}
