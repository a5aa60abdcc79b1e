package mqtt

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// WatchConfig selects what Watch shows.
type WatchConfig struct {
	ConnConfig
	Device string // one device ("" for all)
	Label  string // only events whose label is this ("" for all)
}

// Watch subscribes to the events and status of one device or all, and
// writes one line per event or status change to w (repeats are skipped,
// see Deduper) until ctx ends. It fails if the first connection fails;
// later it reconnects.
func Watch(ctx context.Context, cfg WatchConfig, w io.Writer) error {
	if cfg.Device != "" {
		if err := ValidateDeviceID(cfg.Device); err != nil {
			return err
		}
	}
	opts, err := cfg.ClientOptions("edgeclass-watch-" + strconv.FormatInt(time.Now().UnixNano(), 36))
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var dedupe Deduper
	handle := func(_ paho.Client, m paho.Message) {
		line := formatMessage(m.Topic(), m.Payload(), cfg.Label, &dedupe)
		if line != "" {
			mu.Lock()
			fmt.Fprintln(w, line)
			mu.Unlock()
		}
	}
	filters := map[string]byte{Filter(cfg.Device, KindEvents): 1, Filter(cfg.Device, KindStatus): 1}
	for connected := false; ; connected = true {
		lost := make(chan error, 1)
		o := *opts
		o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
		c := paho.NewClient(&o)
		err := waitToken(ctx, c.Connect())
		if err == nil {
			if err = waitToken(ctx, c.SubscribeMultiple(filters, handle)); err != nil {
				c.Disconnect(100)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !connected {
			return fmt.Errorf("%s: %w", cfg.Broker, err)
		}
		if err == nil {
			select {
			case <-ctx.Done():
				c.Disconnect(100)
				return nil
			case err = <-lost:
			}
		}
		mu.Lock()
		fmt.Fprintf(w, "%s: %v; reconnecting\n", cfg.Broker, err)
		mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// formatMessage renders an event or status payload as one line, or ""
// for a repeat or an event filtered out by label.
func formatMessage(topic string, payload []byte, label string, dedupe *Deduper) string {
	device, kind, ok := SplitTopic(topic)
	if !ok {
		return ""
	}
	switch kind {
	case KindEvents:
		ev, err := DecodeEvent(payload)
		if err != nil {
			return fmt.Sprintf("%s: bad event: %v", device, err)
		}
		if !dedupe.Fresh(ev) || label != "" && ev.Label != label {
			return ""
		}
		return FormatEvent(ev)
	case KindStatus:
		var u Update
		if json.Unmarshal(payload, &u) == nil && u.Schema == UpdateSchema {
			return FormatUpdate(&u)
		}
		var s Status
		if err := json.Unmarshal(payload, &s); err != nil || s.State == "" {
			return fmt.Sprintf("%s: bad status: %.80q", device, payload)
		}
		line := device + " is " + s.State
		if s.Version != "" {
			line += " (version " + s.Version + ")"
		}
		return line
	}
	return ""
}

// FormatUpdate renders a model update step on one line, e.g.
//
//	cam-1 update t-42 installed ok: flowers 1.3 (trial)
func FormatUpdate(u *Update) string {
	line := fmt.Sprintf("%s update %s %s", u.Device, u.Transfer, u.Step)
	if u.OK {
		line += " ok"
	} else {
		line += " FAILED"
	}
	if u.Progress > 0 && u.Progress < 1 {
		line += fmt.Sprintf(" %.0f%%", 100*u.Progress)
	}
	if u.Model != nil {
		line += fmt.Sprintf(": %s %s", u.Model.Name, u.Model.Version)
	}
	if u.Reason != "" {
		line += " (" + u.Reason + ")"
	}
	return line
}

// FormatEvent renders an event on one line, e.g.
//
//	2026-11-03T10:00:00.123Z cam-1 #42 cat 0.91 change (was dog), frame 1234, inference 12.3 ms
//	2026-11-03T10:00:01.125Z cam-1 #43 none (best cat 0.31) change (was cat), frame 1236, inference 12.1 ms
func FormatEvent(ev *Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s #%d ", ev.Time.UTC().Format("2006-01-02T15:04:05.000Z"), ev.Device, ev.Seq)
	if ev.Confident {
		fmt.Fprintf(&b, "%s %.2f", ev.Label, ev.Score)
	} else {
		fmt.Fprintf(&b, "none (best %s %.2f)", ev.Label, ev.Score)
	}
	b.WriteString(" " + ev.Reason)
	if ev.Changed {
		prev := ev.Previous
		if prev == "" {
			prev = "none"
		}
		b.WriteString(" (was " + prev + ")")
	}
	fmt.Fprintf(&b, ", frame %d, inference %.1f ms", ev.Frame, ev.LatencyMs.Inference)
	return b.String()
}
