package mqtt

import (
	"fmt"
	"strings"
)

// Root is the first level of every edgeclass topic.
const Root = "edgeclass"

// The last level of each device topic (see README.md).
const (
	KindEvents    = "events"
	KindStatus    = "status"
	KindTelemetry = "telemetry"
	KindCommands  = "commands"
	KindReplies   = "replies"
)

// Topics names the topics of one device: edgeclass/<device>/<kind>.
type Topics struct{ Device string }

func (t Topics) topic(kind string) string { return Root + "/" + t.Device + "/" + kind }

// Events carries classification events (Event), QoS 0 or 1, not retained.
func (t Topics) Events() string { return t.topic(KindEvents) }

// Status carries the retained Status (online, or offline as last will).
func (t Topics) Status() string { return t.topic(KindStatus) }

// Telemetry carries periodic Telemetry, QoS 0.
func (t Topics) Telemetry() string { return t.topic(KindTelemetry) }

// Commands is where the device receives Command envelopes.
func (t Topics) Commands() string { return t.topic(KindCommands) }

// Replies is where the device answers each command with a Reply.
func (t Topics) Replies() string { return t.topic(KindReplies) }

// Filter is the subscription filter for one kind of topic of one device, or
// of every device when device is "".
func Filter(device, kind string) string {
	if device == "" {
		device = "+"
	}
	return Root + "/" + device + "/" + kind
}

// SplitTopic returns the device and kind of an edgeclass topic.
func SplitTopic(topic string) (device, kind string, ok bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] != Root {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// MaxDeviceIDLen bounds device ids (they appear in every topic).
const MaxDeviceIDLen = 64

// ValidateDeviceID accepts 1 to 64 characters of [A-Za-z0-9._-]: no MQTT
// wildcards, no slashes, nothing a shell or a file name would trip on.
func ValidateDeviceID(id string) error {
	if id == "" || len(id) > MaxDeviceIDLen {
		return fmt.Errorf("device id %q must be 1 to %d characters", id, MaxDeviceIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("device id %q may only use letters, digits, '.', '_' and '-'", id)
		}
	}
	return nil
}
