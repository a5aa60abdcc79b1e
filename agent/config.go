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
	"github.com/edgeclass/edgeclass/engines"
	"github.com/edgeclass/edgeclass/internal/conf"
	"github.com/edgeclass/edgeclass/modelpkg"
	"github.com/edgeclass/edgeclass/mqtt"
)

// Config is the agent's configuration: one YAML file, every key also set by
// an environment variable EDGECLASS_<KEY> (dots become underscores) and by
// a flag --<key>. Defaults serve the embedded setup: demo model, test
// pattern, embedded broker.
type Config struct {
	DeviceID string   `yaml:"device_id" doc:"device id, used in MQTT topics (default: the host name)"`
	Groups   []string `yaml:"groups" doc:"fleet groups the device belongs to (comma-separated), for staged rollouts"`
	Model    string   `yaml:"model" doc:"path of the .tflite model; empty uses the built-in demo model"`
	Labels   string   `yaml:"labels" doc:"labels file, one label per line (default: the model's metadata)"`
	Source   string   `yaml:"source" doc:"frame source: testpattern, file:PATH, dir:PATH, http://HOST/stream (MJPEG); with GoCV builds also v4l2:N, gst:PIPELINE, rtsp://..., video:PATH"`
	FPS      float64  `yaml:"fps" doc:"maximum frames classified per second"`
	Threads  int      `yaml:"threads" doc:"inference threads"`
	Fit      string   `yaml:"fit" doc:"how frames meet the model's input size: squash or crop"`
	TopK     int      `yaml:"top_k" doc:"classes reported per event"`
	StateDir string   `yaml:"state_dir" doc:"folder for the MQTT outbox and installed models"`

	MQTT    MQTTConfig        `yaml:"mqtt"`
	HTTP    HTTPConfig        `yaml:"http"`
	Events  mqtt.PolicyConfig `yaml:"events"`
	Updates UpdatesConfig     `yaml:"updates"`
	Engine  engines.Config    `yaml:"engine"`
}

// UpdatesConfig says which pushed models the device accepts and how long a
// new model must stay healthy before it is kept.
type UpdatesConfig struct {
	TrustedKeys   []string      `yaml:"trusted_keys" doc:"PEM ed25519 public keys (files) whose signed model packages this device installs"`
	AllowUnsigned bool          `yaml:"allow_unsigned" doc:"also install unsigned packages (for development only)"`
	Trial         time.Duration `yaml:"trial" doc:"how long a new model must classify without failing before it is kept; a failure in this window rolls it back"`
}

// MQTTConfig configures the connection to the broker (see mqtt.Config).
type MQTTConfig struct {
	mqtt.ConnConfig `yaml:",inline"`
	Listen          string            `yaml:"listen" doc:"address the embedded broker listens on when broker is empty"`
	ClientID        string            `yaml:"client_id" doc:"MQTT client id (default: edgeclass-<device id>)"`
	QoS             int               `yaml:"qos" doc:"QoS of events: 0 (at most once) or 1 (at least once: kept in the outbox until acknowledged)"`
	Outbox          mqtt.OutboxLimits `yaml:"outbox"`
}

// HTTPConfig configures the HTTP server.
type HTTPConfig struct {
	Addr string `yaml:"addr" doc:"HTTP listen address for the status page, /healthz, /metrics and the TF Serving API; empty disables it"`
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
		MQTT: MQTTConfig{ConnConfig: mqtt.ConnConfig{KeepAlive: mqtt.DefaultKeepAlive}, Listen: ":1883", QoS: 1,
			Outbox: mqtt.DefaultOutboxLimits()},
		HTTP:    HTTPConfig{Addr: ":8080"},
		Events:  mqtt.DefaultPolicyConfig(),
		Updates: UpdatesConfig{Trial: time.Minute},
		Engine:  engines.DefaultConfig(),
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
	flags := conf.Flags(fs, fields)
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
	if err := flags.Apply(); err != nil {
		return cfg, err
	}
	// Settings changed remotely (config.set) win over the file and the
	// environment, not over flags given on the command line.
	if err := applyRemoteConfig(&cfg, fields, flags.Has); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// publisherConfig is the MQTT publisher's configuration; broker replaces
// an empty mqtt.broker (the embedded broker's URL).
func (c *Config) publisherConfig(broker string) mqtt.Config {
	pc := mqtt.DefaultConfig()
	pc.ConnConfig = c.MQTT.ConnConfig
	if pc.Broker == "" {
		// The embedded broker listens in plain TCP; the TLS settings are
		// for an external broker.
		pc.Broker = broker
		pc.CAFile, pc.CertFile, pc.KeyFile = "", "", ""
	}
	pc.Device, pc.ClientID, pc.QoS, pc.Outbox = c.DeviceID, c.MQTT.ClientID, c.MQTT.QoS, c.MQTT.Outbox
	pc.StateDir, pc.Groups = c.StateDir, c.Groups
	return pc
}

// Validate checks every key, naming each bad one.
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
	if c.MQTT.Broker == "" && c.MQTT.Listen == "" {
		bad("mqtt.listen", "is empty while mqtt.broker is empty (one of them is needed)")
	}
	if err := c.publisherConfig("tcp://127.0.0.1:1883").Validate(); err != nil {
		errs = append(errs, fmt.Errorf("mqtt.%w", err))
	}
	if err := c.Events.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("events.%w", err))
	}
	for _, k := range c.Updates.TrustedKeys {
		if _, err := modelpkg.LoadPublicKey(k); err != nil {
			bad("updates.trusted_keys", "%v", err)
		}
	}
	if err := c.Engine.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Updates.Trial < 0 {
		bad("updates.trial", "%s is negative", c.Updates.Trial)
	}
	return errors.Join(errs...)
}
