package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/agent/demomodel"
	"github.com/edgeclass/edgeclass/control"
	"github.com/edgeclass/edgeclass/internal/brokertest"
	"github.com/edgeclass/edgeclass/modelpkg"
	"github.com/edgeclass/edgeclass/modelstore"
	"github.com/edgeclass/edgeclass/mqtt"
	"github.com/edgeclass/edgeclass/tflite"
)

// TestCanaryRollout runs five agents in group "lab" on one broker. The
// package goes to a canary first; when the canary refuses it (it does not
// trust the signing key) the rollout stops and the others keep their model.
// With a canary that accepts, everyone gets it.
func TestCanaryRollout(t *testing.T) {
	m := brokertest.StartMosquitto(t, brokertest.Options{})
	dir := t.TempDir()
	modelpkg.GenerateKey(filepath.Join(dir, "k"))
	modelpkg.GenerateKey(filepath.Join(dir, "other"))
	key, _ := modelpkg.LoadPrivateKey(filepath.Join(dir, "k"))
	var agents []*Agent
	for i := 0; i < 5; i++ {
		cfg := testConfig(t)
		cfg.DeviceID = fmt.Sprintf("cam-%d", i)
		cfg.Groups = []string{"lab"}
		cfg.MQTT.Broker = m.URL()
		cfg.HTTP.Addr = ""
		cfg.FPS = 5
		cfg.Updates.Trial = time.Second
		cfg.Updates.TrustedKeys = []string{filepath.Join(dir, "k.pub")}
		if i == 0 { // the canary distrusts the fleet key
			cfg.Updates.TrustedKeys = []string{filepath.Join(dir, "other.pub")}
		}
		agents = append(agents, startAgent(t, cfg))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctl, err := control.Dial(ctx, mqtt.ConnConfig{Broker: m.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	var lab []string
	for deadline := time.Now().Add(10 * time.Second); len(lab) < 5; {
		lab = lab[:0]
		for _, d := range ctl.Devices(ctx, 200*time.Millisecond) {
			if d.State == "online" && d.InGroup("lab") {
				lab = append(lab, d.ID)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("devices in group lab: %v", lab)
		}
	}
	pkg, err := modelpkg.Build(demoVariant(t, "2", nil), "demo", "2", nil, "", key)
	if err != nil {
		t.Fatal(err)
	}
	res := ctl.Rollout(ctx, lab, pkg, control.RolloutOptions{Canary: 0.2, PushOptions: control.PushOptions{WaitCommit: 20 * time.Second}})
	if res[0].OK || res[0].Step != "refused" {
		t.Fatalf("canary: %+v", res[0])
	}
	for _, r := range res[1:] {
		if r.Step != "skipped" {
			t.Fatalf("after a failed canary %s got %+v", r.Device, r)
		}
	}
	for _, a := range agents {
		if v := a.Model().Version; v != "1" {
			t.Fatalf("%s runs version %s after a stopped rollout", a.config().DeviceID, v)
		}
	}

	// A good canary (cam-1 first): the whole group follows.
	order := append([]string{lab[1]}, append(append([]string{}, lab[2:]...), lab[0])...)
	res = ctl.Rollout(ctx, order, pkg, control.RolloutOptions{Canary: 0.2, MaxFailures: 1, PushOptions: control.PushOptions{WaitCommit: 20 * time.Second}})
	for i, r := range res {
		want := i < 4 // cam-0 still distrusts the key
		if r.OK != want {
			t.Fatalf("rollout result %d: %+v", i, r)
		}
	}
	if res[0].Step != "committed" {
		t.Fatalf("the canary was not committed: %+v", res[0])
	}
}

// TestRemoteConfig changes the event policy over MQTT: valid changes apply
// and persist across a restart; a bad value or an unknown key is refused
// with its reason and changes nothing.
func TestRemoteConfig(t *testing.T) {
	cfg := testConfig(t)
	cfg.Events.Heartbeat, cfg.Events.MaxRate = 200*time.Millisecond, 10
	// A labels file unlike the model's metadata: a new fit rebuilds the
	// model's classifiers, which must keep naming classes with it.
	labels := []string{"fond", "rouge", "vert", "bleu", "jaune"}
	cfg.Model, cfg.Labels = filepath.Join(t.TempDir(), "demo.tflite"), filepath.Join(t.TempDir(), "labels.txt")
	if err := os.WriteFile(cfg.Model, demomodel.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Labels, []byte(strings.Join(labels, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctl, err := control.Dial(ctx, mqtt.ConnConfig{Broker: a.BrokerURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	waitOnline(t, a)
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"events.min_confidence": 1.5}, "min_confidence"},
		{map[string]any{"mqtt.broker": "tcp://elsewhere:1883"}, "cannot be changed remotely"},
		{map[string]any{"fps": "fast"}, "fps"},
		{map[string]any{"events.smoothing": 3, "top_k": 0}, "top_k"},
	} {
		_, err := ctl.Call(ctx, "test-cam", "config.set", c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config.set %v: %v, want a refusal naming %s", c.args, err, c.want)
		}
	}
	if got := a.config(); got.Events.Smoothing != cfg.Events.Smoothing || got.TopK != cfg.TopK {
		t.Fatalf("a refused config.set changed the configuration: %+v", got.Events)
	}
	sub := subscribe(t, a.BrokerURL(), "edgeclass/test-cam/events")
	changed := time.Now()
	raw, err := ctl.Call(ctx, "test-cam", "config.set", map[string]any{"events.min_confidence": 0.8, "fps": 5, "top_k": 2, "fit": "crop"})
	if err != nil {
		t.Fatal(err)
	}
	applied := time.Now()
	var values map[string]string
	json.Unmarshal(raw, &values)
	if values["events.min_confidence"] != "0.8" || values["fps"] != "5" {
		t.Fatalf("config.set reply: %s", raw)
	}
	// Events of frames after the change carry two classes, named from
	// the labels file; the new frame-rate cap holds.
	for n := 1; ; n++ {
		evs := sub.wait(t, "edgeclass/test-cam/events", n, 10*time.Second)
		ev, _ := mqtt.DecodeEvent(evs[n-1])
		if ev.Time.After(applied) && ev.Time.After(changed.Add(100*time.Millisecond)) {
			if len(ev.TopK) != 2 {
				t.Fatalf("events carry %d classes after top_k=2", len(ev.TopK))
			}
			if top := ev.TopK[0]; top.Label != labels[top.Index] {
				t.Fatalf("after fit=crop class %d is named %q, want %q from the labels file", top.Index, top.Label, labels[top.Index])
			}
			break
		}
	}
	time.Sleep(2 * time.Second)
	if fps := a.Status().FPS; fps > 6 {
		t.Fatalf("fps %.1f after fps=5", fps)
	}
	// The change persists: a restart with the same state folder loads it.
	restarted, err := LoadConfig([]string{"--state_dir", cfg.StateDir}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if restarted.Events.MinConfidence != 0.8 || restarted.FPS != 5 || restarted.TopK != 2 {
		t.Fatalf("after restart: min_confidence %v fps %v top_k %v", restarted.Events.MinConfidence, restarted.FPS, restarted.TopK)
	}
	// A flag still wins over the remote setting.
	restarted, _ = LoadConfig([]string{"--state_dir", cfg.StateDir, "--fps", "7"}, func(string) (string, bool) { return "", false })
	if restarted.FPS != 7 {
		t.Fatalf("--fps 7 lost to the remote setting: %v", restarted.FPS)
	}
}

// waitOnline waits until the agent's publisher is connected (and so
// subscribed to its commands).
func waitOnline(t *testing.T, a *Agent) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !a.Status().MQTT; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("agent not connected to its broker")
		}
	}
}

// TestPowerCutDuringInstall kills an agent process with SIGKILL at 50
// random points while it installs models over and over; each time the
// store must open with a working model (the new one, the old one, or none
// installed, meaning the configured model) and an empty staging area.
func TestPowerCutDuringInstall(t *testing.T) {
	if dir := os.Getenv("INSTALL_CHILD"); dir != "" {
		installLoop(t, dir)
		return
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	versions := map[string]int{}
	for i := 0; i < 50; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPowerCutDuringInstall$")
		cmd.Env = append(os.Environ(), "INSTALL_CHILD="+dir)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make([]byte, 6)
		if _, err := out.Read(ready); err != nil || string(ready) != "ready\n" {
			t.Fatalf("child did not start: %v %q", err, ready)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()

		s, err := modelstore.Open(filepath.Join(dir, "models"))
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		if left, _ := os.ReadDir(s.StagingDir()); len(left) != 0 {
			t.Fatalf("kill %d: staging holds %d files", i, len(left))
		}
		v := "configured"
		if p := s.ActivePath(); p != "" {
			if _, err := tflite.LoadFile(p); err != nil {
				t.Fatalf("kill %d: active model does not load: %v", i, err)
			}
			v = s.State().Active.Version
		}
		versions[v]++
	}
	t.Logf("model after each of 50 kills: %v", versions)
	// A real agent starts on what is left.
	cfg := testConfig(t)
	cfg.StateDir = dir
	a := startAgent(t, cfg)
	if a.Model() == nil {
		t.Fatal("no model")
	}
}

// installLoop runs an agent that installs and commits models until killed.
func installLoop(t *testing.T, dir string) {
	cfg := testConfig(t)
	cfg.StateDir, cfg.HTTP.Addr = dir, ""
	cfg.Updates.Trial = 20 * time.Millisecond
	cfg.Updates.AllowUnsigned = true
	a, err := New(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	var pkgs [][]byte
	for _, v := range []string{"2", "3"} {
		p, err := modelpkg.Build(demoVariant(t, v, nil), "demo", v, nil, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	// Stage a package as a transfer would, so staging is never empty.
	os.WriteFile(filepath.Join(a.store.StagingDir(), "incoming.part"), pkgs[0], 0o644)
	fmt.Println("ready")
	for i := 0; ; i++ {
		a.updates.installPackage(fmt.Sprint("t", i), pkgs[i%2])
		if i%3 == 0 {
			time.Sleep(30 * time.Millisecond) // let some trials commit
		}
	}
}
