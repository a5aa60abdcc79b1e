// Package modelstore keeps a device's installed models on disk so that no
// crash or power cut can leave it without a working model.
//
// Layout under the store's folder:
//
//	state.json          which model is active, which is the fallback, trial state
//	models/<sha256>.tflite  installed models (the active one and one previous)
//	staging/            incoming files; emptied when the store opens
//
// Every change writes the new file to a temporary name, fsyncs it, renames
// it into place and fsyncs the folder, so a reader after a power cut sees
// either the old or the new version of each file, never a mix. The state
// names a model only after its file is durable.
//
// A newly installed model is on trial until Commit. If the process dies
// while a model is on trial, Open rolls back to the previous model: the new
// one never proved itself (RAUC's and Mender's rule for firmware).
package modelstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Model identifies an installed model.
type Model struct {
	File    string    `json:"file"` // name under models/
	Name    string    `json:"name"`
	Version string    `json:"version"`
	SHA256  string    `json:"sha256"`
	Since   time.Time `json:"since"`
	// Labels are the package's class names, when it brought its own; they
	// name the model's outputs after a restart or rollback too.
	Labels []string `json:"labels,omitempty"`
}

// State is what state.json holds.
type State struct {
	Active   *Model `json:"active,omitempty"`
	Previous *Model `json:"previous,omitempty"`
	// Trial is set while the active model has not passed its health check.
	Trial      bool      `json:"trial"`
	TrialUntil time.Time `json:"trial_until,omitempty"`
	// LastRollback says why the last rollback happened.
	LastRollback string `json:"last_rollback,omitempty"`
}

// Store is the on-disk model store. Its methods are safe for concurrent use.
type Store struct {
	dir   string
	mu    sync.Mutex
	state State
	// Recovered says what Open had to repair, for the agent to report.
	Recovered []string
}

// Open opens (or creates) the store in dir and recovers from any
// interrupted operation.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir}
	for _, d := range []string{dir, s.path("models"), s.path("staging")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("model store: %w", err)
		}
	}
	data, err := os.ReadFile(s.path("state.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("model store: %w", err)
	default:
		if err := json.Unmarshal(data, &s.state); err != nil {
			// state.json is only ever replaced atomically; a bad one was
			// written by something else. Start over from what is on disk.
			s.Recovered = append(s.Recovered, fmt.Sprintf("state.json unreadable (%v): reset", err))
			s.state = State{}
		}
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) path(parts ...string) string {
	return filepath.Join(append([]string{s.dir}, parts...)...)
}

// recover empties staging, rolls back an interrupted trial, drops entries
// whose files are gone and deletes model files no entry names.
func (s *Store) recover() error {
	entries, _ := os.ReadDir(s.path("staging"))
	for _, e := range entries {
		os.RemoveAll(s.path("staging", e.Name()))
	}
	if len(entries) > 0 {
		s.Recovered = append(s.Recovered, fmt.Sprintf("removed %d staged files", len(entries)))
	}
	if tmps, _ := filepath.Glob(s.path(".state.json.tmp-*")); len(tmps) > 0 {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	st := s.state
	changed := false
	if st.Trial && st.Previous != nil {
		s.Recovered = append(s.Recovered, fmt.Sprintf("restarted while %s %s was on trial: rolled back to %s %s",
			st.Active.Name, st.Active.Version, st.Previous.Name, st.Previous.Version))
		st = State{Active: st.Previous, LastRollback: "agent restarted during the trial of " + st.Active.Version}
		changed = true
	} else if st.Trial {
		// Nothing installed before it: the agent falls back to its
		// configured model, which is known to work.
		s.Recovered = append(s.Recovered, fmt.Sprintf("restarted while %s %s was on trial: removed it", st.Active.Name, st.Active.Version))
		st = State{LastRollback: "agent restarted during the trial of " + st.Active.Version}
		changed = true
	}
	if st.Active != nil && !s.valid(st.Active) {
		s.Recovered = append(s.Recovered, fmt.Sprintf("active model file %s is missing or corrupt", st.Active.File))
		st.Active, st.Previous, changed = st.Previous, nil, true
	}
	if st.Active != nil && !s.valid(st.Active) {
		st.Active, changed = nil, true
	}
	if st.Previous != nil && !s.valid(st.Previous) {
		st.Previous, changed = nil, true
	}
	if changed {
		if err := s.writeState(st); err != nil {
			return err
		}
	}
	s.state = st
	s.removeUnused()
	return nil
}

// valid checks that a model's file exists and has its hash.
func (s *Store) valid(m *Model) bool {
	data, err := os.ReadFile(s.path("models", m.File))
	if err != nil {
		return false
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]) == m.SHA256
}

func (s *Store) removeUnused() {
	keep := map[string]bool{}
	for _, m := range []*Model{s.state.Active, s.state.Previous} {
		if m != nil {
			keep[m.File] = true
		}
	}
	entries, _ := os.ReadDir(s.path("models"))
	for _, e := range entries {
		if !keep[e.Name()] {
			os.Remove(s.path("models", e.Name()))
		}
	}
}

// State returns a copy of the current state.
func (s *Store) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// ActivePath returns the file of the active model, or "" when none is
// installed.
func (s *Store) ActivePath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.Active == nil {
		return ""
	}
	return s.path("models", s.state.Active.File)
}

// StagingDir is where callers write incoming files; Open empties it.
func (s *Store) StagingDir() string { return s.path("staging") }

// Install writes model bytes durably and makes them the active model, on
// trial until Commit (or rolled back by Rollback or a restart). The model
// active before becomes the fallback. labels may be nil (the model's own).
func (s *Store) Install(data []byte, name, version string, labels []string, trial time.Duration) (Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(data)
	m := Model{Name: name, Version: version, Labels: labels, SHA256: hex.EncodeToString(sum[:]), Since: time.Now().UTC()}
	m.File = m.SHA256 + ".tflite"
	if s.state.Active != nil && s.state.Active.SHA256 == m.SHA256 {
		return m, fmt.Errorf("model %s is already active", m.SHA256[:12])
	}
	if err := writeFileAtomic(s.path("models", m.File), data); err != nil {
		return m, fmt.Errorf("install model: %w", err)
	}
	st := State{Active: &m, Previous: s.state.Active, Trial: trial > 0}
	if trial > 0 {
		st.TrialUntil = m.Since.Add(trial)
	}
	if err := s.writeState(st); err != nil {
		return m, err
	}
	s.state = st
	s.removeUnused()
	return m, nil
}

// Commit ends the trial of the active model: it stays after restarts.
func (s *Store) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.state.Trial {
		return nil
	}
	st := s.state
	st.Trial, st.TrialUntil = false, time.Time{}
	if err := s.writeState(st); err != nil {
		return err
	}
	s.state = st
	return nil
}

// Rollback makes the previous model active again. With no previous model
// the store is left with none, and the caller falls back to its configured
// model; ok says whether a previous model was restored.
func (s *Store) Rollback(reason string) (m Model, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.Active == nil {
		return Model{}, false, errors.New("no installed model to roll back")
	}
	st := State{Active: s.state.Previous, LastRollback: reason}
	if err := s.writeState(st); err != nil {
		return Model{}, false, err
	}
	s.state = st
	s.removeUnused()
	if st.Active == nil {
		return Model{}, false, nil
	}
	return *st.Active, true, nil
}

func (s *Store) writeState(st State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path("state.json"), data); err != nil {
		return fmt.Errorf("model store state: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data: temp file, fsync, rename, fsync
// of the folder.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !strings.Contains(err.Error(), "invalid argument") {
		return err
	}
	return nil
}
