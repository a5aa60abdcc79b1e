package agent

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/internal/conf"
)

// Config is the agent's configuration: one YAML file, every key also set by
// an environment variable EDGECLASS_<KEY> (dots become underscores) and by
// a flag --<key>. Defaults serve the embedded setup: demo model, test
// pattern, embedded broker.
type Config struct {
	DeviceID string  `yaml:"device_id" doc:"device id, used in MQTT topics (default: the host name)"`
	Model    string  `yaml:"model" doc:"path of the .tflite model; empty uses the built-in demo model"`
	Labels   string  `yaml:"labels" doc:"labels file, one label per line (default: the model's metadata)"`
	Source   string  `yaml:"source" doc:"frame source: testpattern, file:PATH, dir:PATH, http://HOST/stream (MJPEG); with GoCV builds also v4l2:N, gst:PIPELINE, rtsp://..., video:PATH"`
	FPS      float64 `yaml:"fps" doc:"maximum frames classified per second"`
	Threads  int     `yaml:"threads" doc:"inference threads"`
	Fit      string  `yaml:"fit" doc:"how frames meet the model's input size: squash or crop"`
	TopK     int     `yaml:"top_k" doc:"classes reported per event"`
	StateDir string  `yaml:"state_dir" doc:"folder for the MQTT outbox and installed models"`

	MQTT   MQTTConfig   `yaml:"mqtt"`
	HTTP   HTTPConfig   `yaml:"http"`
	Events EventsConfig `yaml:"events"`
}

// MQTTConfig configures the connection to the broker.
type MQTTConfig struct {
	Broker          string `yaml:"broker" doc:"broker URL (tcp://host:1883, ssl://host:8883); empty starts the embedded broker"`
	Listen          string `yaml:"listen" doc:"address the embedded broker listens on"`
	ClientID        string `yaml:"client_id" doc:"MQTT client id (default: edgeclass-<device id>)"`
	Username        string `yaml:"username" doc:"MQTT user name"`
	Password        string `yaml:"password" doc:"MQTT password"`
	CAFile          string `yaml:"ca_file" doc:"PEM CA certificates that sign the broker's certificate"`
	CertFile        string `yaml:"cert_file" doc:"PEM client certificate, for mutual TLS"`
	KeyFile         string `yaml:"key_file" doc:"PEM client key, for mutual TLS"`
	QoS             int    `yaml:"qos" doc:"QoS of events: 0 (at most once) or 1 (at least once, kept in the outbox until acknowledged)"`
	TopicPrefix     string `yaml:"topic_prefix" doc:"first topic level"`
	OutboxMaxEvents int    `yaml:"outbox_max_events" doc:"events the outbox holds before dropping the oldest"`
}

// HTTPConfig configures the HTTP server.
type HTTPConfig struct {
	Addr string `yaml:"addr" doc:"HTTP listen address for the status page, /healthz, /metrics and the TF Serving API; empty disables it"`
}

// EventsConfig is the event policy: which classifications become events.
type EventsConfig struct {
	MinConfidence float64       `yaml:"min_confidence" doc:"publish only when the (smoothed) top score reaches this"`
	OnChange      bool          `yaml:"on_change" doc:"publish when the top label changes"`
	Every         time.Duration `yaml:"every" doc:"also publish the current label at this interval (0: never)"`
	Smoothing     int           `yaml:"smoothing" doc:"average scores over this many frames before deciding"`
	MaxRate       float64       `yaml:"max_rate" doc:"at most this many events per second"`
}

// DefaultConfig returns the embedded-setup defaults.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		DeviceID: sanitizeID(host),
		Source:   "testpattern",
		FPS:      10,
		Threads:  1,
		Fit:      "squash",
		TopK:     3,
		StateDir: defaultStateDir(),
		MQTT:     MQTTConfig{Listen: ":1883", QoS: 1, TopicPrefix: "edgeclass", OutboxMaxEvents: 10000},
		HTTP:     HTTPConfig{Addr: ":8080"},
		Events:   EventsConfig{MinConfidence: 0.5, OnChange: true, Every: 10 * time.Second, Smoothing: 3, MaxRate: 5},
	}
}

func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "edgeclass")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "edgeclass")
	}
	return "edgeclass-state"
}

// sanitizeID keeps the characters that are safe in an MQTT topic level.
func sanitizeID(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "edgeclass"
	}
	return b.String()
}

// LoadConfig builds the configuration from args (flags, including
// --config FILE), the environment and the file, over the defaults.
func LoadConfig(args []string, lookupEnv func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	fields := conf.Fields("EDGECLASS", &cfg)
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	file := fs.String("config", "", "YAML configuration file (env EDGECLASS_CONFIG)")
	apply := conf.Flags(fs, fields)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	path := *file
	if path == "" {
		path, _ = lookupEnv("EDGECLASS_CONFIG")
	}
	if path != "" {
		if err := conf.LoadFile(path, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := conf.ApplyEnv(fields, lookupEnv); err != nil {
		return cfg, err
	}
	if err := apply(); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Validate checks every key, naming the first bad one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.DeviceID == "" || sanitizeID(c.DeviceID) != c.DeviceID {
		bad("device_id", "%q must be non-empty lower-case letters, digits, '-' or '_'", c.DeviceID)
	}
	if c.Model != "" {
		if _, err := os.Stat(c.Model); err != nil {
			bad("model", "%v", err)
		}
	}
	if c.Labels != "" {
		if _, err := os.Stat(c.Labels); err != nil {
			bad("labels", "%v", err)
		}
	}
	if c.Source == "" {
		bad("source", "is empty")
	}
	if c.FPS <= 0 || c.FPS > 1000 {
		bad("fps", "%g is outside (0, 1000]", c.FPS)
	}
	if c.Threads < 1 || c.Threads > 64 {
		bad("threads", "%d is outside [1, 64]", c.Threads)
	}
	if _, err := camera.ParseFit(c.Fit); err != nil {
		bad("fit", "%v", err)
	}
	if c.TopK < 1 || c.TopK > 100 {
		bad("top_k", "%d is outside [1, 100]", c.TopK)
	}
	if c.StateDir == "" {
		bad("state_dir", "is empty")
	}
	m := &c.MQTT
	if m.Broker == "" && m.Listen == "" {
		bad("mqtt.listen", "is empty while mqtt.broker is empty (one of them is needed)")
	}
	if m.Broker != "" && !strings.Contains(m.Broker, "://") {
		bad("mqtt.broker", "%q needs a scheme, like tcp://host:1883 or ssl://host:8883", m.Broker)
	}
	if m.QoS != 0 && m.QoS != 1 {
		bad("mqtt.qos", "%d is not 0 or 1", m.QoS)
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		bad("mqtt.cert_file", "mutual TLS needs both cert_file and key_file")
	}
	for key, p := range map[string]string{"mqtt.ca_file": m.CAFile, "mqtt.cert_file": m.CertFile, "mqtt.key_file": m.KeyFile} {
		if p != "" {
			if _, err := os.Stat(p); err != nil {
				bad(key, "%v", err)
			}
		}
	}
	if m.TopicPrefix == "" || strings.ContainsAny(m.TopicPrefix, "+#") {
		bad("mqtt.topic_prefix", "%q must be non-empty without wildcards", m.TopicPrefix)
	}
	if m.OutboxMaxEvents < 1 {
		bad("mqtt.outbox_max_events", "%d must be at least 1", m.OutboxMaxEvents)
	}
	e := &c.Events
	if e.MinConfidence < 0 || e.MinConfidence > 1 {
		bad("events.min_confidence", "%g is outside [0, 1]", e.MinConfidence)
	}
	if e.Every < 0 {
		bad("events.every", "%s is negative", e.Every)
	}
	if !e.OnChange && e.Every == 0 {
		bad("events.on_change", "is false and events.every is 0: no event would ever be published")
	}
	if e.Smoothing < 1 || e.Smoothing > 1000 {
		bad("events.smoothing", "%d is outside [1, 1000]", e.Smoothing)
	}
	if e.MaxRate <= 0 {
		bad("events.max_rate", "%g must be positive", e.MaxRate)
	}
	return errors.Join(errs...)
}
