package mqtt

import (
	"strings"
	"testing"
	"time"
)

// frame makes a two-class top-K: label a with score s, label b with 1-s.
func frame(a string, ai int, s float32, b string, bi int) []Class {
	return []Class{{Index: ai, Label: a, Score: s}, {Index: bi, Label: b, Score: 1 - s}}
}

func TestPolicyFirstChangeAndSmoothing(t *testing.T) {
	cfg := DefaultPolicyConfig()
	cfg.Smoothing, cfg.MaxRate, cfg.Heartbeat = 3, 0, 0
	p, err := NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 100 * time.Millisecond) }

	d := p.Decide(at(0), frame("cat", 3, 0.9, "dog", 5))
	if !d.Publish || d.Reason != ReasonFirst || d.State != "cat" || d.Changed || d.Previous != "" {
		t.Fatalf("first frame: %+v", d)
	}
	// One odd frame: the mean of cat over 2 frames is (0.9+0.2)/2 = 0.55 and stays on top.
	d = p.Decide(at(1), frame("dog", 5, 0.8, "cat", 3))
	if d.Publish || d.State != "cat" || d.Top.Index != 3 {
		t.Fatalf("a single dog frame flipped the state: %+v", d)
	}
	if got := d.Top.Score; got < 0.549 || got > 0.551 {
		t.Fatalf("smoothed cat score %v, want 0.55", got)
	}
	// A second dog frame: cat (0.9+0.2+0.2)/3 = 0.433 < dog (0.1+0.8+0.8)/3 = 0.567.
	d = p.Decide(at(2), frame("dog", 5, 0.8, "cat", 3))
	if !d.Publish || d.Reason != ReasonChange || d.State != "dog" || !d.Changed || d.Previous != "cat" {
		t.Fatalf("change to dog: %+v", d)
	}
	// Same state again: nothing.
	if d = p.Decide(at(3), frame("dog", 5, 0.8, "cat", 3)); d.Publish {
		t.Fatalf("repeat published: %+v", d)
	}
	var ev Event
	d.Fill(&ev)
	if ev.Label != "dog" || ev.Index != 5 || !ev.Confident || ev.Changed {
		t.Fatalf("Fill: %+v", ev)
	}
}

func TestPolicyMinConfidence(t *testing.T) {
	cfg := DefaultPolicyConfig()
	cfg.Smoothing, cfg.MaxRate, cfg.Heartbeat, cfg.MinConfidence = 1, 0, 0, 0.7
	p, _ := NewPolicy(cfg)
	now := time.Unix(0, 0)
	if d := p.Decide(now, frame("cat", 3, 0.9, "dog", 5)); d.State != "cat" || !d.Confident {
		t.Fatalf("%+v", d)
	}
	// The top class falls under 0.7: the state becomes none, a change.
	d := p.Decide(now, frame("cat", 3, 0.6, "dog", 5))
	if !d.Publish || d.Confident || d.State != "" || d.Top.Label != "cat" || !d.Changed || d.Previous != "cat" {
		t.Fatalf("under min_confidence: %+v", d)
	}
	if d := p.Decide(now, frame("cat", 3, 0.65, "dog", 5)); d.Publish {
		t.Fatalf("still none, published again: %+v", d)
	}
}

func TestPolicyHeartbeat(t *testing.T) {
	cfg := DefaultPolicyConfig()
	cfg.Smoothing, cfg.MaxRate, cfg.Heartbeat = 1, 0, 10*time.Second
	p, _ := NewPolicy(cfg)
	t0 := time.Unix(0, 0)
	p.Decide(t0, frame("cat", 3, 0.9, "dog", 5))
	if d := p.Decide(t0.Add(9*time.Second), frame("cat", 3, 0.9, "dog", 5)); d.Publish {
		t.Fatalf("heartbeat too early: %+v", d)
	}
	d := p.Decide(t0.Add(10*time.Second), frame("cat", 3, 0.9, "dog", 5))
	if !d.Publish || d.Reason != ReasonHeartbeat || d.Changed {
		t.Fatalf("heartbeat: %+v", d)
	}
	// The heartbeat counts from the last event, not from the first.
	if d := p.Decide(t0.Add(19*time.Second), frame("cat", 3, 0.9, "dog", 5)); d.Publish {
		t.Fatalf("second heartbeat too early: %+v", d)
	}
	// on_change false: changes wait for the heartbeat.
	cfg.OnChange = false
	p, _ = NewPolicy(cfg)
	p.Decide(t0, frame("cat", 3, 0.9, "dog", 5))
	if d := p.Decide(t0.Add(time.Second), frame("dog", 5, 0.9, "cat", 3)); d.Publish {
		t.Fatalf("on_change false published a change: %+v", d)
	}
	if d := p.Decide(t0.Add(10*time.Second), frame("dog", 5, 0.9, "cat", 3)); !d.Publish || !d.Changed || d.Reason != ReasonHeartbeat {
		t.Fatalf("heartbeat after a change: %+v", d)
	}
}

func TestPolicyRateLimit(t *testing.T) {
	cfg := DefaultPolicyConfig()
	cfg.Smoothing, cfg.MaxRate, cfg.Heartbeat = 1, 2, 0 // at most one event per 500 ms
	p, _ := NewPolicy(cfg)
	t0 := time.Unix(0, 0)
	labels := []string{"a", "b"}
	var published []time.Duration
	var state string
	// 100 frames at 10 ms, the label flipping every frame: 1 s of input.
	for i := 0; i < 100; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		d := p.Decide(t0.Add(at), frame(labels[i%2], i%2, 0.9, labels[1-i%2], 1-i%2))
		if d.Publish {
			published = append(published, at)
			state = d.State
		}
	}
	if len(published) != 2 || published[1]-published[0] < 500*time.Millisecond {
		t.Fatalf("events at %v in 1 s at max_rate 2", published)
	}
	// A change held back by the cap goes out once the cap allows.
	other := map[string]int{"a": 1, "b": 0}[state]
	last := published[1]
	if d := p.Decide(t0.Add(last+100*time.Millisecond), frame(labels[other], other, 0.9, state, 1-other)); d.Publish {
		t.Fatalf("published inside the cap: %+v", d)
	}
	d := p.Decide(t0.Add(last+500*time.Millisecond), frame(labels[other], other, 0.9, state, 1-other))
	if !d.Publish || d.State != labels[other] || d.Reason != ReasonChange {
		t.Fatalf("held change not published after the cap: %+v", d)
	}
}

func TestPolicyValidateNamesKey(t *testing.T) {
	for key, mutate := range map[string]func(*PolicyConfig){
		"min_confidence": func(c *PolicyConfig) { c.MinConfidence = 1.5 },
		"heartbeat":      func(c *PolicyConfig) { c.Heartbeat = -time.Second },
		"smoothing":      func(c *PolicyConfig) { c.Smoothing = 0 },
		"max_rate":       func(c *PolicyConfig) { c.MaxRate = -1 },
		"on_change":      func(c *PolicyConfig) { c.OnChange, c.Heartbeat = false, 0 },
	} {
		cfg := DefaultPolicyConfig()
		mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), key+":") {
			t.Errorf("%s: error %v does not name the key", key, err)
		}
		if _, err := NewPolicy(cfg); err == nil {
			t.Errorf("%s: NewPolicy accepted a bad config", key)
		}
	}
	if err := DefaultPolicyConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}
