// Package engines picks the engine models run on: edgeclass's pure-Go
// interpreter, always built in, or the TensorFlow Lite C library with an
// optional delegate (XNNPACK, GPU, Coral Edge TPU), in binaries built with
// -tags tflitec (see docs/tflite-c.md). The agent embeds Config under the key
// engine and calls Select once at start; what Select chose (Info) and where
// a model's operators run (PlacementOf) go into its status and metrics.
package engines

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/tflite"
)

// Backends.
const (
	Go      = "go"
	TFLiteC = "tflite-c"
)

// Config selects the engine. Keys are documented for the agent's
// configuration (yaml and doc tags).
type Config struct {
	Backend         string `yaml:"backend" doc:"inference engine: go (pure Go, always built in) or tflite-c (the TensorFlow Lite C library; binaries built with -tags tflitec, see docs/tflite-c.md)"`
	Delegate        string `yaml:"delegate" doc:"with tflite-c: none, xnnpack, gpu or edgetpu"`
	DelegateThreads int    `yaml:"delegate_threads" doc:"threads of the XNNPACK delegate; 0 uses threads"`
	EdgeTPUDevice   string `yaml:"edgetpu_device" doc:"Edge TPU to use: empty (the first found), usb, usb:N, pci, pci:N or :N"`
	DelegateLibrary string `yaml:"delegate_library" doc:"file to load the delegate from; empty searches the C library itself and the usual names (libedgetpu.so.1, libtensorflowlite_gpu_delegate.so)"`
	OnMissing       string `yaml:"on_missing" doc:"when the delegate is not available on this device: error (refuse to start) or cpu (warn and run on the CPU; shown in status and metrics)"`
}

// DefaultConfig is the pure-Go engine.
func DefaultConfig() Config {
	return Config{Backend: Go, Delegate: "none", OnMissing: "error"}
}

// Validate checks every key, naming each bad one as the agent's
// configuration does ("engine.delegate: ...").
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("engine.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Backend != Go && c.Backend != TFLiteC {
		bad("backend", "%q is not go or tflite-c", c.Backend)
	}
	switch c.Delegate {
	case "", "none":
	case "xnnpack", "gpu", "edgetpu":
		if c.Backend == Go {
			bad("delegate", "%s needs backend tflite-c (the pure-Go engine has no delegates)", c.Delegate)
		}
	default:
		bad("delegate", "%q is not none, xnnpack, gpu or edgetpu", c.Delegate)
	}
	if c.DelegateThreads < 0 || c.DelegateThreads > 64 {
		bad("delegate_threads", "%d is outside [0, 64]", c.DelegateThreads)
	}
	if c.EdgeTPUDevice != "" && c.Delegate != "edgetpu" {
		bad("edgetpu_device", "is set but engine.delegate is %q", c.Delegate)
	}
	if c.OnMissing != "error" && c.OnMissing != "cpu" {
		bad("on_missing", "%q is not error or cpu", c.OnMissing)
	}
	return errors.Join(errs...)
}

func (c *Config) delegate() string {
	if c.Delegate == "" {
		return "none"
	}
	return c.Delegate
}

// Info is what Select chose.
type Info struct {
	Backend string `json:"backend"`
	// Library is the C library's version (TfLiteVersion).
	Library string `json:"library,omitempty"`
	// Delegate is the delegate configured, Active the one engines get:
	// they differ after a fallback to the CPU, whose reason is Fallback.
	Delegate string `json:"delegate"`
	Active   string `json:"active"`
	Fallback string `json:"fallback,omitempty"`
	// DelegateLibrary is the file the delegate came from, Device the Edge
	// TPU in use.
	DelegateLibrary string `json:"delegate_library,omitempty"`
	Device          string `json:"device,omitempty"`
	// Note is what else matters about the delegate's setup.
	Note string `json:"note,omitempty"`
}

func (i Info) String() string {
	if i.Backend == Go {
		return "pure-Go engine"
	}
	s := fmt.Sprintf("TensorFlow Lite C library %s, delegate %s", i.Library, i.Active)
	for _, part := range [][2]string{{"library", i.DelegateLibrary}, {"device", i.Device}, {"note", i.Note}, {"fallback from " + i.Delegate, i.Fallback}} {
		if part[1] != "" {
			s += fmt.Sprintf("; %s: %s", part[0], part[1])
		}
	}
	return s
}

// Placement says where a model's operators run on the C library.
type Placement struct {
	// Delegate is the delegate applied, "" for none.
	Delegate string `json:"delegate"`
	// Ops is the number of operators in the model's main graph.
	Ops int `json:"ops"`
	// Known is false when no delegate was applied: the C API shows the
	// execution plan only to delegates.
	Known bool `json:"known"`
	// Delegated is how many operators delegate kernels replaced; Kernels
	// names those kernels.
	Delegated int      `json:"delegated"`
	Kernels   []string `json:"kernels,omitempty"`
	// Fallback says why this engine runs without the configured delegate.
	Fallback string `json:"fallback,omitempty"`
	// Text describes all of the above.
	Text string `json:"text"`
}

// Share is the fraction of operators the delegate took, or -1 when unknown.
func (p Placement) Share() float64 {
	if !p.Known || p.Ops == 0 {
		return -1
	}
	return float64(p.Delegated) / float64(p.Ops)
}

// placer is an engine that knows its Placement (the C backend's).
type placer interface{ placement() Placement }

// PlacementOf says where e runs its model's operators; false for engines
// that run everything themselves (the pure-Go one).
func PlacementOf(e classify.Engine) (Placement, bool) {
	if p, ok := e.(placer); ok {
		return p.placement(), true
	}
	return Placement{}, false
}

// UnavailableError says that the configured delegate cannot be used on
// this device: its library or its hardware is missing.
type UnavailableError struct {
	Delegate, Reason string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("delegate %s is not available: %s", e.Delegate, e.Reason)
}

// cBackend is the TensorFlow Lite C library with one delegate resolved.
type cBackend interface {
	info() Info
	newEngine(m *tflite.Model, threads int) (classify.Engine, error)
}

// openC opens the C backend; nil in binaries built without -tags tflitec.
var openC func(c Config) (cBackend, error)

// Select returns the engine constructor cfg asks for and what it chose. A
// delegate that is missing on the device is an error, or with on_missing:
// cpu a warning on log and engines without it (Info.Fallback says why);
// the same holds when a delegate fails for one engine later.
func Select(cfg Config, log *slog.Logger) (classify.NewEngineFunc, Info, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, Info{}, err
	}
	if cfg.Backend == Go {
		return classify.GoEngine, Info{Backend: Go, Delegate: "none", Active: "none"}, nil
	}
	if openC == nil {
		return nil, Info{}, errors.New("backend tflite-c: this binary was built without it (build with -tags tflitec against libtensorflowlite_c; see docs/tflite-c.md)")
	}
	b, err := openC(cfg)
	var ue *UnavailableError
	fallback := ""
	if errors.As(err, &ue) && cfg.OnMissing == "cpu" {
		fallback = ue.Error()
		log.Warn("engine: the configured delegate is not available; running on the CPU", "delegate", cfg.Delegate, "reason", ue.Reason)
		cpu := cfg
		cpu.Delegate = "none"
		b, err = openC(cpu)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("backend tflite-c: %w", err)
	}
	info := b.info()
	info.Delegate, info.Fallback = cfg.delegate(), fallback
	s := &selection{cfg: cfg, b: b, log: log}
	return s.newEngine, info, nil
}

// selection makes engines for one Select, falling back per engine when
// allowed and warning once per model when the delegate took nothing.
type selection struct {
	cfg    Config
	b      cBackend
	cpu    cBackend // opened on the first per-engine fallback
	log    *slog.Logger
	mu     sync.Mutex
	warned map[*tflite.Model]bool
}

func (s *selection) newEngine(m *tflite.Model, threads int) (classify.Engine, error) {
	e, err := s.b.newEngine(m, threads)
	var ue *UnavailableError
	if errors.As(err, &ue) && s.cfg.OnMissing == "cpu" {
		s.log.Warn("engine: the delegate failed for this model; running it on the CPU", "delegate", s.cfg.Delegate, "reason", ue.Reason)
		return s.onCPU(m, threads, ue.Error())
	}
	if err != nil {
		return nil, err
	}
	if p, ok := PlacementOf(e); ok && p.Known && p.Delegated == 0 {
		s.warnOnce(m, p)
	}
	return e, nil
}

func (s *selection) onCPU(m *tflite.Model, threads int, reason string) (classify.Engine, error) {
	s.mu.Lock()
	if s.cpu == nil {
		cpu := s.cfg
		cpu.Delegate = "none"
		b, err := openC(cpu)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.cpu = b
	}
	cpu := s.cpu
	s.mu.Unlock()
	e, err := cpu.newEngine(m, threads)
	if err != nil {
		return nil, err
	}
	return fellBack{e, reason}, nil
}

func (s *selection) warnOnce(m *tflite.Model, p Placement) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.warned[m] {
		return
	}
	if s.warned == nil {
		s.warned = map[*tflite.Model]bool{}
	}
	s.warned[m] = true
	hint := ""
	if p.Delegate == "edgetpu" {
		hint = " (compile the model with edgetpu_compiler)"
	}
	s.log.Warn("engine: the delegate took none of the model's operators"+hint, "delegate", p.Delegate, "ops", p.Ops)
}

// fellBack is an engine running without the configured delegate.
type fellBack struct {
	classify.Engine
	reason string
}

func (f fellBack) placement() Placement {
	p, _ := PlacementOf(f.Engine)
	p.Fallback = f.reason
	p.Text = strings.TrimSuffix(p.Text, ".") + "; fallback: " + f.reason
	return p
}
