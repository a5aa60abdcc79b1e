package mqtt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Payload schemas: each JSON payload names its schema and version first, so
// consumers can refuse what they do not understand. schema/event-v1.json is
// the JSON Schema of Event; README.md documents them all.
const (
	EventSchema     = "edgeclass.event/1"
	StatusSchema    = "edgeclass.status/1"
	TelemetrySchema = "edgeclass.telemetry/1"
	ReplySchema     = "edgeclass.reply/1"
	UpdateSchema    = "edgeclass.update/1"
)

// Event is one classification event on edgeclass/<device>/events.
//
// Label, Index and Score are the smoothed top-1 class (the mean score over
// the policy's smoothing window); Confident says whether Score reached the
// policy's minimum. The device's state is Label when Confident and "none"
// otherwise; Changed and Previous compare the state with the previous event.
type Event struct {
	Schema    string    `json:"schema"`
	Device    string    `json:"device"`
	Seq       uint64    `json:"seq"`   // event number: +1 per event, kept across restarts
	Frame     uint64    `json:"frame"` // the camera frame's sequence number
	Time      Timestamp `json:"time"`  // when the frame was captured
	Label     string    `json:"label"`
	Index     int       `json:"index"`
	Score     float32   `json:"score"`
	Confident bool      `json:"confident"`
	Changed   bool      `json:"changed"`
	Previous  string    `json:"previous"` // the previous event's state ("" on the first event)
	Reason    string    `json:"reason"`   // why it was published: first, change or heartbeat
	TopK      []Class   `json:"top_k"`    // this frame's raw top-K, best first
	Model     Model     `json:"model"`
	LatencyMs Latency   `json:"latency_ms"`

	// Ready is when inference finished; the publisher sets LatencyMs.Publish
	// to the time from Ready until the event is queued (zero: left as is).
	Ready time.Time `json:"-"`
}

// Class is one class and its score. Its fields match classify.Result, so
// mqtt.Class(r) converts one.
type Class struct {
	Index int     `json:"index"`
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Model identifies the model that produced an event.
type Model struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"` // of the .tflite file, lowercase hex
}

// Latency holds the stages of one frame, in milliseconds.
type Latency struct {
	Capture    float64 `json:"capture"`
	Preprocess float64 `json:"preprocess"`
	Inference  float64 `json:"inference"`
	Publish    float64 `json:"publish"`
}

// TimeLayout is RFC 3339 in UTC with nanoseconds, always nine digits, so
// timestamps sort as strings.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// Timestamp is a time that marshals in TimeLayout and unmarshals from any
// RFC 3339 time.
type Timestamp struct{ time.Time }

func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(TimeLayout) + `"`), nil
}

func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("time must be an RFC 3339 string, got %.40s", b)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time: %w", err)
	}
	t.Time = v
	return nil
}

// Status is the retained payload on edgeclass/<device>/status: "online"
// while connected, "offline" after a clean stop or, as the last will, when
// the broker loses the device.
type Status struct {
	Schema  string     `json:"schema"`
	Device  string     `json:"device"`
	State   string     `json:"state"`
	Since   *Timestamp `json:"since,omitempty"` // when it came online
	Version string     `json:"version,omitempty"`
	Groups  []string   `json:"groups,omitempty"` // fleet groups the device belongs to
}

// Update reports one step of a model update on edgeclass/<device>/status
// (not retained, so the retained online/offline Status stays).
type Update struct {
	Schema   string    `json:"schema"`
	Device   string    `json:"device"`
	Time     Timestamp `json:"time"`
	Transfer string    `json:"transfer,omitempty"`
	// Step is received, verified, self-tested, installed, committed,
	// refused, rolled_back or failed.
	Step     string  `json:"step"`
	OK       bool    `json:"ok"`
	Progress float64 `json:"progress,omitempty"` // of a transfer, 0 to 1
	Model    *Model  `json:"model,omitempty"`
	Reason   string  `json:"reason,omitempty"`
}

// Telemetry is published periodically on edgeclass/<device>/telemetry. The
// agent fills the pipeline's figures; the publisher adds Schema, Device,
// Time and Events.
type Telemetry struct {
	Schema        string      `json:"schema"`
	Device        string      `json:"device"`
	Time          Timestamp   `json:"time"`
	UptimeS       float64     `json:"uptime_s"`
	FPS           float64     `json:"fps"`
	Frames        uint64      `json:"frames"`         // frames classified since start
	FramesDropped uint64      `json:"frames_dropped"` // frames skipped because the pipeline was busy
	QueueDepth    int         `json:"queue_depth"`
	LatencyMs     Latency     `json:"latency_ms"` // mean over the last interval
	Model         Model       `json:"model"`
	Events        EventCounts `json:"events"`
}

// EventCounts are the publisher's counters since it started.
type EventCounts struct {
	Queued    uint64 `json:"queued"`    // accepted by PublishEvent
	Delivered uint64 `json:"delivered"` // acknowledged (QoS 1) or written (QoS 0)
	Pending   int    `json:"pending"`   // in the outbox now
	Dropped   uint64 `json:"dropped"`   // dropped from a full outbox, oldest first
	Connects  uint64 `json:"connects"`  // successful connections to the broker
}

// DecodeEvent parses an event strictly: one JSON object, no unknown fields,
// the right schema, a device id and a time.
func DecodeEvent(payload []byte) (*Event, error) {
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("event: data after the JSON object")
	}
	if ev.Schema != EventSchema {
		return nil, fmt.Errorf("event: schema %q, want %q", ev.Schema, EventSchema)
	}
	if err := ValidateDeviceID(ev.Device); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if ev.Time.IsZero() || ev.Seq == 0 {
		return nil, fmt.Errorf("event: missing time or seq")
	}
	return &ev, nil
}

// Deduper drops events already seen. The publisher delivers at least once:
// after a reconnect or a restart it may resend events the broker already
// passed on, always in order, so an event whose seq is not above the last
// seen for its device is a repeat.
type Deduper struct{ last map[string]uint64 }

// Fresh reports whether ev is new, and remembers it.
func (d *Deduper) Fresh(ev *Event) bool {
	if d.last == nil {
		d.last = map[string]uint64{}
	}
	if ev.Seq <= d.last[ev.Device] {
		return false
	}
	d.last[ev.Device] = ev.Seq
	return true
}
