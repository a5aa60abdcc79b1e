package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/engines"
	"github.com/edgeclass/edgeclass/tflite"
)

// LoadedModel is a parsed model with what events and APIs report about it.
type LoadedModel struct {
	Model   *tflite.Model
	Name    string
	Version string
	SHA256  string
	Path    string
	Labels  []string

	// Placement says where the model's operators run (C backend).
	Placement engines.Placement

	opts    classify.Options
	mu      sync.Mutex
	idle    []*classify.Classifier // classifiers not in use
	retired bool                   // replaced: classifiers are closed on release
}

// LoadModel reads a model file. Labels come from labelsPath when set, else
// from the model's metadata. The name is the metadata name or the file name.
func LoadModel(path, labelsPath string, opts classify.Options) (*LoadedModel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return NewLoadedModel(data, name, path, labelsPath, opts)
}

// NewLoadedModel parses model bytes.
func NewLoadedModel(data []byte, name, path, labelsPath string, opts classify.Options) (*LoadedModel, error) {
	m, err := tflite.Load(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	lm := &LoadedModel{Model: m, Name: name, Version: "1", SHA256: hex.EncodeToString(sum[:]), Path: path, opts: opts}
	if m.Info != nil {
		if m.Info.Name != "" {
			lm.Name = m.Info.Name
		}
		if m.Info.Version != "" {
			lm.Version = m.Info.Version
		}
	}
	lm.Labels = opts.Labels
	if labelsPath != "" {
		b, err := os.ReadFile(labelsPath)
		if err != nil {
			return nil, fmt.Errorf("labels: %w", err)
		}
		lm.Labels = tflite.SplitLabels(b)
	}
	if lm.Labels == nil {
		lm.Labels = m.Labels()
	}
	lm.opts.Labels = lm.Labels
	// Build one classifier now: it checks the model fits an image
	// classifier before the model is accepted.
	c, err := lm.NewClassifier()
	if err != nil {
		return nil, err
	}
	lm.Placement, _ = engines.PlacementOf(c.Engine())
	lm.Release(c)
	return lm, nil
}

// Ident names the model in status, replies and events.
func (lm *LoadedModel) Ident() ModelStatus {
	return ModelStatus{Name: lm.Name, Version: lm.Version, SHA256: lm.SHA256}
}

// NewClassifier makes a classifier for this model.
func (lm *LoadedModel) NewClassifier() (*classify.Classifier, error) {
	return classify.New(lm.Model, lm.opts)
}

// Acquire returns an idle classifier or makes one; give it back with Release.
func (lm *LoadedModel) Acquire() (*classify.Classifier, error) {
	lm.mu.Lock()
	if n := len(lm.idle); n > 0 {
		c := lm.idle[n-1]
		lm.idle = lm.idle[:n-1]
		lm.mu.Unlock()
		return c, nil
	}
	lm.mu.Unlock()
	return lm.NewClassifier()
}

// Release returns a classifier taken with Acquire.
func (lm *LoadedModel) Release(c *classify.Classifier) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if len(lm.idle) < 4 && !lm.retired {
		lm.idle = append(lm.idle, c)
		return
	}
	c.Close()
}

// Retire closes the idle classifiers of a model that is no longer used,
// and those in use as they are released (engines over C libraries hold
// memory and, for the test stand-in, processes).
func (lm *LoadedModel) Retire() {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	lm.retired = true
	for _, c := range lm.idle {
		c.Close()
	}
	lm.idle = nil
}
