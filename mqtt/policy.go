package mqtt

import (
	"fmt"
	"math"
	"time"
)

// PolicyConfig decides which classifications become events. Start from
// DefaultPolicyConfig: the zero value publishes nothing.
type PolicyConfig struct {
	// MinConfidence is the smoothed top-1 score a label needs to count as
	// seen; below it the state is "none". In [0, 1].
	MinConfidence float64 `yaml:"min_confidence"`
	// OnChange publishes when the state changes.
	OnChange bool `yaml:"on_change"`
	// Heartbeat publishes the current state when no event went out for
	// this long (0: never).
	Heartbeat time.Duration `yaml:"heartbeat"`
	// Smoothing averages each class's score over the last this many frames
	// (1: no smoothing), so one odd frame does not flip the state.
	Smoothing int `yaml:"smoothing"`
	// MaxRate caps events per second (0: no cap). A change held back by the
	// cap goes out with the first frame the cap allows.
	MaxRate float64 `yaml:"max_rate"`
}

// DefaultPolicyConfig suits home automation: a label must hold a mean of
// 0.5 over 5 frames, changes go out at most twice a second, and the state
// is repeated every minute.
func DefaultPolicyConfig() PolicyConfig {
	return PolicyConfig{MinConfidence: 0.5, OnChange: true, Heartbeat: time.Minute, Smoothing: 5, MaxRate: 2}
}

// MaxSmoothing bounds the smoothing window.
const MaxSmoothing = 1000

// Validate names the first bad key.
func (c PolicyConfig) Validate() error {
	switch {
	case !(c.MinConfidence >= 0 && c.MinConfidence <= 1):
		return fmt.Errorf("min_confidence: %v is outside [0, 1]", c.MinConfidence)
	case c.Heartbeat < 0:
		return fmt.Errorf("heartbeat: %v is negative", c.Heartbeat)
	case c.Smoothing < 1 || c.Smoothing > MaxSmoothing:
		return fmt.Errorf("smoothing: %d frames is outside [1, %d]", c.Smoothing, MaxSmoothing)
	case !(c.MaxRate >= 0) || math.IsInf(c.MaxRate, 0):
		return fmt.Errorf("max_rate: %v is not a rate >= 0", c.MaxRate)
	case !c.OnChange && c.Heartbeat == 0:
		return fmt.Errorf("on_change: with on_change false and heartbeat 0 no event is ever published")
	}
	return nil
}

// Reasons for publishing an event.
const (
	ReasonFirst     = "first"
	ReasonChange    = "change"
	ReasonHeartbeat = "heartbeat"
)

// Decision is the policy's verdict on one frame.
type Decision struct {
	Publish   bool
	Reason    string
	Top       Class  // smoothed top-1: Score is the mean over the window
	Confident bool   // Top.Score >= MinConfidence
	State     string // Top.Label when Confident, "" (none) otherwise
	Previous  string // the state of the last published event
	Changed   bool   // State != Previous
}

// Fill copies the decision into an event.
func (d Decision) Fill(ev *Event) {
	ev.Label, ev.Index, ev.Score = d.Top.Label, d.Top.Index, d.Top.Score
	ev.Confident, ev.Changed, ev.Previous, ev.Reason = d.Confident, d.Changed, d.Previous, d.Reason
}

// Policy applies a PolicyConfig to a stream of classifications, one per
// frame. It is pure (time comes in with each frame) and not safe for
// concurrent use.
type Policy struct {
	cfg       PolicyConfig
	window    [][]Class // the last Smoothing frames' top-K, a ring
	next      int
	sums      []Class // scratch: per-class sums over the window
	published bool
	lastState string
	lastTime  time.Time
	minGap    time.Duration
}

// NewPolicy checks cfg and returns a policy with no history.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{cfg: cfg, window: make([][]Class, 0, cfg.Smoothing)}
	if cfg.MaxRate > 0 {
		p.minGap = time.Duration(float64(time.Second) / cfg.MaxRate)
	}
	return p, nil
}

// Decide takes one frame's top-K (any order, any K >= 1) and its time.
func (p *Policy) Decide(now time.Time, topK []Class) Decision {
	frame := append([]Class(nil), topK...)
	if len(p.window) < p.cfg.Smoothing {
		p.window = append(p.window, frame)
	} else {
		p.window[p.next] = frame
	}
	p.next = (p.next + 1) % p.cfg.Smoothing

	d := Decision{Top: p.smoothedTop()}
	d.Confident = float64(d.Top.Score) >= p.cfg.MinConfidence
	if d.Confident {
		d.State = d.Top.Label
	}
	d.Previous = p.lastState
	d.Changed = p.published && d.State != p.lastState

	switch {
	case p.published && p.minGap > 0 && now.Sub(p.lastTime) < p.minGap:
		// rate cap: a pending change stays pending (it is compared with the
		// last published state on every frame)
	case !p.published:
		d.Publish, d.Reason = true, ReasonFirst
	case d.Changed && p.cfg.OnChange:
		d.Publish, d.Reason = true, ReasonChange
	case p.cfg.Heartbeat > 0 && now.Sub(p.lastTime) >= p.cfg.Heartbeat:
		d.Publish, d.Reason = true, ReasonHeartbeat
	}
	if d.Publish {
		p.published, p.lastState, p.lastTime = true, d.State, now
	}
	return d
}

// smoothedTop sums each class's score over the window (a class missing
// from a frame's top-K counts 0 there) and returns the best mean; ties go
// to the lower index. The label comes from the newest frame holding it.
func (p *Policy) smoothedTop() Class {
	p.sums = p.sums[:0]
	n := len(p.window)
	for age := 0; age < n; age++ { // newest first
		frame := p.window[(p.next-1-age+2*n)%n]
		for _, c := range frame {
			i := 0
			for i < len(p.sums) && p.sums[i].Index != c.Index {
				i++
			}
			if i == len(p.sums) {
				p.sums = append(p.sums, Class{Index: c.Index, Label: c.Label})
			}
			p.sums[i].Score += c.Score
		}
	}
	var best Class
	for i, c := range p.sums {
		if i == 0 || c.Score > best.Score || c.Score == best.Score && c.Index < best.Index {
			best = c
		}
	}
	best.Score /= float32(n)
	return best
}
