package fleet

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"

	"github.com/edgeclass/edgeclass/internal/pemfile"
	"go.yaml.in/yaml/v3"
)

// A device bundle is a folder laid out as /etc/edgeclass is on the device.
const (
	BundleConfig     = "agent.yaml"
	BundleCA         = "tls/ca.pem"
	BundleCert       = "tls/device.pem"
	BundleKey        = "tls/device.key"
	BundleTrustedKey = "keys/model-signing.pub"
)

// Default device paths, as the Debian package lays them out.
const (
	DeviceConfigDir = "/etc/edgeclass"
	DeviceStateDir  = "/var/lib/edgeclass"
)

// EnrollOptions says what goes into a device bundle.
type EnrollOptions struct {
	DeviceID string
	Broker   string // ssl://host:8883: the broker, with TLS
	BrokerCA string // optional PEM file: CAs that sign the broker's certificate when the fleet CA does not
	Source   string // optional frame source; empty keeps the agent's default
	Replace  bool   // issue a new certificate for an enrolled device

	// Where the bundle's files will be on the device (default
	// DeviceConfigDir, DeviceStateDir). Tests point them at the bundle.
	ConfigDir, StateDir string
}

// agentFile is the part of the agent configuration that enrollment sets;
// the agent's defaults cover the rest.
type agentFile struct {
	DeviceID string `yaml:"device_id"`
	Source   string `yaml:"source,omitempty"`
	StateDir string `yaml:"state_dir"`
	MQTT     struct {
		Broker   string `yaml:"broker"`
		CAFile   string `yaml:"ca_file"`
		CertFile string `yaml:"cert_file"`
		KeyFile  string `yaml:"key_file"`
	} `yaml:"mqtt"`
	Updates struct {
		TrustedKeys []string `yaml:"trusted_keys"`
	} `yaml:"updates"`
}

// tlsSchemes are the broker URL schemes that mean TLS to the MQTT client.
var tlsSchemes = map[string]bool{"ssl": true, "tls": true, "mqtts": true, "tcps": true, "wss": true}

// Enroll issues the device's certificate and writes its bundle to out,
// which must not exist yet or be empty.
func (f *Fleet) Enroll(opts EnrollOptions, out string) error {
	if err := CheckDeviceID(opts.DeviceID); err != nil {
		return err
	}
	u, err := url.Parse(opts.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("broker %q: want a URL like ssl://broker.example.com:8883", opts.Broker)
	}
	if !tlsSchemes[u.Scheme] {
		return fmt.Errorf("broker %q: device certificates need TLS (ssl://, tls://, mqtts:// or wss://), not %s://", opts.Broker, u.Scheme)
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return fmt.Errorf("enroll: %s is not empty; choose a new folder", out)
	}
	caPEM, err := os.ReadFile(filepath.Join(f.Dir, CACert))
	if err != nil {
		return err
	}
	if opts.BrokerCA != "" {
		extra, err := os.ReadFile(opts.BrokerCA)
		if err != nil {
			return fmt.Errorf("broker CA: %w", err)
		}
		if !bytes.Contains(extra, []byte("-----BEGIN CERTIFICATE-----")) {
			return fmt.Errorf("broker CA %s: no PEM certificate", opts.BrokerCA)
		}
		caPEM = append(append(caPEM, '\n'), extra...)
	}
	signingPub, err := os.ReadFile(f.SigningPublicKey())
	if err != nil {
		return fmt.Errorf("fleet %s: model-signing public key: %w", f.Dir, err)
	}
	cert, key, err := f.IssueDevice(opts.DeviceID, opts.Replace)
	if err != nil {
		return err
	}

	dir := opts.ConfigDir
	if dir == "" {
		dir = DeviceConfigDir
	}
	var cfg agentFile
	cfg.DeviceID = opts.DeviceID
	cfg.Source = opts.Source
	cfg.StateDir = opts.StateDir
	if cfg.StateDir == "" {
		cfg.StateDir = DeviceStateDir
	}
	cfg.MQTT.Broker = opts.Broker
	cfg.MQTT.CAFile = path.Join(dir, BundleCA)
	cfg.MQTT.CertFile = path.Join(dir, BundleCert)
	cfg.MQTT.KeyFile = path.Join(dir, BundleKey)
	cfg.Updates.TrustedKeys = []string{path.Join(dir, BundleTrustedKey)}
	body, err := yaml.Marshal(&cfg)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# edgeclass agent configuration for device %s, written by 'edgeclass enroll'.\n"+
		"# Every other key keeps the agent's default; see 'edgeclass agent -h'.\n", opts.DeviceID)

	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{BundleConfig, append([]byte(header), body...), 0o640},
		{BundleCA, caPEM, 0o644},
		{BundleCert, cert, 0o644},
		{BundleKey, key, 0o600},
		{BundleTrustedKey, signingPub, 0o644},
	}
	for _, file := range files {
		p := filepath.Join(out, filepath.FromSlash(file.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("enroll: %w", err)
		}
		if err := pemfile.WriteNew(p, file.data, file.mode); err != nil {
			return fmt.Errorf("enroll: %w", err)
		}
	}
	return nil
}

// BundleDeviceID reads the device id from a bundle's agent.yaml, checking
// that the bundle has every file enrollment writes.
func BundleDeviceID(dir string) (string, error) {
	for _, name := range []string{BundleConfig, BundleCA, BundleCert, BundleKey, BundleTrustedKey} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			return "", fmt.Errorf("device bundle %s: %w (make one with 'edgeclass enroll')", dir, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, BundleConfig))
	if err != nil {
		return "", err
	}
	var cfg struct {
		DeviceID string `yaml:"device_id"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("device bundle %s: %s: %w", dir, BundleConfig, err)
	}
	if err := CheckDeviceID(cfg.DeviceID); err != nil {
		return "", fmt.Errorf("device bundle %s: %w", dir, err)
	}
	return cfg.DeviceID, nil
}
