package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgeclass/edgeclass/modelpkg"
	"github.com/edgeclass/edgeclass/modelstore"
	"github.com/edgeclass/edgeclass/mqtt"
)

// Remote model updates. A package (modelpkg) reaches the device in chunks
// over MQTT commands (model.begin, model.chunk, then model.install), or by
// URL (model.install with "url"). Installing it:
//
//  1. verifies the hash, the package structure and the signature;
//  2. loads the model with the engine and checks the pipeline can feed it;
//  3. self-tests it on recent camera frames and a synthetic frame: it must
//     run and give finite scores;
//  4. installs it durably (modelstore: temp file, fsync, rename) on trial,
//     keeping the previous model, and switches the pipeline to it;
//  5. watches it for updates.trial: a failure rolls it back by itself; a
//     clean window commits it.
//
// Every step is reported on the status topic (mqtt.Update) and in the
// command's reply. A crash or power cut at any point leaves the old model
// or the new one, never neither (modelstore).

// Limits of a transfer.
const (
	minChunk = 1 << 10
	maxChunk = 512 << 10
)

var transferID = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

type updater struct {
	a *Agent

	mu        sync.Mutex
	transfers map[string]*transfer
	trial     *trialWatch // the model on trial, or nil
	installMu sync.Mutex  // one install at a time
}

// transfer is a package being received in chunks into the staging folder.
type transfer struct {
	id        string
	size      int64
	sha256    string
	chunkSize int
	have      []bool
	received  int
	path      string
}

// trialWatch is the health watch of a newly installed model.
type trialWatch struct {
	model  *LoadedModel
	cancel context.CancelFunc
}

func newUpdater(a *Agent) *updater {
	return &updater{a: a, transfers: map[string]*transfer{}}
}

func (u *updater) register(c *mqtt.Commands) {
	c.Register("model.begin", u.begin)
	c.Register("model.chunk", u.chunk)
	c.Register("model.install", u.install)
	c.Register("model.rollback", u.rollback)
	c.Register("model.status", u.status)
}

func (u *updater) report(up mqtt.Update) {
	if err := u.a.pub.PublishUpdate(&up); err != nil {
		u.a.log.Warn("update step not reported over MQTT", "step", up.Step, "err", err)
	}
	u.a.log.Info("model update", "transfer", up.Transfer, "step", up.Step, "ok", up.OK, "reason", up.Reason)
}

type beginArgs struct {
	Transfer  string `json:"transfer"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	ChunkSize int    `json:"chunk_size"`
}

// TransferState says which chunks a device still needs.
type TransferState struct {
	Transfer string `json:"transfer"`
	Chunks   int    `json:"chunks"`
	Received int    `json:"received"`
	Missing  []int  `json:"missing"`
}

func (t *transfer) state() TransferState {
	st := TransferState{Transfer: t.id, Chunks: len(t.have), Received: t.received, Missing: []int{}}
	for i, ok := range t.have {
		if !ok {
			st.Missing = append(st.Missing, i)
		}
	}
	return st
}

// begin starts a transfer, or resumes one with the same parameters.
func (u *updater) begin(ctx context.Context, raw json.RawMessage) (any, error) {
	var args beginArgs
	if err := mqtt.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	switch {
	case !transferID.MatchString(args.Transfer):
		return nil, mqtt.BadArgs(errors.New("transfer: 1 to 64 letters, digits, '-' or '_'"))
	case args.Size <= 0 || args.Size > modelpkg.MaxModelBytes+(1<<20):
		return nil, mqtt.BadArgs(fmt.Errorf("size: %d is outside (0, %d]", args.Size, modelpkg.MaxModelBytes+(1<<20)))
	case args.ChunkSize < minChunk || args.ChunkSize > maxChunk:
		return nil, mqtt.BadArgs(fmt.Errorf("chunk_size: %d is outside [%d, %d]", args.ChunkSize, minChunk, maxChunk))
	case len(args.SHA256) != 64:
		return nil, mqtt.BadArgs(errors.New("sha256: want 64 hex digits"))
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if t := u.transfers[args.Transfer]; t != nil {
		if t.size == args.Size && t.sha256 == args.SHA256 && t.chunkSize == args.ChunkSize {
			return t.state(), nil // resume
		}
		u.drop(t)
	}
	if len(u.transfers) >= 4 {
		return nil, errors.New("4 transfers are already open")
	}
	t := &transfer{id: args.Transfer, size: args.Size, sha256: strings.ToLower(args.SHA256), chunkSize: args.ChunkSize,
		path: filepath.Join(u.a.store.StagingDir(), args.Transfer+".part")}
	t.have = make([]bool, (args.Size+int64(args.ChunkSize)-1)/int64(args.ChunkSize))
	f, err := os.Create(t.path)
	if err == nil {
		err = f.Truncate(args.Size)
		f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	u.transfers[t.id] = t
	u.report(mqtt.Update{Transfer: t.id, Step: "receiving", OK: true})
	return t.state(), nil
}

func (u *updater) drop(t *transfer) {
	os.Remove(t.path)
	delete(u.transfers, t.id)
}

type chunkArgs struct {
	Transfer string `json:"transfer"`
	Index    int    `json:"index"`
	Data     string `json:"data"` // base64
	SHA256   string `json:"sha256"`
}

// chunk writes one chunk after checking its length and hash.
func (u *updater) chunk(ctx context.Context, raw json.RawMessage) (any, error) {
	var args chunkArgs
	if err := mqtt.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	t := u.transfers[args.Transfer]
	if t == nil {
		return nil, mqtt.BadArgs(fmt.Errorf("transfer %q was not begun (or the agent restarted): send model.begin", args.Transfer))
	}
	if args.Index < 0 || args.Index >= len(t.have) {
		return nil, mqtt.BadArgs(fmt.Errorf("index: %d is outside [0, %d)", args.Index, len(t.have)))
	}
	data, err := base64.StdEncoding.DecodeString(args.Data)
	if err != nil {
		return nil, mqtt.BadArgs(fmt.Errorf("data: %w", err))
	}
	off := int64(args.Index) * int64(t.chunkSize)
	if want := min(int64(t.chunkSize), t.size-off); int64(len(data)) != want {
		return nil, mqtt.BadArgs(fmt.Errorf("chunk %d is %d bytes, want %d", args.Index, len(data), want))
	}
	if !hashIs(data, args.SHA256) {
		return nil, mqtt.BadArgs(fmt.Errorf("chunk %d does not match its sha256 (damaged in transit)", args.Index))
	}
	f, err := os.OpenFile(t.path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	_, err = f.WriteAt(data, off)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	if !t.have[args.Index] {
		t.have[args.Index] = true
		t.received++
	}
	st := t.state()
	if n := len(t.have); t.received == n || t.received%max(1, n/10) == 0 {
		u.report(mqtt.Update{Transfer: t.id, Step: "receiving", OK: true, Progress: float64(t.received) / float64(n)})
	}
	return map[string]int{"received": st.Received, "chunks": st.Chunks}, nil
}

type installArgs struct {
	Transfer string `json:"transfer,omitempty"`
	URL      string `json:"url,omitempty"`
	SHA256   string `json:"sha256,omitempty"` // with url
}

// InstallResult is the reply to model.install.
type InstallResult struct {
	Model ModelStatus `json:"model"`
	Trial string      `json:"trial"` // how long the model stays on trial
}

// install assembles a received transfer, or downloads a URL, and installs
// the package.
func (u *updater) install(ctx context.Context, raw json.RawMessage) (any, error) {
	var args installArgs
	if err := mqtt.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	var data []byte
	var err error
	id := args.Transfer
	switch {
	case args.Transfer != "" && args.URL == "":
		data, err = u.assemble(args.Transfer)
	case args.URL != "" && args.Transfer == "":
		id = "url-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		data, err = download(ctx, args.URL, args.SHA256)
	default:
		return nil, mqtt.BadArgs(errors.New(`give either "transfer" or "url" (with "sha256")`))
	}
	if err != nil {
		u.report(mqtt.Update{Transfer: id, Step: "refused", Reason: err.Error()})
		return nil, err
	}
	lm, err := u.installPackage(id, data)
	if err != nil {
		return nil, err
	}
	return InstallResult{Model: lm.Ident(), Trial: u.a.config().Updates.Trial.String()}, nil
}

// assemble returns a complete transfer's bytes after checking its hash, and
// forgets the transfer.
func (u *updater) assemble(id string) ([]byte, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	t := u.transfers[id]
	if t == nil {
		return nil, mqtt.BadArgs(fmt.Errorf("transfer %q was not begun", id))
	}
	if t.received != len(t.have) {
		return nil, fmt.Errorf("transfer %q is incomplete: %d of %d chunks received", id, t.received, len(t.have))
	}
	defer u.drop(t)
	data, err := os.ReadFile(t.path)
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	if !hashIs(data, t.sha256) {
		return nil, errors.New("the assembled package does not match the sha256 given in model.begin")
	}
	return data, nil
}

// download fetches a package by URL, bounded in size, checking its hash.
func download(ctx context.Context, url, want string) ([]byte, error) {
	if len(want) != 64 {
		return nil, mqtt.BadArgs(errors.New("sha256: want 64 hex digits with url"))
	}
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return nil, mqtt.BadArgs(errors.New("url: want http:// or https://"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, mqtt.BadArgs(fmt.Errorf("url: %w", err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download: %s", resp.Status)
	}
	limit := int64(modelpkg.MaxModelBytes + 1<<20)
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("download: package is larger than %d bytes", limit)
	}
	if !hashIs(data, want) {
		return nil, errors.New("download: package does not match its sha256")
	}
	return data, nil
}

// installPackage runs the checks and the switch. It never disturbs the
// running model unless every check passed.
func (u *updater) installPackage(id string, data []byte) (*LoadedModel, error) {
	u.installMu.Lock()
	defer u.installMu.Unlock()
	refuse := func(format string, args ...any) (*LoadedModel, error) {
		err := fmt.Errorf(format, args...)
		u.report(mqtt.Update{Transfer: id, Step: "refused", Reason: err.Error()})
		return nil, err
	}
	u.report(mqtt.Update{Transfer: id, Step: "received", OK: true, Progress: 1})
	p, err := modelpkg.Parse(data)
	if err != nil {
		return refuse("package: %v", err)
	}
	keyID, err := p.Verify(u.a.trustedKeys)
	switch {
	case errors.Is(err, modelpkg.ErrUnsigned) && u.a.config().Updates.AllowUnsigned:
		keyID = "unsigned (allowed by updates.allow_unsigned)"
	case err != nil:
		return refuse("signature: %v", err)
	}
	if !versionAtLeast(Version, p.Manifest.MinAgentVersion) {
		return refuse("needs agent version %s, this is %s", p.Manifest.MinAgentVersion, Version)
	}
	// The manifest's labels go in before any classifier is built, so that
	// every classifier of the model names classes alike.
	opts := u.a.classifyOptions()
	if len(p.Manifest.Labels) > 0 {
		opts.Labels = p.Manifest.Labels
	}
	lm, err := NewLoadedModel(p.Model, p.Manifest.Name, "", "", opts)
	if err != nil {
		return refuse("model: %v", err)
	}
	lm.Name, lm.Version = p.Manifest.Name, p.Manifest.Version
	if n := len(p.Manifest.Labels); n > 0 {
		if out := countElems(lm.Model.Main().Tensors[lm.Model.Main().Outputs[0]].Shape); n != out && n != out-1 {
			return refuse("manifest has %d labels for %d outputs", n, out)
		}
	}
	mod := new(lm.Ident())
	u.report(mqtt.Update{Transfer: id, Step: "verified", OK: true, Model: mod, Reason: "signed by " + keyID})
	if err := u.selfTest(lm); err != nil {
		return refuse("self-test: %v", err)
	}
	u.report(mqtt.Update{Transfer: id, Step: "self-tested", OK: true, Model: mod})

	if _, err := u.a.store.Install(p.Model, lm.Name, lm.Version, p.Manifest.Labels, u.a.config().Updates.Trial); err != nil {
		u.report(mqtt.Update{Transfer: id, Step: "failed", Model: mod, Reason: err.Error()})
		return nil, err
	}
	old := u.a.Model()
	u.a.setModel(lm)
	u.report(mqtt.Update{Transfer: id, Step: "installed", OK: true, Model: mod, Reason: "on trial for " + u.a.config().Updates.Trial.String() + "; previous " + old.Name + " " + old.Version})
	u.startTrial(id, lm)
	return lm, nil
}

// selfTest runs a candidate on the latest camera frames and a synthetic
// frame: it must not fail and must give finite scores.
func (u *updater) selfTest(lm *LoadedModel) error {
	c, err := lm.NewClassifier()
	if err != nil {
		return err
	}
	defer c.Close()
	frames := u.a.pipe.recentFrames()
	frames = append(frames, selfTestFrame())
	for i, img := range frames {
		if _, err := c.Classify(img, 1); err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
		if err := finiteScores(c.Scores()); err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
	}
	return nil
}

// selfTestFrame is a synthetic frame: a colour gradient.
func selfTestFrame() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(5 * y), uint8(128 + x), 255})
		}
	}
	return img
}

// startTrial watches the new model: inference failures roll it back, a
// clean trial period commits it.
func (u *updater) startTrial(id string, lm *LoadedModel) {
	u.mu.Lock()
	if u.trial != nil {
		u.trial.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	u.trial = &trialWatch{model: lm, cancel: cancel}
	u.mu.Unlock()
	u.a.health.reset()
	go func() {
		deadline := time.NewTimer(u.a.config().Updates.Trial)
		defer deadline.Stop()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		mod := new(lm.Ident())
		for {
			select {
			case <-ctx.Done():
				return
			case <-deadline.C:
				if err := u.a.store.Commit(); err != nil {
					u.report(mqtt.Update{Transfer: id, Step: "failed", Model: mod, Reason: "commit: " + err.Error()})
					return
				}
				u.report(mqtt.Update{Transfer: id, Step: "committed", OK: true, Model: mod})
				u.endTrial(lm)
				return
			case <-tick.C:
				if reason := u.a.health.trialFailure(); reason != "" {
					u.rollbackTo(id, "health check failed: "+reason)
					return
				}
			}
		}
	}()
}

func (u *updater) endTrial(lm *LoadedModel) {
	u.mu.Lock()
	if u.trial != nil && u.trial.model == lm {
		u.trial = nil
	}
	u.mu.Unlock()
}

// rollbackTo restores the previous model (or the configured one when the
// store holds no other).
func (u *updater) rollbackTo(id, reason string) (*LoadedModel, error) {
	u.mu.Lock()
	if u.trial != nil {
		u.trial.cancel()
		u.trial = nil
	}
	u.mu.Unlock()
	bad := u.a.Model()
	if _, _, err := u.a.store.Rollback(reason); err != nil {
		return nil, err
	}
	lm, err := u.a.initialModel()
	if err != nil {
		u.report(mqtt.Update{Transfer: id, Step: "failed", Reason: err.Error()})
		return nil, err
	}
	u.a.setModel(lm)
	u.a.health.reset()
	u.report(mqtt.Update{Transfer: id, Step: "rolled_back", OK: true, Reason: reason + "; removed " + bad.Name + " " + bad.Version,
		Model: new(lm.Ident())})
	return lm, nil
}

func (u *updater) rollback(ctx context.Context, raw json.RawMessage) (any, error) {
	if err := mqtt.DecodeArgs(raw, &struct{}{}); err != nil { // no args taken
		return nil, err
	}
	lm, err := u.rollbackTo("", "requested by the operator")
	if err != nil {
		return nil, err
	}
	return lm.Ident(), nil
}

// UpdateStatus is the reply to model.status.
type UpdateStatus struct {
	Model     ModelStatus      `json:"model"`
	Store     modelstore.State `json:"store"`
	Transfers []TransferState  `json:"transfers"`
}

func (u *updater) status(ctx context.Context, raw json.RawMessage) (any, error) {
	lm := u.a.Model()
	st := UpdateStatus{Model: lm.Ident(), Store: u.a.store.State(), Transfers: []TransferState{}}
	u.mu.Lock()
	for _, t := range u.transfers {
		st.Transfers = append(st.Transfers, t.state())
	}
	u.mu.Unlock()
	return st, nil
}

// hashIs reports whether data's SHA-256 is hexSum (hex digits of either
// case).
func hashIs(data []byte, hexSum string) bool {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]) == strings.ToLower(hexSum)
}

func countElems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// versionAtLeast compares dotted versions (a leading v and suffixes after
// '-' ignored); a development build ("dev") satisfies any minimum.
func versionAtLeast(have, min string) bool {
	if min == "" || have == "dev" {
		return true
	}
	parse := func(s string) []int {
		s = strings.TrimPrefix(s, "v")
		s, _, _ = strings.Cut(s, "-")
		var out []int
		for _, p := range strings.Split(s, ".") {
			n, _ := strconv.Atoi(p)
			out = append(out, n)
		}
		return out
	}
	h, m := parse(have), parse(min)
	for i := 0; i < max(len(h), len(m)); i++ {
		var a, b int
		if i < len(h) {
			a = h[i]
		}
		if i < len(m) {
			b = m[i]
		}
		if a != b {
			return a > b
		}
	}
	return true
}

// loadTrustedKeys reads updates.trusted_keys.
func loadTrustedKeys(paths []string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, p := range paths {
		k, err := modelpkg.LoadPublicKey(p)
		if err != nil {
			return nil, fmt.Errorf("updates.trusted_keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
