package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/mqtt"
)

// metrics are the agent's Prometheus series, on a registry of its own so
// several agents (in tests) do not collide.
type metrics struct {
	reg          *prometheus.Registry
	frames       prometheus.Counter
	dropped      prometheus.Counter
	fps          prometheus.Gauge
	latency      *prometheus.HistogramVec
	events       prometheus.Counter
	sourceErrors prometheus.Counter
	modelInfo    *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.frames = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgeclass_frames_total", Help: "Frames classified."})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgeclass_frames_dropped_total", Help: "Frames the camera produced that were replaced by newer ones before the model could take them."})
	m.fps = prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgeclass_fps", Help: "Frames classified per second, over the last few seconds."})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgeclass_latency_seconds",
		Help:    "Time per frame spent in each stage: capture, preprocess, inference, publish.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"stage"})
	m.events = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgeclass_events_total", Help: "Classification events handed to MQTT."})
	m.sourceErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgeclass_camera_errors_total", Help: "Errors reading frames."})
	m.modelInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edgeclass_model_info", Help: "The model in use (value 1)."}, []string{"name", "version", "sha256"})
	for _, c := range []prometheus.Collector{m.frames, m.dropped, m.fps, m.latency, m.events, m.sourceErrors, m.modelInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// watchSource exports the frame source's state, read at scrape time.
func (m *metrics) watchSource(stats func() camera.Stats) {
	m.reg.MustRegister(prometheus.NewCounterFunc(
		prometheus.CounterOpts{Name: "edgeclass_camera_reconnects_total", Help: "Times the frame source reopened after an outage."},
		func() float64 { return float64(stats().Reconnects) }))
}

// watchPublisher exports the MQTT publisher's state, read at scrape time.
func (m *metrics) watchPublisher(p *mqtt.Publisher) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgeclass_events_delivered_total", Help: "Events the broker acknowledged (QoS 1) or that were written (QoS 0)."},
			func() float64 { return float64(p.Counts().Delivered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgeclass_events_dropped_total", Help: "Events dropped because the outbox was full."},
			func() float64 { return float64(p.Counts().Dropped) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgeclass_outbox_events", Help: "Events waiting in the outbox for the broker."},
			func() float64 { return float64(p.Counts().Pending) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgeclass_mqtt_connects_total", Help: "Connections made to the MQTT broker."},
			func() float64 { return float64(p.Counts().Connects) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgeclass_mqtt_connected", Help: "1 while connected to the MQTT broker."},
			func() float64 {
				if ok, _ := p.Connected(); ok {
					return 1
				}
				return 0
			}),
	)
}

func (m *metrics) setModel(lm *LoadedModel) {
	m.modelInfo.Reset()
	m.modelInfo.WithLabelValues(lm.Name, lm.Version, lm.SHA256).Set(1)
}
