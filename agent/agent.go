// Package agent is the device daemon: it watches a camera, classifies
// frames with a .tflite model and publishes what it sees over MQTT, with an
// HTTP server for health, metrics, a status page and the TF Serving API.
package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"image"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeclass/edgeclass/agent/demomodel"
	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/engines"
	"github.com/edgeclass/edgeclass/modelstore"
	"github.com/edgeclass/edgeclass/mqtt"
)

// Version is the agent's version, reported in status and telemetry.
var Version = "dev"

// Agent is a running agent.
type Agent struct {
	cfgMu   sync.Mutex // guards cfg
	cfg     Config
	applyMu sync.Mutex // one config.set at a time
	log     *slog.Logger
	metrics *metrics
	started time.Time

	broker *mqtt.Broker // nil with an external broker
	pub    *mqtt.Publisher
	cmds   *mqtt.Commands
	store  *modelstore.Store
	model  atomic.Pointer[LoadedModel]

	trustedKeys []ed25519.PublicKey
	updates     *updater
	newEngine   classify.NewEngineFunc
	engine      engines.Info
	pipe        *pipeline
	health      health

	httpSrv  *http.Server
	httpAddr string
	kick     chan struct{} // publish telemetry now (model changed)
}

// health tracks whether frames are being classified.
type health struct {
	mu          sync.Mutex
	lastOK      time.Time
	failures    int // consecutive
	lastFailure error
}

func (h *health) success() {
	h.mu.Lock()
	h.lastOK, h.failures = time.Now(), 0
	h.mu.Unlock()
}

func (h *health) failure(err error) {
	h.mu.Lock()
	h.failures++
	h.lastFailure = err
	h.mu.Unlock()
}

// reset forgets failures (a new model starts clean).
func (h *health) reset() {
	h.mu.Lock()
	h.failures, h.lastFailure = 0, nil
	h.mu.Unlock()
}

// trialFailures consecutive failures fail a model's trial.
const trialFailures = 3

// trialFailure says why the model on trial failed, or "".
func (h *health) trialFailure() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failures >= trialFailures {
		return fmt.Sprintf("%d frames in a row failed: %v", h.failures, h.lastFailure)
	}
	return ""
}

// New starts everything but the frame loop: broker (when embedded),
// publisher, model, camera and HTTP server. Run starts the loop.
func New(cfg Config, log *slog.Logger) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: log, metrics: newMetrics(), started: time.Now(), kick: make(chan struct{}, 1)}
	ok := false
	defer func() {
		if !ok {
			a.shutdown()
		}
	}()
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	var err error
	if a.trustedKeys, err = loadTrustedKeys(cfg.Updates.TrustedKeys); err != nil {
		return nil, err
	}
	if a.store, err = modelstore.Open(cfg.StateDir + "/models"); err != nil {
		return nil, err
	}
	for _, r := range a.store.Recovered {
		log.Warn("model store recovered", "what", r)
	}
	if a.newEngine, a.engine, err = engines.Select(cfg.Engine, log); err != nil {
		return nil, err
	}
	log.Info("inference engine", "engine", a.engine.String())
	a.metrics.reg.MustRegister(engines.NewCollector(a.engine, func() (engines.Placement, bool) {
		if lm := a.Model(); lm != nil {
			return lm.Placement, lm.Placement.Ops > 0
		}
		return engines.Placement{}, false
	}))
	lm, err := a.initialModel()
	if err != nil {
		return nil, err
	}
	a.setModel(lm)

	brokerURL := cfg.MQTT.Broker
	if brokerURL == "" {
		if a.broker, err = mqtt.StartBroker(mqtt.BrokerConfig{Addr: cfg.MQTT.Listen, Logger: log}); err != nil {
			return nil, fmt.Errorf("embedded broker on %s: %w", cfg.MQTT.Listen, err)
		}
		brokerURL = a.broker.URL()
		log.Info("embedded MQTT broker started", "addr", a.broker.Addr())
	}
	a.cmds = &mqtt.Commands{}
	a.registerCommands()
	a.updates = newUpdater(a)
	a.updates.register(a.cmds)
	pc := cfg.publisherConfig(brokerURL)
	pc.Version, pc.Logger = Version, log
	if a.pub, err = mqtt.NewPublisher(pc, a.cmds); err != nil {
		return nil, err
	}
	a.metrics.watchPublisher(a.pub)

	src, err := camera.Open(cfg.Source, camera.Options{FPS: cfg.FPS})
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	policy, err := mqtt.NewPolicy(cfg.Events)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("events: %w", err)
	}
	a.pipe = &pipeline{a: a, src: src, policy: policy, topK: cfg.TopK}
	a.metrics.watchSource(a.pipe.sourceStats)
	a.pipe.status.Source = cfg.Source

	if cfg.HTTP.Addr != "" {
		ln, err := net.Listen("tcp", cfg.HTTP.Addr)
		if err != nil {
			return nil, fmt.Errorf("http.addr: %w", err)
		}
		a.httpAddr = ln.Addr().String()
		a.httpSrv = &http.Server{
			Handler:           newHTTPHandler(a, a.metrics, &servingAPI{current: a.Model, topK: cfg.TopK}),
			ReadHeaderTimeout: 10 * time.Second,
		}
		go a.httpSrv.Serve(ln)
		log.Info("HTTP server started", "addr", a.httpAddr)
	}
	ok = true
	return a, nil
}

// initialModel picks the model to start with: the one installed by the
// last update, else the configured file, else the built-in demo model.
// A model that fails to load is skipped with a warning, so the agent
// always starts with one that works.
func (a *Agent) initialModel() (*LoadedModel, error) {
	opts := a.classifyOptions()
	if p := a.store.ActivePath(); p != "" {
		st := a.store.State()
		installed := opts
		if len(st.Active.Labels) > 0 {
			installed.Labels = st.Active.Labels
		}
		lm, err := LoadModel(p, "", installed)
		if err == nil {
			lm.Name, lm.Version = st.Active.Name, st.Active.Version
			return lm, nil
		}
		a.log.Error("installed model does not load; falling back", "err", err)
	}
	if cfg := a.config(); cfg.Model != "" {
		lm, err := LoadModel(cfg.Model, cfg.Labels, opts)
		if err == nil {
			return lm, nil
		}
		a.log.Error("configured model does not load; falling back to the demo model", "model", cfg.Model, "err", err)
	}
	return NewLoadedModel(demomodel.Bytes(), "demo", "", "", opts)
}

// classifyOptions are the options every model of this agent runs with.
func (a *Agent) classifyOptions() classify.Options {
	cfg := a.config()
	opts := classify.Options{Threads: cfg.Threads, NewEngine: a.newEngine}
	opts.Fit, _ = camera.ParseFit(cfg.Fit)
	return opts
}

// Model returns the model in use.
func (a *Agent) Model() *LoadedModel { return a.model.Load() }

// setModel switches to lm; the model it replaces is closed once the
// pipeline and HTTP requests have let go of it.
func (a *Agent) setModel(lm *LoadedModel) {
	if old := a.model.Swap(lm); old != nil && old != lm {
		old.Retire()
	}
	a.metrics.setModel(lm)
	select {
	case a.kick <- struct{}{}:
	default:
	}
	a.log.Info("model in use", "name", lm.Name, "version", lm.Version, "sha256", lm.SHA256)
}

// HTTPAddr is the address the HTTP server listens on, or "".
func (a *Agent) HTTPAddr() string { return a.httpAddr }

// BrokerURL is the URL events go to.
func (a *Agent) BrokerURL() string {
	if a.broker != nil {
		return a.broker.URL()
	}
	return a.config().MQTT.Broker
}

// config returns a copy of the configuration (config.set changes it).
func (a *Agent) config() Config {
	a.cfgMu.Lock()
	defer a.cfgMu.Unlock()
	return a.cfg
}

// Run classifies frames and publishes telemetry until ctx is done, then
// shuts everything down.
func (a *Agent) Run(ctx context.Context) error {
	defer a.shutdown()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.telemetry(ctx)
	}()
	err := a.pipe.run(ctx)
	wg.Wait()
	return err
}

// telemetryInterval is how often telemetry is published.
const telemetryInterval = 30 * time.Second

// telemetry publishes soon after the start, at every model change and
// every telemetryInterval.
func (a *Agent) telemetry(ctx context.Context) {
	t := time.NewTicker(telemetryInterval)
	defer t.Stop()
	first := time.After(2 * time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-first:
		case <-a.kick:
		}
		st := a.Status()
		err := a.pub.PublishTelemetry(&mqtt.Telemetry{
			UptimeS: time.Since(a.started).Seconds(), FPS: st.FPS, Frames: st.Frames, FramesDropped: st.Dropped,
			LatencyMs: a.pipe.takeLatency(),
			Model:     st.Model,
		})
		if err != nil {
			a.log.Warn("telemetry not sent", "err", err)
		}
	}
}

// Status reports the agent's state (status page, /healthz, commands).
func (a *Agent) Status() Status {
	st, _ := a.pipe.snapshot()
	st.DeviceID, st.Started, st.Broker = a.config().DeviceID, a.started, a.BrokerURL()
	lm := a.Model()
	st.Model = lm.Ident()
	st.Engine = a.engine
	if lm.Placement.Ops > 0 {
		p := lm.Placement
		st.Placement = &p
	}
	connected, _ := a.pub.Connected()
	st.MQTT = connected
	st.OutboxSize = a.pub.Counts().Pending
	st.Healthy, st.Unhealthy = a.healthy(st)
	return st
}

// healthy is true when a model is loaded and frames flow.
func (a *Agent) healthy(st Status) (bool, string) {
	a.health.mu.Lock()
	lastOK, failures, lastErr := a.health.lastOK, a.health.failures, a.health.lastFailure
	a.health.mu.Unlock()
	stale := max(5*time.Second, time.Duration(3*float64(time.Second)/a.config().FPS))
	switch {
	case lastOK.IsZero():
		return false, "no frame classified yet"
	case time.Since(lastOK) > stale:
		reason := fmt.Sprintf("no frame classified for %s", time.Since(lastOK).Round(time.Second))
		if st.SourceErr != "" {
			reason += ": " + st.SourceErr
		} else if lastErr != nil && failures > 0 {
			reason += ": " + lastErr.Error()
		}
		return false, reason
	}
	return true, ""
}

// Frame returns the latest classified frame.
func (a *Agent) Frame() (image.Image, uint64) {
	st, img := a.pipe.snapshot()
	return img, st.Seq
}

func (a *Agent) registerCommands() {
	a.cmds.Register("status", func(ctx context.Context, args json.RawMessage) (any, error) {
		return a.Status(), nil
	})
	a.cmds.Register("config.get", a.configGet)
	a.cmds.Register("config.set", a.configSet)
}

// shutdown stops everything New started, in reverse order.
func (a *Agent) shutdown() {
	if a.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		a.httpSrv.Shutdown(ctx)
		cancel()
	}
	if a.pipe != nil {
		a.pipe.close()
	}
	if a.pub != nil {
		a.pub.Close()
	}
	if a.broker != nil {
		a.broker.Close()
	}
}
