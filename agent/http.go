package agent

import (
	"bytes"
	_ "embed"
	"image"
	"image/jpeg"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/engines"
	"github.com/edgeclass/edgeclass/mqtt"
)

// Status is what the agent shows on its status page and /status.json.
type Status struct {
	DeviceID   string             `json:"device_id"`
	Model      ModelStatus        `json:"model"`
	Label      string             `json:"label"`
	Score      float32            `json:"score"`
	Top        []classify.Result  `json:"top"`
	Seq        uint64             `json:"seq"`
	Frames     uint64             `json:"frames"`
	Dropped    uint64             `json:"dropped"`
	FPS        float64            `json:"fps"`
	LastFrame  time.Time          `json:"last_frame"`
	Started    time.Time          `json:"started"`
	Source     string             `json:"source"`
	SourceErr  string             `json:"source_error,omitempty"`
	MQTT       bool               `json:"mqtt_connected"`
	Broker     string             `json:"broker"`
	InferMS    float64            `json:"inference_ms"`
	Healthy    bool               `json:"healthy"`
	Unhealthy  string             `json:"unhealthy_reason,omitempty"`
	OutboxSize int                `json:"outbox_events"`
	Engine     engines.Info       `json:"engine"`
	Placement  *engines.Placement `json:"placement,omitempty"`
}

// ModelStatus names the model in use, as events do.
type ModelStatus = mqtt.Model

// statusSource is what the HTTP server reads from the running pipeline.
type statusSource interface {
	Status() Status
	// Frame returns the latest classified frame and its sequence number.
	Frame() (image.Image, uint64)
}

//go:embed status.html
var statusPage []byte

// newHTTPHandler serves the status page, health, metrics and the TF
// Serving API.
func newHTTPHandler(src statusSource, m *metrics, serving *servingAPI) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(statusPage)
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, src.Status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		st := src.Status()
		code := http.StatusOK
		if !st.Healthy {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"healthy": st.Healthy, "reason": st.Unhealthy,
			"model": st.Model.Name, "last_frame": st.LastFrame, "fps": st.FPS})
	})
	fj := &frameJPEG{}
	mux.HandleFunc("GET /frame.jpg", func(w http.ResponseWriter, r *http.Request) {
		img, seq := src.Frame()
		if img == nil {
			http.Error(w, "no frame yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(fj.encode(img, seq))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.Handle("/v1/models/", serving)
	return mux
}

// frameJPEG caches the JPEG of the latest frame, so many viewers cost one
// encoding per frame.
type frameJPEG struct {
	mu   sync.Mutex
	seq  uint64
	data []byte
}

func (f *frameJPEG) encode(img image.Image, seq uint64) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data == nil || seq != f.seq {
		var b bytes.Buffer
		jpeg.Encode(&b, img, &jpeg.Options{Quality: 80})
		f.data, f.seq = b.Bytes(), seq
	}
	return f.data
}
