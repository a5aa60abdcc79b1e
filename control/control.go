// Package control is the operator's side of the fleet: it lists devices
// from their retained status and telemetry, calls their commands over MQTT
// and pushes model packages to them, one device, a group, or a staged
// rollout with a canary share first.
package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeclass/edgeclass/mqtt"
)

// Device is what the fleet knows about one device.
type Device struct {
	ID       string        `json:"id"`
	State    string        `json:"state"` // online or offline
	Agent    string        `json:"agent_version,omitempty"`
	Groups   []string      `json:"groups,omitempty"`
	Model    mqtt.Model    `json:"model"`
	Uptime   time.Duration `json:"uptime"`
	FPS      float64       `json:"fps"`
	LastSeen time.Time     `json:"last_seen"`
}

// InGroup reports whether the device belongs to group g.
func (d Device) InGroup(g string) bool {
	for _, x := range d.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// Client is a connection to the fleet's broker.
type Client struct {
	c paho.Client

	mu      sync.Mutex
	pending map[string]chan mqtt.Reply
	devices map[string]*Device
	waiters map[string][]chan mqtt.Update // by device
}

// Dial connects to the broker and subscribes to every device's status,
// telemetry and replies.
func Dial(ctx context.Context, cfg mqtt.ConnConfig) (*Client, error) {
	opts, err := cfg.ClientOptions("edgeclass-control-" + randomID())
	if err != nil {
		return nil, err
	}
	opts.SetAutoReconnect(true) // a long push rides out a broker blip
	cl := &Client{pending: map[string]chan mqtt.Reply{}, devices: map[string]*Device{}, waiters: map[string][]chan mqtt.Update{}}
	subscribed := make(chan error, 1)
	opts.SetOnConnectHandler(func(c paho.Client) {
		// On every (re)connection; Dial waits for the first, so no reply
		// can arrive before the subscription.
		tok := c.SubscribeMultiple(map[string]byte{
			mqtt.Filter("", mqtt.KindStatus):    1,
			mqtt.Filter("", mqtt.KindTelemetry): 0,
			mqtt.Filter("", mqtt.KindReplies):   1,
		}, cl.onMessage)
		go func() {
			tok.Wait()
			select {
			case subscribed <- tok.Error():
			default:
			}
		}()
	})
	cl.c = paho.NewClient(opts)
	tok := cl.c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Broker, err)
	}
	select {
	case err := <-subscribed:
		if err != nil {
			cl.Close()
			return nil, fmt.Errorf("subscribe on %s: %w", cfg.Broker, err)
		}
	case <-ctx.Done():
		cl.Close()
		return nil, ctx.Err()
	}
	return cl, nil
}

// Close disconnects.
func (cl *Client) Close() { cl.c.Disconnect(250) }

func randomID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (cl *Client) onMessage(_ paho.Client, m paho.Message) {
	device, kind, ok := mqtt.SplitTopic(m.Topic())
	if !ok {
		return
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	d := cl.devices[device]
	if d == nil {
		d = &Device{ID: device}
		cl.devices[device] = d
	}
	switch kind {
	case mqtt.KindReplies:
		var r mqtt.Reply
		if json.Unmarshal(m.Payload(), &r) == nil {
			if ch := cl.pending[device+"/"+r.ID]; ch != nil {
				ch <- r
				delete(cl.pending, device+"/"+r.ID)
			}
		}
	case mqtt.KindStatus:
		var u mqtt.Update
		if json.Unmarshal(m.Payload(), &u) == nil && u.Schema == mqtt.UpdateSchema {
			for _, ch := range cl.waiters[device] {
				select {
				case ch <- u:
				default:
				}
			}
			return
		}
		var s mqtt.Status
		if json.Unmarshal(m.Payload(), &s) == nil && s.State != "" {
			d.State, d.Agent, d.Groups = s.State, s.Version, s.Groups
			if s.State == "online" && s.Since != nil {
				d.LastSeen = s.Since.Time
			}
		}
	case mqtt.KindTelemetry:
		var t mqtt.Telemetry
		if json.Unmarshal(m.Payload(), &t) == nil {
			d.Model, d.FPS, d.LastSeen = t.Model, t.FPS, t.Time.Time
			d.Uptime = time.Duration(t.UptimeS * float64(time.Second))
		}
	}
}

// Devices waits for retained statuses (and any telemetry) to arrive, then
// lists the devices seen, sorted by id.
func (cl *Client) Devices(ctx context.Context, wait time.Duration) []Device {
	select {
	case <-time.After(wait):
	case <-ctx.Done():
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var out []Device
	for _, d := range cl.devices {
		if d.State != "" {
			out = append(out, *d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CallError is a command a device refused or failed.
type CallError struct {
	Device, Command string
	Err             *mqtt.CommandError
}

func (e *CallError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Device, e.Command, e.Err.Error())
}

// Call runs a command on a device and returns its result.
func (cl *Client) Call(ctx context.Context, device, name string, args any) (json.RawMessage, error) {
	id := randomID()
	payload, err := json.Marshal(struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Args any    `json:"args,omitempty"`
	}{id, name, args})
	if err != nil {
		return nil, err
	}
	ch := make(chan mqtt.Reply, 1)
	cl.mu.Lock()
	cl.pending[device+"/"+id] = ch
	cl.mu.Unlock()
	defer func() {
		cl.mu.Lock()
		delete(cl.pending, device+"/"+id)
		cl.mu.Unlock()
	}()
	tok := cl.c.Publish(mqtt.Topics{Device: device}.Commands(), 1, false, payload)
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", device, name, err)
	}
	select {
	case r := <-ch:
		if !r.OK {
			if r.Error == nil {
				r.Error = &mqtt.CommandError{Code: mqtt.CodeFailed, Message: "no reason given"}
			}
			return nil, &CallError{Device: device, Command: name, Err: r.Error}
		}
		return r.Result, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %s: no reply: %w", device, name, ctx.Err())
	}
}

// watchUpdates delivers the device's update steps until stop is called.
func (cl *Client) watchUpdates(device string) (<-chan mqtt.Update, func()) {
	ch := make(chan mqtt.Update, 64)
	cl.mu.Lock()
	cl.waiters[device] = append(cl.waiters[device], ch)
	cl.mu.Unlock()
	return ch, func() {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		ws := cl.waiters[device]
		for i, w := range ws {
			if w == ch {
				cl.waiters[device] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
	}
}

// ErrBusy is returned when a device's command queue is full.
var ErrBusy = errors.New("device busy")
