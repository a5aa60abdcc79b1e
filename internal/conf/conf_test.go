package conf

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Name  string        `yaml:"name" doc:"a name"`
	Every time.Duration `yaml:"every"`
	MQTT  struct {
		Listen string   `yaml:"listen"`
		QoS    int      `yaml:"qos"`
		Topics []string `yaml:"topics"`
	} `yaml:"mqtt"`
	Min float64 `yaml:"min_confidence"`
	On  bool    `yaml:"on"`
}

func TestLayering(t *testing.T) {
	cfg := &sample{Name: "default", Every: time.Second}
	cfg.MQTT.Listen = ":1883"
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("name: file\nmqtt:\n  qos: 1\n  listen: ':1999'\nmin_confidence: 0.25\n"), 0o644)
	fields := Fields("EDGECLASS", cfg)
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	flags := Flags(fs, fields)
	if err := fs.Parse([]string{"--mqtt.qos=0", "--every", "3s"}); err != nil {
		t.Fatal(err)
	}
	if err := LoadFile(path, cfg); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"EDGECLASS_MQTT_LISTEN": ":2000", "EDGECLASS_MQTT_TOPICS": "a, b", "EDGECLASS_ON": "true"}
	if err := ApplyEnv(fields, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if !flags.Has("every") || flags.Has("name") {
		t.Fatal("Has")
	}
	if err := flags.Apply(); err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "file" || cfg.MQTT.Listen != ":2000" || cfg.MQTT.QoS != 0 || cfg.Every != 3*time.Second ||
		cfg.Min != 0.25 || !cfg.On || strings.Join(cfg.MQTT.Topics, "|") != "a|b" {
		t.Fatalf("layering wrong: %+v", cfg)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cfg := &sample{}
	fields := Fields("EDGECLASS", cfg)
	err := ApplyEnv(fields, func(k string) (string, bool) { return "soon", k == "EDGECLASS_EVERY" })
	if err == nil || !strings.Contains(err.Error(), "EDGECLASS_EVERY") || !strings.Contains(err.Error(), "every") {
		t.Fatalf("error %v should name the variable and the key", err)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("mqtt:\n  lisen: x\n"), 0o644)
	if err := LoadFile(path, cfg); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("unknown key should be named, got %v", err)
	}
	os.WriteFile(path, []byte(""), 0o644)
	if err := LoadFile(path, cfg); err != nil {
		t.Fatalf("empty file: %v", err)
	}
}
