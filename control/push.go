package control

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/edgeclass/edgeclass/mqtt"
)

// PushOptions tune a push.
type PushOptions struct {
	// ChunkSize is the bytes per chunk (default 128 KiB; brokers cap
	// packet sizes and commands are base64).
	ChunkSize int
	// Window is how many chunks may await a reply at once (default 4).
	Window int
	// Transfer names the transfer; pushing again with the same name
	// resumes it (default: derived from the package hash).
	Transfer string
	// WaitCommit waits for the device to keep the model after its trial
	// (or roll it back) before the push counts as done; 0 returns after
	// the install.
	WaitCommit time.Duration
	// Progress is called with the fraction of chunks acknowledged.
	Progress func(device string, done float64)
}

// Result is the outcome of a push to one device.
type Result struct {
	Device string        `json:"device"`
	OK     bool          `json:"ok"`
	Step   string        `json:"step"` // installed, committed, refused, rolled_back, failed, skipped
	Model  mqtt.Model    `json:"model,omitempty"`
	Reason string        `json:"reason,omitempty"`
	Took   time.Duration `json:"took"`
}

// Push sends a package to one device in chunks, resuming what the device
// already has, and installs it.
func (cl *Client) Push(ctx context.Context, device string, pkg []byte, o PushOptions) Result {
	start := time.Now()
	res := Result{Device: device}
	fail := func(step string, err error) Result {
		res.Step, res.Reason, res.Took = step, err.Error(), time.Since(start)
		return res
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = 128 << 10
	}
	if o.Window <= 0 {
		o.Window = 4
	}
	sum := sha256.Sum256(pkg)
	digest := hex.EncodeToString(sum[:])
	if o.Transfer == "" {
		o.Transfer = "pkg-" + digest[:16]
	}
	updates, stop := cl.watchUpdates(device)
	defer stop()

	raw, err := cl.call(ctx, device, "model.begin", map[string]any{
		"transfer": o.Transfer, "size": len(pkg), "sha256": digest, "chunk_size": o.ChunkSize})
	if err != nil {
		return fail("failed", err)
	}
	var st struct {
		Chunks  int   `json:"chunks"`
		Missing []int `json:"missing"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return fail("failed", fmt.Errorf("model.begin reply: %w", err))
	}
	if err := cl.sendChunks(ctx, device, pkg, o, st.Chunks, st.Missing); err != nil {
		return fail("failed", err)
	}
	raw, err = cl.call(ctx, device, "model.install", map[string]any{"transfer": o.Transfer})
	if err != nil {
		var ce *CallError
		if errors.As(err, &ce) {
			return fail("refused", errors.New(ce.Err.Message))
		}
		return fail("failed", err)
	}
	var inst struct {
		Model struct{ Name, Version, SHA256 string }
	}
	json.Unmarshal(raw, &inst)
	res.Model = mqtt.Model{Name: inst.Model.Name, Version: inst.Model.Version, SHA256: inst.Model.SHA256}
	res.OK, res.Step = true, "installed"
	if o.WaitCommit > 0 {
		res = cl.waitTrial(ctx, updates, res, o.WaitCommit)
	}
	res.Took = time.Since(start)
	return res
}

// call retries a command the device answered busy.
func (cl *Client) call(ctx context.Context, device, name string, args any) (json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		raw, err := cl.Call(cctx, device, name, args)
		cancel()
		var ce *CallError
		if err == nil || !errors.As(err, &ce) || ce.Err.Code != mqtt.CodeBusy || attempt == 20 {
			return raw, err
		}
		select {
		case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// sendChunks sends the missing chunks with up to o.Window in flight.
func (cl *Client) sendChunks(ctx context.Context, device string, pkg []byte, o PushOptions, chunks int, missing []int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var firstErr error
	done := chunks - len(missing)
	sem := make(chan struct{}, o.Window)
	var wg sync.WaitGroup
	for _, i := range missing {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			lo := i * o.ChunkSize
			data := pkg[lo:min(len(pkg), lo+o.ChunkSize)]
			sum := sha256.Sum256(data)
			_, err := cl.call(ctx, device, "model.chunk", map[string]any{"transfer": o.Transfer, "index": i,
				"data": base64.StdEncoding.EncodeToString(data), "sha256": hex.EncodeToString(sum[:])})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("chunk %d: %w", i, err)
					cancel()
				}
				return
			}
			done++
			if o.Progress != nil {
				o.Progress(device, float64(done)/float64(chunks))
			}
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// waitTrial waits for the device to commit the model or roll it back.
func (cl *Client) waitTrial(ctx context.Context, updates <-chan mqtt.Update, res Result, timeout time.Duration) Result {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case u := <-updates:
			switch u.Step {
			case "committed":
				res.Step = "committed"
				return res
			case "rolled_back", "failed":
				res.OK, res.Step, res.Reason = false, u.Step, u.Reason
				return res
			}
		case <-t.C:
			res.OK, res.Step, res.Reason = false, "failed", fmt.Sprintf("no commit or rollback within %s", timeout)
			return res
		case <-ctx.Done():
			res.OK, res.Step, res.Reason = false, "failed", ctx.Err().Error()
			return res
		}
	}
}

// RolloutOptions configure a staged rollout.
type RolloutOptions struct {
	PushOptions
	// Canary is the share of devices (0 to 1) that gets the package first;
	// the rest follow only if the canaries succeed (0: all at once).
	Canary float64
	// MaxFailures stops the rollout once more devices than this failed
	// (canaries included).
	MaxFailures int
	// Parallel is how many devices receive at once (default 4).
	Parallel int
}

// Rollout pushes a package to devices: a canary share first, waiting for
// each canary to keep the model through its trial, then the rest, stopping
// when failures exceed MaxFailures (hawkBit's model). Devices not pushed to
// are reported as skipped.
func (cl *Client) Rollout(ctx context.Context, devices []string, pkg []byte, o RolloutOptions) []Result {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	n := len(devices)
	canaries := 0
	if o.Canary > 0 {
		canaries = min(n, max(1, int(math.Ceil(o.Canary*float64(n)))))
	}
	results := make([]Result, n)
	failures := 0
	wave := func(idx []int, waitCommit time.Duration) {
		po := o.PushOptions
		po.WaitCommit = waitCommit
		sem := make(chan struct{}, o.Parallel)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, i := range idx {
			mu.Lock()
			stop := failures > o.MaxFailures
			mu.Unlock()
			if stop {
				results[i] = Result{Device: devices[i], Step: "skipped", Reason: "rollout stopped: too many failures"}
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				r := cl.Push(ctx, devices[i], pkg, po)
				mu.Lock()
				results[i] = r
				if !r.OK {
					failures++
				}
				mu.Unlock()
			}(i)
		}
		wg.Wait()
	}
	var first, rest []int
	for i := range devices {
		if i < canaries {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	if canaries > 0 {
		commit := o.WaitCommit
		if commit == 0 {
			commit = 2 * time.Minute
		}
		wave(first, commit)
		if anyFailed(results[:canaries]) {
			for _, i := range rest {
				results[i] = Result{Device: devices[i], Step: "skipped", Reason: "a canary failed: rollout stopped"}
			}
			return results
		}
	}
	wave(rest, o.WaitCommit)
	return results
}

func anyFailed(rs []Result) bool {
	for _, r := range rs {
		if !r.OK {
			return true
		}
	}
	return false
}
