package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigDefaultsAreValid(t *testing.T) {
	cfg, err := LoadConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTT.Broker != "" || cfg.MQTT.Listen != ":1883" || cfg.HTTP.Addr != ":8080" || cfg.Source != "testpattern" {
		t.Fatalf("defaults are not the embedded setup: %+v", cfg)
	}
}

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.yaml")
	os.WriteFile(file, []byte("device_id: cam-1\nevents:\n  heartbeat: 30s\nmqtt:\n  listen: ':1999'\n"), 0o644)
	cfg, err := LoadConfig([]string{"--config", file, "--http.addr", "127.0.0.1:9000"},
		env(map[string]string{"EDGECLASS_MQTT_LISTEN": "127.0.0.1:2883", "EDGECLASS_FPS": "2.5"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DeviceID != "cam-1" || cfg.Events.Heartbeat != 30*time.Second || cfg.MQTT.Listen != "127.0.0.1:2883" ||
		cfg.HTTP.Addr != "127.0.0.1:9000" || cfg.FPS != 2.5 {
		t.Fatalf("layers not applied: %+v", cfg)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		args []string
		key  string
	}{
		{map[string]string{"EDGECLASS_MQTT_QOS": "2"}, nil, "mqtt.qos"},
		{map[string]string{"EDGECLASS_EVENTS_MIN_CONFIDENCE": "1.5"}, nil, "events.min_confidence"},
		{nil, []string{"--fps", "0"}, "fps"},
		{nil, []string{"--model", "/no/such/model.tflite"}, "model"},
		{nil, []string{"--mqtt.broker", "localhost:1883"}, "mqtt.broker"},
		{nil, []string{"--mqtt.broker", "ssl://h:8883", "--mqtt.cert_file", "/etc/hostname"}, "mqtt.cert_file"},
		{nil, []string{"--device_id", "Bad Id"}, "device_id"},
		{nil, []string{"--fit", "stretch"}, "fit"},
		{map[string]string{"EDGECLASS_EVENTS_HEARTBEAT": "soon"}, nil, "EDGECLASS_EVENTS_HEARTBEAT"},
		{nil, []string{"--events.on_change=false", "--events.heartbeat=0s"}, "events.on_change"},
	} {
		_, err := LoadConfig(c.args, env(c.env))
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%v %v: error %v does not name %s", c.env, c.args, err, c.key)
		}
	}
}
