package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Config configures a Publisher. Start from DefaultConfig.
type Config struct {
	ConnConfig `yaml:",inline"`
	// Device is the device id, the second level of every topic.
	Device string `yaml:"device"`
	// ClientID is the MQTT client id (default "edgeclass-" + Device).
	ClientID string `yaml:"client_id"`
	// QoS of events: 1 (at least once: kept until the broker acknowledges)
	// or 0 (at most once: dropped if the connection breaks while sending).
	QoS int `yaml:"qos"`
	// StateDir holds the outbox (StateDir/outbox). Required: the outbox
	// carries events over broker outages and restarts, and keeps seq.
	StateDir string       `yaml:"state_dir"`
	Outbox   OutboxLimits `yaml:"outbox"`
	// InFlight is how many QoS 1 events may await acknowledgement at once.
	InFlight int `yaml:"in_flight"`
	// ReconnectMin and ReconnectMax bound the wait between connection
	// attempts, which doubles after each failure.
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// Groups go into the online status, for fleet tools to select devices.
	Groups []string `yaml:"-"`
	// Version goes into the online status (the agent's build version).
	Version string `yaml:"-"`
	// Logger receives connection changes and errors (default: slog.Default()).
	Logger *slog.Logger `yaml:"-"`
}

// DefaultConfig is a QoS 1 publisher to a broker on this machine.
func DefaultConfig() Config {
	return Config{
		ConnConfig:   ConnConfig{Broker: "tcp://127.0.0.1:1883", KeepAlive: DefaultKeepAlive},
		QoS:          1,
		Outbox:       DefaultOutboxLimits(),
		InFlight:     32,
		ReconnectMin: 500 * time.Millisecond,
		ReconnectMax: 30 * time.Second,
	}
}

// Validate names the first bad key.
func (c Config) Validate() error {
	if err := c.ConnConfig.Validate(); err != nil {
		return err
	}
	if err := ValidateDeviceID(c.Device); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	if len(c.ClientID) > 128 {
		return fmt.Errorf("client_id: longer than 128 bytes")
	}
	if c.QoS != 0 && c.QoS != 1 {
		return fmt.Errorf("qos: %d, want 0 or 1", c.QoS)
	}
	if c.StateDir == "" {
		return fmt.Errorf("state_dir: required (the outbox lives there)")
	}
	if err := c.Outbox.Validate(); err != nil {
		return err
	}
	if c.InFlight < 1 || c.InFlight > 1000 {
		return fmt.Errorf("in_flight: %d is outside [1, 1000]", c.InFlight)
	}
	if c.ReconnectMin <= 0 || c.ReconnectMax < c.ReconnectMin {
		return fmt.Errorf("reconnect_min, reconnect_max: need 0 < reconnect_min <= reconnect_max, got %v and %v", c.ReconnectMin, c.ReconnectMax)
	}
	return nil
}

// Publisher sends a device's events, status and telemetry, and runs its
// commands. Every event goes through the outbox: PublishEvent returns once
// the event is on disk, and a background loop connects (and reconnects,
// with backoff), sends the outbox in order and removes each event when
// the broker has it (PUBACK for QoS 1, written for QoS 0). So QoS 1 events
// survive broker outages, lost connections and agent crashes, at the price
// of possible repeats, which consumers drop by seq (see Deduper).
type Publisher struct {
	cfg    Config
	topics Topics
	log    *slog.Logger
	cmds   *Commands
	outbox *Outbox
	opts   *paho.ClientOptions

	mu      sync.Mutex
	client  paho.Client // while connected
	lastErr error

	queued, delivered, connects atomic.Uint64
	cmdQueue                    chan []byte
	cancel                      context.CancelFunc
	done                        sync.WaitGroup
}

// NewPublisher opens the outbox (replaying what an earlier run left) and
// starts connecting in the background. commands may be nil (no commands
// subscription). Call Close to stop.
func NewPublisher(cfg Config, commands *Commands) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "edgeclass-" + cfg.Device
	}
	p := &Publisher{cfg: cfg, topics: Topics{cfg.Device}, log: cfg.Logger, cmds: commands}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.log = p.log.With("broker", cfg.Broker, "device", cfg.Device)
	var err error
	if p.opts, err = cfg.ClientOptions(cfg.ClientID); err != nil {
		return nil, err
	}
	will, _ := json.Marshal(Status{Schema: StatusSchema, Device: cfg.Device, State: "offline", Version: cfg.Version})
	p.opts.SetBinaryWill(p.topics.Status(), will, 1, true)
	if p.outbox, err = OpenOutbox(filepath.Join(cfg.StateDir, "outbox"), cfg.Outbox); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done.Add(1)
	go p.run(ctx)
	if commands != nil {
		p.cmdQueue = make(chan []byte, 16)
		p.done.Add(1)
		go p.runCommands(ctx)
	}
	return p, nil
}

// Topics returns the device's topics.
func (p *Publisher) Topics() Topics { return p.topics }

// PublishEvent fills ev's schema, device, seq and publish latency, and
// queues it durably. It blocks for the disk write (an fsync), never for
// the network.
func (p *Publisher) PublishEvent(ev *Event) error {
	ev.Schema, ev.Device = EventSchema, p.cfg.Device
	if ev.TopK == nil {
		ev.TopK = []Class{}
	}
	_, err := p.outbox.Append(func(seq uint64) ([]byte, error) {
		ev.Seq = seq
		if !ev.Ready.IsZero() {
			ev.LatencyMs.Publish = float64(time.Since(ev.Ready)) / float64(time.Millisecond)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("event: %w", err)
		}
		return b, nil
	})
	if err == nil {
		p.queued.Add(1)
	}
	return err
}

// PublishTelemetry fills t's schema, device, time and event counters and
// sends it with QoS 0; while disconnected it is dropped (ErrNotConnected).
func (p *Publisher) PublishTelemetry(t *Telemetry) error {
	t.Schema, t.Device, t.Time, t.Events = TelemetrySchema, p.cfg.Device, Timestamp{time.Now()}, p.Counts()
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	return p.send(p.topics.Telemetry(), 0, false, b)
}

// PublishUpdate reports a model update step on the status topic (QoS 1,
// not retained). Like telemetry it is not queued: while disconnected it
// returns ErrNotConnected.
func (p *Publisher) PublishUpdate(u *Update) error {
	u.Schema, u.Device, u.Time = UpdateSchema, p.cfg.Device, Timestamp{time.Now()}
	b, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return p.send(p.topics.Status(), 1, false, b)
}

// ErrNotConnected is returned for messages that are not queued (telemetry,
// replies) while the publisher has no connection.
var ErrNotConnected = errors.New("mqtt: not connected to the broker")

func (p *Publisher) send(topic string, qos byte, retain bool, payload []byte) error {
	p.mu.Lock()
	c := p.client
	p.mu.Unlock()
	if c == nil {
		return ErrNotConnected
	}
	tok := c.Publish(topic, qos, retain, payload)
	if qos == 0 {
		return nil
	}
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("mqtt: no acknowledgement on %s in 10s", topic)
	}
	return tok.Error()
}

// Counts returns the event counters.
func (p *Publisher) Counts() EventCounts {
	return EventCounts{
		Queued: p.queued.Load(), Delivered: p.delivered.Load(), Pending: p.outbox.Len(),
		Dropped: p.outbox.Dropped(), Connects: p.connects.Load(),
	}
}

// Connected reports whether the publisher has a connection now, and the
// last connection error otherwise.
func (p *Publisher) Connected() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.client != nil, p.lastErr
}

// Close publishes the offline status (if connected), disconnects and
// closes the outbox; what is still pending stays for the next start.
func (p *Publisher) Close() error {
	p.cancel()
	p.done.Wait()
	return p.outbox.Close()
}

// run connects, serves the connection until it breaks, and reconnects with
// exponential backoff, until ctx ends.
func (p *Publisher) run(ctx context.Context) {
	defer p.done.Done()
	wait := p.cfg.ReconnectMin
	for ctx.Err() == nil {
		lost := make(chan error, 1)
		opts := *p.opts
		opts.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
		c := paho.NewClient(&opts)
		tok := c.Connect()
		err := waitToken(ctx, tok)
		if ctx.Err() != nil && err != nil {
			// Closed while connecting: do not leave the attempt behind.
			go func() { tok.Wait(); c.Disconnect(0) }()
			return
		}
		if err == nil {
			wait = p.cfg.ReconnectMin
			err = p.serve(ctx, c, lost)
		}
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.lastErr = err
		p.mu.Unlock()
		p.log.Warn("mqtt: no connection", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, p.cfg.ReconnectMax)
	}
}

func waitToken(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// serve runs one connection: online status, commands subscription, then the
// outbox. It returns why the connection ended; on ctx's end it says
// offline and disconnects.
func (p *Publisher) serve(ctx context.Context, c paho.Client, lost <-chan error) error {
	defer c.Disconnect(250)
	since := Timestamp{time.Now()}
	online, _ := json.Marshal(Status{Schema: StatusSchema, Device: p.cfg.Device, State: "online", Since: &since, Version: p.cfg.Version, Groups: p.cfg.Groups})
	if err := waitToken(ctx, c.Publish(p.topics.Status(), 1, true, online)); err != nil {
		return fmt.Errorf("publishing status: %w", err)
	}
	if p.cmds != nil {
		if err := waitToken(ctx, c.Subscribe(p.topics.Commands(), 1, p.onCommand)); err != nil {
			return fmt.Errorf("subscribing to commands: %w", err)
		}
	}
	p.mu.Lock()
	p.client, p.lastErr = c, nil
	p.mu.Unlock()
	p.connects.Add(1)
	p.log.Info("mqtt: connected")
	err := p.drain(ctx, c, lost)
	p.mu.Lock()
	p.client = nil
	p.mu.Unlock()
	if ctx.Err() != nil {
		offline, _ := json.Marshal(Status{Schema: StatusSchema, Device: p.cfg.Device, State: "offline", Version: p.cfg.Version})
		c.Publish(p.topics.Status(), 1, true, offline).WaitTimeout(time.Second)
	}
	return err
}

// drain sends the outbox in order, keeping up to InFlight events awaiting
// their acknowledgement, and removes each acknowledged event. Tokens are
// taken oldest first, so removal follows the outbox order.
func (p *Publisher) drain(ctx context.Context, c paho.Client, lost <-chan error) error {
	type flight struct {
		seq uint64
		tok paho.Token
	}
	var inflight []flight
	var sent uint64 // the last seq sent on this connection
	for {
		for len(inflight) < p.cfg.InFlight {
			e, ok := p.outbox.Next(sent)
			if !ok {
				break
			}
			inflight = append(inflight, flight{e.Seq, c.Publish(p.topics.Events(), byte(p.cfg.QoS), false, e.Payload)})
			sent = e.Seq
		}
		var acked <-chan struct{}
		if len(inflight) > 0 {
			acked = inflight[0].tok.Done()
		}
		var more <-chan struct{}
		if len(inflight) < p.cfg.InFlight {
			more = p.outbox.Notify()
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			return fmt.Errorf("connection lost: %w", err)
		case <-more:
		case <-acked:
			f := inflight[0]
			inflight = inflight[1:]
			if err := f.tok.Error(); err != nil {
				return fmt.Errorf("publishing event %d: %w", f.seq, err)
			}
			if err := p.outbox.Remove(f.seq); err != nil {
				p.log.Error("mqtt: outbox", "err", err)
			}
			p.delivered.Add(1)
		}
	}
}

// onCommand runs in paho's router and must not block: it queues the
// payload for runCommands, or answers busy.
func (p *Publisher) onCommand(_ paho.Client, m paho.Message) {
	select {
	case p.cmdQueue <- m.Payload():
	default:
		cmd, _ := ParseCommand(m.Payload(), DefaultMaxCommandBytes)
		go p.reply(Reply{Schema: ReplySchema, ID: cmd.ID, Name: cmd.Name, Error: &CommandError{CodeBusy, "too many commands waiting"}, Time: Timestamp{time.Now()}})
	}
}

// runCommands runs commands one at a time, in arrival order.
func (p *Publisher) runCommands(ctx context.Context) {
	defer p.done.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case payload := <-p.cmdQueue:
			p.reply(p.cmds.Run(ctx, payload))
		}
	}
}

func (p *Publisher) reply(r Reply) {
	b, err := json.Marshal(r)
	if err == nil {
		err = p.send(p.topics.Replies(), 1, false, b)
	}
	if err != nil {
		p.log.Warn("mqtt: reply lost", "id", r.ID, "err", err)
	}
}
