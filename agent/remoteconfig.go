package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/edgeclass/edgeclass/internal/conf"
	"github.com/edgeclass/edgeclass/mqtt"
)

// Remote configuration: operators change a few keys at run time with the
// config.set command. Changes are validated as a whole, applied live and
// persisted to STATE_DIR/remote-config.yaml, which LoadConfig applies over
// the file and the environment at the next start.

// remoteKeys are the keys config.set may change.
var remoteKeys = []string{
	"fps", "top_k", "fit",
	"events.min_confidence", "events.on_change", "events.heartbeat", "events.smoothing", "events.max_rate",
}

const remoteConfigFile = "remote-config.yaml"

// applyRemoteConfig applies the persisted remote settings to cfg, except
// keys for which skip is true.
func applyRemoteConfig(cfg *Config, fields []conf.Field, skip func(string) bool) error {
	path := filepath.Join(cfg.StateDir, remoteConfigFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remote config: %w", err)
	}
	var values map[string]string
	if err := yaml.Unmarshal(data, &values); err != nil {
		return fmt.Errorf("remote config %s: %w", path, err)
	}
	for key, v := range values {
		if skip(key) || !isRemoteKey(key) {
			continue
		}
		f, ok := conf.Lookup(fields, key)
		if !ok {
			continue
		}
		if err := f.Set(v); err != nil {
			return fmt.Errorf("remote config %s: %w", path, err)
		}
	}
	return nil
}

func isRemoteKey(key string) bool {
	for _, k := range remoteKeys {
		if k == key {
			return true
		}
	}
	return false
}

// remoteValues returns the current value of every remote key.
func remoteValues(cfg *Config) map[string]string {
	out := map[string]string{}
	fields := conf.Fields("EDGECLASS", cfg)
	for _, k := range remoteKeys {
		if f, ok := conf.Lookup(fields, k); ok {
			out[k] = f.String()
		}
	}
	return out
}

func (a *Agent) configGet(ctx context.Context, raw json.RawMessage) (any, error) {
	cfg := a.config()
	return remoteValues(&cfg), nil
}

// configSet validates all changes together; if any key is refused nothing
// changes and the error names each refused key with its reason.
func (a *Agent) configSet(ctx context.Context, raw json.RawMessage) (any, error) {
	var changes map[string]json.RawMessage
	if err := json.Unmarshal(raw, &changes); err != nil || len(changes) == 0 {
		return nil, mqtt.BadArgs(errors.New(`args must be an object of keys and values, e.g. {"events.min_confidence": 0.7}`))
	}
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	next := a.config()
	next.Groups = append([]string(nil), next.Groups...)
	fields := conf.Fields("EDGECLASS", &next)
	var refused []string
	for key, v := range changes {
		if !isRemoteKey(key) {
			refused = append(refused, fmt.Sprintf("%s: cannot be changed remotely (settable: %s)", key, strings.Join(remoteKeys, ", ")))
			continue
		}
		f, _ := conf.Lookup(fields, key)
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v) // numbers and booleans as written
		}
		if err := f.Set(s); err != nil {
			refused = append(refused, err.Error())
		}
	}
	if len(refused) == 0 {
		if err := next.Validate(); err != nil {
			refused = append(refused, err.Error())
		}
	}
	if len(refused) > 0 {
		sort.Strings(refused)
		return nil, mqtt.BadArgs(errors.New(strings.Join(refused, "; ")))
	}
	if err := a.persistRemote(&next); err != nil {
		return nil, err
	}
	if err := a.applyLive(&next); err != nil {
		return nil, err
	}
	a.log.Info("configuration changed remotely", "changes", string(raw))
	return remoteValues(&next), nil
}

// persistRemote writes the remote keys of cfg that differ from what the
// agent would have without them.
func (a *Agent) persistRemote(cfg *Config) error {
	data, err := yaml.Marshal(remoteValues(cfg))
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.StateDir, remoteConfigFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("persist remote config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("persist remote config: %w", err)
	}
	return nil
}

// applyLive switches the running agent to cfg: a new event policy, a new
// top-K, and, when the frame rate or fit changed, a reopened source or
// rebuilt classifiers.
func (a *Agent) applyLive(next *Config) error {
	old := a.config()
	policy, err := mqtt.NewPolicy(next.Events)
	if err != nil {
		return err
	}
	if next.FPS != old.FPS {
		if err := a.pipe.reopenSource(next.Source, next.FPS); err != nil {
			return err
		}
	}
	a.cfgMu.Lock()
	a.cfg = *next
	a.cfgMu.Unlock()
	a.pipe.setPolicy(policy, next.TopK)
	if next.Fit != old.Fit {
		lm := a.Model()
		opts := a.classifyOptions()
		opts.Labels = lm.Labels // before any classifier is built
		re, err := NewLoadedModel(lm.Model.Raw(), lm.Name, lm.Path, "", opts)
		if err != nil {
			return err
		}
		re.Name, re.Version = lm.Name, lm.Version
		a.setModel(re)
	}
	return nil
}
