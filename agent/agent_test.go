package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/internal/brokertest"
	"github.com/edgeclass/edgeclass/mqtt"
)

// testConfig is the embedded setup on free loopback ports.
func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.DeviceID = "test-cam"
	cfg.StateDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Listen = "127.0.0.1:0"
	cfg.FPS = 15
	cfg.Events.Smoothing = 2
	return cfg
}

// startAgent runs an agent until the test ends.
func startAgent(t *testing.T, cfg Config) *Agent {
	t.Helper()
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent stopped with %v", err)
		}
	})
	return a
}

// subscriber collects the payloads of a topic filter.
type subscriber struct {
	mu   sync.Mutex
	msgs map[string][][]byte // by topic
	c    paho.Client
}

func subscribe(t *testing.T, broker, filter string) *subscriber {
	t.Helper()
	s := &subscriber{msgs: map[string][][]byte{}}
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID("sub-" + t.Name()).SetConnectTimeout(5 * time.Second)
	s.c = paho.NewClient(opts)
	if tok := s.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	tok := s.c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		s.msgs[m.Topic()] = append(s.msgs[m.Topic()], append([]byte(nil), m.Payload()...))
		s.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { s.c.Disconnect(100) })
	return s
}

// wait returns the payloads on topic once there are at least n, failing
// after the timeout.
func (s *subscriber) wait(t *testing.T, topic string, n int, timeout time.Duration) [][]byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		got := append([][]byte(nil), s.msgs[topic]...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages on %s after %v, want %d", len(got), topic, timeout, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}

// checkEvents decodes events strictly (the documented schema) and checks
// what the demo model says about the test pattern.
func checkEvents(t *testing.T, payloads [][]byte) {
	t.Helper()
	colours := map[string]bool{"red": true, "green": true, "blue": true, "yellow": true}
	var last uint64
	for _, p := range payloads {
		ev, err := mqtt.DecodeEvent(p)
		if err != nil {
			t.Fatalf("event does not follow the schema: %v\n%s", err, p)
		}
		if ev.Device != "test-cam" || ev.Model.Name != "edgeclass-demo-colours" || len(ev.Model.SHA256) != 64 {
			t.Errorf("event identity: %+v", ev)
		}
		if ev.Confident && !colours[ev.Label] {
			t.Errorf("demo model saw %q in the test pattern", ev.Label)
		}
		if ev.Seq <= last || ev.LatencyMs.Inference <= 0 || len(ev.TopK) != 3 {
			t.Errorf("event seq %d after %d, latency %+v, %d classes", ev.Seq, last, ev.LatencyMs, len(ev.TopK))
		}
		last = ev.Seq
	}
}

// TestAgentEmbedded is the README's run command in a test: embedded broker,
// test pattern, demo model. Events must flow within 10 s, and the HTTP
// endpoints must answer.
func TestAgentEmbedded(t *testing.T) {
	start := time.Now()
	a := startAgent(t, testConfig(t))
	sub := subscribe(t, a.BrokerURL(), "edgeclass/#")
	checkEvents(t, sub.wait(t, "edgeclass/test-cam/events", 2, 10*time.Second-time.Since(start)))
	t.Logf("first events after %v", time.Since(start))
	var status mqtt.Status
	if err := json.Unmarshal(sub.wait(t, "edgeclass/test-cam/status", 1, time.Second)[0], &status); err != nil || status.State != "online" {
		t.Fatalf("status: %v %+v", err, status)
	}

	base := "http://" + a.HTTPAddr()
	var health map[string]any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if getJSON(t, base+"/healthz", &health) == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not healthy: %v", health)
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"edgeclass_frames_total", "edgeclass_latency_seconds_bucket{stage=\"inference\"", "edgeclass_mqtt_connected 1", "edgeclass_model_info{name=\"edgeclass-demo-colours\""} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var models map[string]any
	if code := getJSON(t, base+"/v1/models/edgeclass-demo-colours", &models); code != 200 {
		t.Fatalf("TF Serving status: %d %v", code, models)
	}

	// :classify on a frame of the test pattern gives its colour.
	p, _ := camera.NewTestPattern(320, 240, 10)
	var buf bytes.Buffer
	png.Encode(&buf, p.Render(40))
	body := `{"examples": [{"image": {"b64": "` + base64.StdEncoding.EncodeToString(buf.Bytes()) + `"}}]}`
	resp, err = http.Post(base+"/v1/models/edgeclass-demo-colours:classify", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Result [][][2]any }
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if len(res.Result) != 1 || res.Result[0][0][0] != p.Label(40) {
		t.Fatalf("classify of a %s frame: %v", p.Label(40), res.Result)
	}
	if img, seq := a.Frame(); img == nil || seq == 0 {
		t.Fatal("no latest frame for the status page")
	}
}

// TestAgentMosquitto runs the agent against Debian's mosquitto and checks
// events, the retained status and the command channel.
func TestAgentMosquitto(t *testing.T) {
	m := brokertest.StartMosquitto(t, brokertest.Options{})
	cfg := testConfig(t)
	cfg.MQTT.Broker = m.URL()
	a := startAgent(t, cfg)
	sub := subscribe(t, m.URL(), "edgeclass/#")
	checkEvents(t, sub.wait(t, "edgeclass/test-cam/events", 2, 10*time.Second))

	tok := sub.c.Publish("edgeclass/test-cam/commands", 1, false, []byte(`{"id": "q1", "name": "status"}`))
	tok.Wait()
	tok = sub.c.Publish("edgeclass/test-cam/commands", 1, false, []byte(`{not json`))
	tok.Wait()
	replies := sub.wait(t, "edgeclass/test-cam/replies", 2, 5*time.Second)
	var ok, bad map[string]any
	json.Unmarshal(replies[0], &ok)
	json.Unmarshal(replies[1], &bad)
	if ok["id"] != "q1" || ok["ok"] != true || bad["ok"] != false || bad["error"] == nil {
		t.Fatalf("command replies: %s / %s", replies[0], replies[1])
	}
	if st := a.Status(); !st.MQTT || st.Broker != m.URL() {
		t.Fatalf("status: %+v", st)
	}
}

// TestAgentKilledAndRestarted kills agent processes with SIGKILL: the last
// will marks the device offline; events produced while the broker is down
// wait in the outbox across a SIGKILL and reach the broker, in order, when
// the agent restarts.
func TestAgentKilledAndRestarted(t *testing.T) {
	if os.Getenv("AGENT_CHILD") != "" {
		cfg, err := LoadConfig(nil, os.LookupEnv)
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)))
		if err != nil {
			t.Fatal(err)
		}
		a.Run(context.Background()) // until killed
		return
	}
	m := brokertest.StartMosquitto(t, brokertest.Options{})
	state := t.TempDir()
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAgentKilledAndRestarted$")
		cmd.Env = append(os.Environ(), "AGENT_CHILD=1", "EDGECLASS_DEVICE_ID=test-cam", "EDGECLASS_STATE_DIR="+state,
			"EDGECLASS_MQTT_BROKER="+m.URL(), "EDGECLASS_HTTP_ADDR=", "EDGECLASS_FPS=15",
			"EDGECLASS_EVENTS_HEARTBEAT=300ms", "EDGECLASS_EVENTS_MAX_RATE=10", "EDGECLASS_EVENTS_SMOOTHING=1")
		cmd.Stderr = &brokertest.SyncBuffer{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kill := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	seqs := func(payloads [][]byte) []uint64 {
		var out []uint64
		for _, p := range payloads {
			ev, err := mqtt.DecodeEvent(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ev.Seq)
		}
		return out
	}

	// A: connected; SIGKILL fires the last will.
	sub := subscribe(t, m.URL(), "edgeclass/#")
	a := child()
	first := seqs(sub.wait(t, "edgeclass/test-cam/events", 3, 15*time.Second))
	kill(a)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st := sub.wait(t, "edgeclass/test-cam/status", 1, time.Second)
		var s mqtt.Status
		json.Unmarshal(st[len(st)-1], &s)
		if s.State == "offline" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no offline status after SIGKILL: %s", st[len(st)-1])
		}
	}
	time.Sleep(300 * time.Millisecond)
	seenA := seqs(sub.wait(t, "edgeclass/test-cam/events", 1, time.Second))
	lastA := seenA[len(seenA)-1]

	// B: the broker is down; events go to the outbox; SIGKILL.
	m.Stop()
	b := child()
	time.Sleep(3 * time.Second)
	killedAt := time.Now()
	kill(b)

	// C: broker back, agent restarted: the outbox drains in order.
	m.Start()
	sub2 := subscribe(t, m.URL(), "edgeclass/test-cam/events")
	cStart := time.Now()
	c := child()
	defer kill(c)
	// The outbox drains in order, so once an event of the new run arrives,
	// everything queued before it has arrived too.
	var got []uint64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		payloads := sub2.wait(t, "edgeclass/test-cam/events", 1, 30*time.Second)
		last, err := mqtt.DecodeEvent(payloads[len(payloads)-1])
		if err != nil {
			t.Fatal(err)
		}
		if last.Time.After(cStart) {
			got = seqs(payloads)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart got seqs %v and no event of the new run; last before the outage %d", seqs(payloads), lastA)
		}
	}
	// Seqs continue after A's last one without gaps (repeats of what A
	// sent may come first; consumers drop them by seq).
	next := lastA + 1
	for _, s := range got {
		if s > next {
			t.Fatalf("seq %d arrived while %d was expected: an event of the outage was lost (all: %v)", s, next, got)
		}
		if s == next {
			next++
		}
	}
	var queued int
	for _, p := range sub2.wait(t, "edgeclass/test-cam/events", 1, time.Second) {
		ev, _ := mqtt.DecodeEvent(p)
		if ev.Seq > lastA && ev.Time.Before(killedAt) {
			queued++
		}
	}
	if queued < 3 {
		t.Fatalf("only %d events from the outage arrived (first run %v)", queued, first)
	}
	t.Logf("last will fired; %d events queued during the outage arrived after SIGKILL and restart, seqs %d..%d", queued, lastA+1, next-1)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
