package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
	eventsLost   prometheus.Counter
	outboxDepth  prometheus.Gauge
	mqttUp       prometheus.Gauge
	reconnects   prometheus.Counter
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
	m.eventsLost = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgeclass_events_dropped_total", Help: "Events dropped because the outbox was full."})
	m.outboxDepth = prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgeclass_outbox_events", Help: "Events waiting in the outbox for the broker's acknowledgement."})
	m.mqttUp = prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgeclass_mqtt_connected", Help: "1 while connected to the MQTT broker."})
	m.reconnects = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgeclass_camera_reconnects_total", Help: "Times the frame source reconnected after an outage."})
	m.sourceErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgeclass_camera_errors_total", Help: "Errors reading frames."})
	m.modelInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edgeclass_model_info", Help: "The model in use (value 1)."}, []string{"name", "version", "sha256"})
	for _, c := range []prometheus.Collector{m.frames, m.dropped, m.fps, m.latency, m.events, m.eventsLost, m.outboxDepth,
		m.mqttUp, m.reconnects, m.sourceErrors, m.modelInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

func (m *metrics) setModel(lm *LoadedModel) {
	m.modelInfo.Reset()
	m.modelInfo.WithLabelValues(lm.Name, lm.Version, lm.SHA256).Set(1)
}
