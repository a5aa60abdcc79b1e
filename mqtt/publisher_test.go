package mqtt

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childPublisher())
	}
	os.Exit(m.Run())
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig(broker, device, stateDir string) Config {
	cfg := DefaultConfig()
	cfg.Broker, cfg.Device, cfg.StateDir = broker, device, stateDir
	cfg.ReconnectMin, cfg.ReconnectMax = 50*time.Millisecond, 500*time.Millisecond
	cfg.Logger = quietLogger()
	return cfg
}

// testEvent is a schema-valid event for frame n.
func testEvent(n uint64) *Event {
	ev := sampleEvent()
	ev.Frame, ev.Time, ev.Ready = n, Timestamp{time.Now()}, time.Now()
	return ev
}

func TestPublisherEvents(t *testing.T) {
	eachBroker(t, brokerOpts{}, func(t *testing.T, b testBroker) {
		c := newConsumer(t, ConnConfig{Broker: b.URL()}, "", KindEvents, KindStatus, KindTelemetry)
		for _, qos := range []int{1, 0} {
			device := fmt.Sprintf("cam-qos%d", qos)
			cfg := testConfig(b.URL(), device, t.TempDir())
			cfg.QoS, cfg.Version = qos, "v-test"
			p, err := NewPublisher(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "connected", func() bool { ok, _ := p.Connected(); return ok })

			// Real decisions: 8 frames of cat, 8 of dog, 8 of cat; smoothing 3.
			pc := DefaultPolicyConfig()
			pc.Smoothing, pc.MaxRate, pc.Heartbeat = 3, 0, 0
			policy, _ := NewPolicy(pc)
			var want []Decision
			var wantFrames []uint64
			t0 := time.Now()
			for f := uint64(0); f < 24; f++ {
				label, idx := "cat", 3
				if f/8 == 1 {
					label, idx = "dog", 5
				}
				topK := []Class{{idx, label, 0.8}, {9, "other", 0.2}}
				d := policy.Decide(t0.Add(time.Duration(f)*100*time.Millisecond), topK)
				if !d.Publish {
					continue
				}
				ev := &Event{Frame: f, Time: Timestamp{t0}, TopK: topK, Ready: time.Now(),
					Model: Model{Name: "m", Version: "1", SHA256: strings.Repeat("0", 64)}}
				d.Fill(ev)
				if err := p.PublishEvent(ev); err != nil {
					t.Fatal(err)
				}
				want, wantFrames = append(want, d), append(wantFrames, f)
			}
			if len(want) != 3 {
				t.Fatalf("the policy made %d events, want 3 (first, change, change)", len(want))
			}
			deviceEvents := func() []*Event {
				fresh, _ := c.events(t)
				var mine []*Event
				for _, ev := range fresh {
					if ev.Device == device {
						mine = append(mine, ev)
					}
				}
				return mine
			}
			waitFor(t, 5*time.Second, "the events arrive", func() bool { return len(deviceEvents()) == len(want) })
			for i, ev := range deviceEvents() {
				d := want[i]
				if ev.Seq != uint64(i+1) || ev.Frame != wantFrames[i] || ev.Label != d.Top.Label || ev.Reason != d.Reason ||
					ev.Changed != d.Changed || ev.Previous != d.Previous || !ev.Confident || ev.LatencyMs.Publish <= 0 {
					t.Errorf("event %d: %+v, want %+v at frame %d", i, ev, d, wantFrames[i])
				}
			}

			waitFor(t, 5*time.Second, "delivered", func() bool { return p.Counts().Delivered == 3 })
			if err := p.PublishTelemetry(&Telemetry{FPS: 12.5, Frames: 24}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "telemetry arrives", func() bool {
				for _, raw := range c.received(KindTelemetry) {
					var tm Telemetry
					if json.Unmarshal(raw, &tm) == nil && tm.Device == device {
						if tm.Schema != TelemetrySchema || tm.FPS != 12.5 || tm.Events.Queued != 3 || tm.Events.Delivered != 3 || tm.Events.Pending != 0 {
							t.Fatalf("telemetry %s", raw)
						}
						return true
					}
				}
				return false
			})

			// The retained status reaches a consumer that comes later.
			late := newConsumer(t, ConnConfig{Broker: b.URL()}, device, KindStatus)
			waitFor(t, 5*time.Second, "the retained status", func() bool { return len(late.statuses(t)) > 0 })
			if s := late.statuses(t)[0]; s.State != "online" || s.Since == nil || s.Version != "v-test" || s.Schema != StatusSchema {
				t.Fatalf("retained status %+v", s)
			}
			p.Close()
			waitFor(t, 5*time.Second, "offline after Close", func() bool {
				s := late.statuses(t)
				return s[len(s)-1].State == "offline"
			})
		}
	})
}

func TestPublisherSurvivesBrokerRestart(t *testing.T) {
	outage := 30 * time.Second
	if testing.Short() {
		outage = 3 * time.Second
	}
	eachBroker(t, brokerOpts{}, func(t *testing.T, b testBroker) {
		g := newGate(t, b.URL())
		c := newConsumer(t, ConnConfig{Broker: b.URL()}, "cam-1", KindEvents)
		p, err := NewPublisher(testConfig(g.URL(), "cam-1", t.TempDir()), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()

		// Publish an event every 10 ms throughout.
		var published atomic.Uint64
		stop, stopped := make(chan struct{}), make(chan error, 1)
		go func() {
			for f := uint64(1); ; f++ {
				select {
				case <-stop:
					stopped <- nil
					return
				case <-time.After(10 * time.Millisecond):
				}
				if err := p.PublishEvent(testEvent(f)); err != nil {
					stopped <- err
					return
				}
				published.Add(1)
			}
		}()
		waitFor(t, 5*time.Second, "events flow", func() bool { return c.lastSeq() >= 50 })

		subs := c.subscriptions()
		g.Shut()
		atShut := published.Load()
		b.Stop()
		time.Sleep(outage)
		if ok, _ := p.Connected(); ok {
			t.Fatal("connected while the broker is down")
		}
		b.Start()
		waitFor(t, 10*time.Second, "the consumer resubscribes", func() bool { return c.subscriptions() > subs })
		held, duringOutage := p.Counts().Pending, published.Load()-atShut
		g.Open()
		waitFor(t, 10*time.Second, "the publisher reconnects", func() bool { return p.Counts().Connects >= 2 })
		close(stop)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		n := published.Load()
		waitFor(t, 30*time.Second, "every event arrives", func() bool { return c.lastSeq() >= n })
		fresh, repeats := c.events(t)
		checkContiguous(t, fresh, n)
		if duringOutage < 50 || uint64(held) < duringOutage {
			t.Fatalf("the outbox held %d events after %d were published during the %v outage", held, duringOutage, outage)
		}
		t.Logf("%d events, %d held in the outbox over the %v outage, %d repeats dropped", n, held, outage, repeats)
	})
}

// The child process of TestPublisherKilledAndRestarted: it publishes
// childCount events and prints "queued SEQ" after each (the event is on
// disk then), then waits until the outbox is empty and prints "drained".
const childEnv = "EDGECLASS_MQTT_TEST_CHILD"

func childPublisher() int {
	var broker, state string
	var count int
	fmt.Sscanf(os.Getenv(childEnv), "%s %s %d", &broker, &state, &count)
	p, err := NewPublisher(testConfig(broker, "cam-1", state), nil)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	for f := 1; f <= count; f++ {
		ev := testEvent(uint64(f))
		if err := p.PublishEvent(ev); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("queued", ev.Seq)
		time.Sleep(2 * time.Millisecond)
	}
	for p.Counts().Pending > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	p.Close()
	fmt.Println("drained")
	return 0
}

type child struct {
	cmd     *exec.Cmd
	queued  atomic.Uint64 // the last seq it reported queued
	lines   atomic.Int64
	drained atomic.Bool
	exited  chan error
}

func startChild(t *testing.T, broker, state string, count int) *child {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", childEnv, broker, state, count))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, exited: make(chan error, 1)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if seq, ok := strings.CutPrefix(line, "queued "); ok {
				n, _ := strconv.ParseUint(seq, 10, 64)
				ch.queued.Store(n)
				ch.lines.Add(1)
			} else if line == "drained" {
				ch.drained.Store(true)
			} else {
				fmt.Fprintln(os.Stderr, "child:", line)
			}
		}
	}()
	go func() { wg.Wait(); ch.exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return ch
}

func (ch *child) kill(t *testing.T) {
	ch.cmd.Process.Kill() // SIGKILL
	if err := <-ch.exited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child ended with %v, want killed", err)
	}
}

func TestPublisherKilledAndRestarted(t *testing.T) {
	eachBroker(t, brokerOpts{}, func(t *testing.T, b testBroker) {
		g := newGate(t, b.URL())
		c := newConsumer(t, ConnConfig{Broker: b.URL()}, "cam-1", KindEvents, KindStatus)
		state := t.TempDir()
		lastStatus := func() string {
			s := c.statuses(t)
			if len(s) == 0 {
				return ""
			}
			return s[len(s)-1].State
		}

		// 1. Killed mid-stream while connected: the last will says offline.
		ch := startChild(t, g.URL(), state, 1_000_000)
		waitFor(t, 10*time.Second, "events flow", func() bool { return c.lastSeq() >= 100 && lastStatus() == "online" })
		killed := time.Now()
		ch.kill(t)
		waitFor(t, 5*time.Second, "the last will (offline)", func() bool { return lastStatus() == "offline" })
		t.Logf("run 1 queued %d events; last will after %v", ch.queued.Load(), time.Since(killed).Round(time.Millisecond))

		// 2. The broker is out of reach: events pile up in the outbox; killed.
		g.Shut()
		ch = startChild(t, g.URL(), state, 50)
		waitFor(t, 10*time.Second, "50 events queued", func() bool { return ch.lines.Load() == 50 })
		ch.kill(t)
		held, _ := filepath.Glob(filepath.Join(state, "outbox", "*.msg"))
		if len(held) < 50 {
			t.Fatalf("the outbox holds %d events after run 2, want at least 50", len(held))
		}

		// 3. Reachable again: the outbox goes out first, then new events.
		g.Open()
		ch = startChild(t, g.URL(), state, 20)
		if err := <-ch.exited; err != nil || !ch.drained.Load() {
			t.Fatalf("run 3: %v (drained %v)", err, ch.drained.Load())
		}
		n := ch.queued.Load()
		waitFor(t, 10*time.Second, "every event arrives", func() bool { return c.lastSeq() >= n })
		fresh, repeats := c.events(t)
		checkContiguous(t, fresh, n)
		t.Logf("%d events in order over two SIGKILLs; the outbox held %d; %d repeats dropped", n, len(held), repeats)
	})
}

func TestCommandsOverMQTT(t *testing.T) {
	eachBroker(t, brokerOpts{}, func(t *testing.T, b testBroker) {
		var mu sync.Mutex
		threshold := 0.5
		cmds := &Commands{MaxBytes: 4096}
		cmds.Register("config.set", func(_ context.Context, args json.RawMessage) (any, error) {
			var a struct {
				MinConfidence float64 `json:"min_confidence"`
			}
			if err := DecodeArgs(args, &a); err != nil {
				return nil, err
			}
			if a.MinConfidence < 0 || a.MinConfidence > 1 {
				return nil, BadArgs(errors.New("min_confidence must be in [0, 1]"))
			}
			mu.Lock()
			threshold = a.MinConfidence
			mu.Unlock()
			return map[string]float64{"min_confidence": a.MinConfidence}, nil
		})
		current := func() float64 { mu.Lock(); defer mu.Unlock(); return threshold }
		p, err := NewPublisher(testConfig(b.URL(), "cam-1", t.TempDir()), cmds)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		waitFor(t, 5*time.Second, "connected", func() bool { ok, _ := p.Connected(); return ok })
		c := newConsumer(t, ConnConfig{Broker: b.URL()}, "cam-1", KindReplies)
		replies := func() []Reply {
			var out []Reply
			for _, raw := range c.received(KindReplies) {
				var r Reply
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatalf("reply %q: %v", raw, err)
				}
				out = append(out, r)
			}
			return out
		}
		send := func(payload string) {
			if tok := c.client.Publish(p.Topics().Commands(), 1, false, payload); tok.Wait() && tok.Error() != nil {
				t.Fatal(tok.Error())
			}
		}

		bad := []struct{ payload, id, code string }{
			{`this is not json`, "", CodeBadJSON},
			{`{"name":"config.set","args":{"min_confidence":0.9}}`, "", CodeBadJSON},
			{`{"id":"2","args":{"min_confidence":0.9}}`, "2", CodeBadJSON},
			{`{"id":"3","name":"config.set","args":{"min_confidence":"high"}}`, "3", CodeBadArgs},
			{`{"id":"4","name":"config.set","args":{"min_confidence":0.9,"oops":true}}`, "4", CodeBadArgs},
			{`{"id":"5","name":"model.delete"}`, "5", CodeUnknown},
			{`{"id":"6","name":"config.set","args":{"min_confidence":0.9},"pad":"` + strings.Repeat("x", 5000) + `"}`, "", CodeTooLarge},
			{`{"id":"7","name":"config.set","args":[0.9]}`, "7", CodeBadJSON},
		}
		for _, tc := range bad {
			send(tc.payload)
		}
		waitFor(t, 5*time.Second, "a reply to each bad command", func() bool { return len(replies()) == len(bad) })
		for i, r := range replies() { // commands run in arrival order
			if r.OK || r.Error == nil || r.Error.Code != bad[i].code || r.ID != bad[i].id {
				t.Errorf("%.40s: reply %+v, want id %q code %s", bad[i].payload, r, bad[i].id, bad[i].code)
			}
		}
		if current() != 0.5 {
			t.Fatalf("a bad command changed the threshold to %v", current())
		}

		send(`{"id":"ok-1","name":"config.set","args":{"min_confidence":0.9}}`)
		waitFor(t, 5*time.Second, "the reply", func() bool { return len(replies()) == len(bad)+1 })
		if r := replies()[len(bad)]; !r.OK || r.ID != "ok-1" || string(r.Result) != `{"min_confidence":0.9}` || current() != 0.9 {
			t.Fatalf("valid command: %+v (threshold %v)", r, current())
		}

		// After a broker restart the publisher subscribes again.
		subs := c.subscriptions()
		b.Stop()
		b.Start()
		waitFor(t, 10*time.Second, "both reconnect", func() bool {
			return c.subscriptions() > subs && p.Counts().Connects >= 2
		})
		send(`{"id":"ok-2","name":"config.set","args":{"min_confidence":0.7}}`)
		waitFor(t, 5*time.Second, "the reply after the restart", func() bool { return len(replies()) == len(bad)+2 })
		if r := replies()[len(bad)+1]; !r.OK || r.ID != "ok-2" || current() != 0.7 {
			t.Fatalf("after the restart: %+v (threshold %v)", r, current())
		}
	})
}

// connectsWithin reports whether a publisher with cfg connects within d,
// and its last error.
func connectsWithin(t *testing.T, cfg Config, d time.Duration) (bool, error) {
	p, err := NewPublisher(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	deadline := time.Now().Add(d)
	for {
		ok, err := p.Connected()
		if ok || time.Now().After(deadline) {
			return ok, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMutualTLS(t *testing.T) {
	c := makeCerts(t)
	eachBroker(t, brokerOpts{CertFile: c.serverCert, KeyFile: c.serverKey, ClientCA: c.ca}, func(t *testing.T, b testBroker) {
		if !strings.HasPrefix(b.URL(), "ssl://") {
			t.Fatalf("broker URL %s is not TLS", b.URL())
		}
		cfg := testConfig(b.URL(), "cam-1", t.TempDir())
		cfg.CAFile, cfg.CertFile, cfg.KeyFile = c.ca, c.clientCert, c.clientKey
		if ok, err := connectsWithin(t, cfg, 5*time.Second); !ok {
			t.Fatalf("the right client certificate was refused: %v", err)
		}
		// An event goes through the TLS connection end to end.
		cons := newConsumer(t, cfg.ConnConfig, "cam-1", KindEvents)
		p, _ := NewPublisher(cfg, nil)
		p.PublishEvent(testEvent(1))
		waitFor(t, 5*time.Second, "the event over TLS", func() bool { return c2len(cons) == 1 })
		p.Close()

		cfg.CertFile, cfg.KeyFile = c.strangerCert, c.strangerKey
		if ok, err := connectsWithin(t, cfg, 2*time.Second); ok || err == nil {
			t.Fatalf("a certificate from another CA was accepted (err %v)", err)
		} else {
			t.Logf("other CA refused: %v", err)
		}
		cfg.CertFile, cfg.KeyFile = "", ""
		if ok, _ := connectsWithin(t, cfg, 2*time.Second); ok {
			t.Fatal("a client without a certificate was accepted")
		}
	})
}

func c2len(c *consumer) int { return len(c.received(KindEvents)) }

func TestPasswords(t *testing.T) {
	eachBroker(t, brokerOpts{Users: map[string]string{"cam-1": "s3cret", "ops": "hunter2"}}, func(t *testing.T, b testBroker) {
		cfg := testConfig(b.URL(), "cam-1", t.TempDir())
		cfg.Username, cfg.Password = "cam-1", "s3cret"
		if ok, err := connectsWithin(t, cfg, 5*time.Second); !ok {
			t.Fatalf("the right password was refused: %v", err)
		}
		for _, up := range [][2]string{{"cam-1", "wrong"}, {"ops", "s3cret"}, {"nobody", "s3cret"}, {"", ""}} {
			cfg.Username, cfg.Password = up[0], up[1]
			if ok, err := connectsWithin(t, cfg, time.Second); ok || err == nil {
				t.Fatalf("user %q password %q was accepted (err %v)", up[0], up[1], err)
			}
		}
	})
}

func TestConfigValidateNamesKey(t *testing.T) {
	for key, mutate := range map[string]func(*Config){
		"broker":            func(c *Config) { c.Broker = "http://x:1" },
		"device":            func(c *Config) { c.Device = "a/b" },
		"qos":               func(c *Config) { c.QoS = 2 },
		"state_dir":         func(c *Config) { c.StateDir = "" },
		"outbox.max_events": func(c *Config) { c.Outbox.MaxEvents = 0 },
		"in_flight":         func(c *Config) { c.InFlight = 0 },
		"reconnect_min":     func(c *Config) { c.ReconnectMax = time.Millisecond },
		"cert_file and key_file": func(c *Config) {
			c.Broker, c.CertFile = "ssl://h:8883", "c.pem"
		},
		"username": func(c *Config) { c.Password = "x" },
	} {
		cfg := testConfig("tcp://127.0.0.1:1883", "cam-1", "/tmp/x")
		mutate(&cfg)
		if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), key) {
			t.Errorf("%s: error %v does not name the key", key, err)
		}
	}
	cfg := testConfig("tcp://127.0.0.1:1883", "cam-1", "/tmp/x")
	cfg.CAFile = "ca.pem"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "ssl://") {
		t.Errorf("TLS files on a tcp:// broker: %v", err)
	}
}
