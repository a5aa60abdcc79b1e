package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/agent/demomodel"
	"github.com/edgeclass/edgeclass/control"
	"github.com/edgeclass/edgeclass/internal/brokertest"
	"github.com/edgeclass/edgeclass/modelpkg"
	"github.com/edgeclass/edgeclass/mqtt"
	"github.com/edgeclass/edgeclass/tflite"
)

// demoVariant builds the demo model with version v; edit changes it first.
func demoVariant(t *testing.T, v string, edit func(m *tflite.Model)) []byte {
	t.Helper()
	m := demomodel.Build()
	m.Info.Version = v
	m.Description += " v" + v
	if edit != nil {
		edit(m)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// setConst replaces the data of the demo model's constant tensor name.
func setConst(m *tflite.Model, name string, v []float32) {
	for _, td := range m.Main().Tensors {
		if td.Name == name {
			m.Buffers[td.Buffer] = tflite.ToBytes(v)
		}
	}
}

// wrongShapeModel takes a 4-channel input, which no camera gives.
func wrongShapeModel(t *testing.T) []byte {
	g := tflite.NewGraphBuilder()
	in := g.AddTensor("in", tflite.Float32, []int{1, 8, 8, 4}, nil)
	axes := g.AddConst("axes", tflite.Int32, []int{2}, nil, tflite.ToBytes([]int32{1, 2}))
	mean := g.AddTensor("mean", tflite.Float32, []int{1, 4}, nil)
	g.AddOp(tflite.OpMean, &tflite.ReducerOptions{}, []int{in, axes}, []int{mean})
	out := g.AddTensor("out", tflite.Float32, []int{1, 4}, nil)
	g.AddOp(tflite.OpSoftmax, &tflite.SoftmaxOptions{Beta: 1}, []int{mean}, []int{out})
	g.SetInputs(in)
	g.SetOutputs(out)
	data, err := g.Model().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type updateRig struct {
	agent   *Agent
	ctl     *control.Client
	sub     *subscriber
	key     ed25519.PrivateKey
	other   ed25519.PrivateKey
	broker  string
	keyPath string
}

// newUpdateRig starts an agent on the given broker ("" = embedded) that
// trusts one signing key, and a fleet client.
func newUpdateRig(t *testing.T, broker string, trial time.Duration) *updateRig {
	dir := t.TempDir()
	if _, err := modelpkg.GenerateKey(filepath.Join(dir, "trusted")); err != nil {
		t.Fatal(err)
	}
	modelpkg.GenerateKey(filepath.Join(dir, "other"))
	r := &updateRig{keyPath: filepath.Join(dir, "trusted.pub")}
	r.key, _ = modelpkg.LoadPrivateKey(filepath.Join(dir, "trusted"))
	r.other, _ = modelpkg.LoadPrivateKey(filepath.Join(dir, "other"))
	cfg := testConfig(t)
	cfg.MQTT.Broker = broker
	cfg.Updates.TrustedKeys = []string{r.keyPath}
	cfg.Updates.Trial = trial
	cfg.Events.Heartbeat = 300 * time.Millisecond
	cfg.Events.MaxRate = 10
	r.agent = startAgent(t, cfg)
	r.broker = r.agent.BrokerURL()
	r.sub = subscribe(t, r.broker, "edgeclass/test-cam/#")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if r.ctl, err = control.Dial(ctx, mqtt.ConnConfig{Broker: r.broker}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.ctl.Close)
	r.sub.wait(t, "edgeclass/test-cam/events", 1, 10*time.Second)
	return r
}

func (r *updateRig) push(t *testing.T, pkg []byte) control.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return r.ctl.Push(ctx, "test-cam", pkg, control.PushOptions{ChunkSize: 1024, WaitCommit: 0})
}

// latestVersion returns the model version of the newest event.
func (r *updateRig) latestVersion(t *testing.T) string {
	evs := r.sub.wait(t, "edgeclass/test-cam/events", 1, time.Second)
	ev, err := mqtt.DecodeEvent(evs[len(evs)-1])
	if err != nil {
		t.Fatal(err)
	}
	return ev.Model.Version
}

// waitVersion waits for events from the given model version.
func (r *updateRig) waitVersion(t *testing.T, v string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for r.latestVersion(t) != v {
		if time.Now().After(deadline) {
			t.Fatalf("events still carry model version %s, want %s", r.latestVersion(t), v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestModelUpdates pushes good and bad packages over MQTT, against the
// embedded broker and mosquitto: the good one is installed and the next
// events carry its version; each bad one is refused with its reason and the
// running model keeps classifying.
func TestModelUpdates(t *testing.T) {
	for _, broker := range []string{"embedded", "mosquitto"} {
		t.Run(broker, func(t *testing.T) {
			url := ""
			if broker == "mosquitto" {
				url = brokertest.StartMosquitto(t, brokertest.Options{}).URL()
			}
			r := newUpdateRig(t, url, 1500*time.Millisecond)
			good := demoVariant(t, "2", nil)
			// Labels of its own, unlike the model's metadata: events must use them.
			labels := []string{"fond", "rouge", "vert", "bleu", "jaune"}
			signed, err := modelpkg.Build(good, "demo", "2", labels, "", r.key)
			if err != nil {
				t.Fatal(err)
			}
			nan := demoVariant(t, "9", func(m *tflite.Model) {
				n := float32(math.NaN()) // every score is NaN
				setConst(m, "classifier_bias", []float32{n, n, n, n, n})
			})
			pkg := func(model []byte, key ed25519.PrivateKey) []byte {
				p, err := modelpkg.Build(model, "demo", "9", nil, "", key)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			corrupt := append([]byte(nil), signed...)
			corrupt[len(corrupt)/2] ^= 0xff
			for _, c := range []struct {
				name, reason string
				pkg          []byte
			}{
				{"corrupt", "package", corrupt},
				{"truncated", "package", signed[:len(signed)*2/3]},
				{"unsigned", "not signed", pkg(good, nil)},
				{"wrongly signed", "trusted keys", pkg(good, r.other)},
				{"wrong shape", "want [1, height, width, 3 or 1]", pkg(wrongShapeModel(t), r.key)},
				{"crashing", "self-test", pkg(nan, r.key)},
			} {
				res := r.push(t, c.pkg)
				if res.OK || res.Step != "refused" || !strings.Contains(res.Reason, c.reason) {
					t.Errorf("%s package: %+v, want refused mentioning %q", c.name, res, c.reason)
				}
			}
			// The old model still classifies.
			before := len(r.sub.wait(t, "edgeclass/test-cam/events", 1, time.Second))
			r.sub.wait(t, "edgeclass/test-cam/events", before+2, 5*time.Second)
			if v := r.latestVersion(t); v != "1" {
				t.Fatalf("after refusals events carry version %s, want 1", v)
			}

			res := r.push(t, signed)
			if !res.OK || res.Model.Version != "2" {
				t.Fatalf("good package: %+v", res)
			}
			r.waitVersion(t, "2", 5*time.Second)
			evs := r.sub.wait(t, "edgeclass/test-cam/events", 1, time.Second)
			ev, err := mqtt.DecodeEvent(evs[len(evs)-1])
			if err != nil {
				t.Fatal(err)
			}
			if top := ev.TopK[0]; top.Label != labels[top.Index] {
				t.Errorf("event of the new model names class %d %q, want the package's label %q", top.Index, top.Label, labels[top.Index])
			}
			// It passes its trial and is kept.
			deadline := time.Now().Add(10 * time.Second)
			for r.agent.store.State().Trial {
				if time.Now().After(deadline) {
					t.Fatal("the new model was not committed after its trial")
				}
				time.Sleep(100 * time.Millisecond)
			}
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(updateSteps(t, r.sub), "committed"); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no committed step reported: %s", updateSteps(t, r.sub))
				}
			}
			// After a restart the installed model keeps the package's labels.
			restarted, err := r.agent.initialModel()
			if err != nil {
				t.Fatal(err)
			}
			if restarted.Version != "2" || !slices.Equal(restarted.Labels, labels) {
				t.Errorf("model at restart: version %q, labels %v, want version 2 with %v", restarted.Version, restarted.Labels, labels)
			}
			steps := updateSteps(t, r.sub)
			for _, want := range []string{"refused", "verified", "self-tested", "installed"} {
				if !strings.Contains(steps, want) {
					t.Errorf("update steps %s lack %s", steps, want)
				}
			}
		})
	}
}

// updateSteps lists the update steps published on the status topic.
func updateSteps(t *testing.T, s *subscriber) string {
	var steps []string
	for _, p := range s.wait(t, "edgeclass/test-cam/status", 1, time.Second) {
		var u mqtt.Update
		if json.Unmarshal(p, &u) == nil && u.Schema == mqtt.UpdateSchema {
			steps = append(steps, u.Step)
		}
	}
	return strings.Join(steps, ",")
}

// TestRollbackOnFailedTrial installs a model that passes its self-test on
// the frames at hand but produces NaN on yellow frames, which the test
// pattern shows within 12 seconds: the agent rolls it back by itself.
func TestRollbackOnFailedTrial(t *testing.T) {
	r := newUpdateRig(t, "", 30*time.Second)
	for r.agent.Status().Label == "yellow" { // the self-test must see other colours
		time.Sleep(100 * time.Millisecond)
	}
	bad := demoVariant(t, "3", func(m *tflite.Model) {
		// The yellow detector's response, summed over the frame by MEAN,
		// overflows to infinity on yellow frames only; softmax of an
		// infinite logit is NaN.
		const big = 1e38
		setConst(m, "detector_weights", []float32{1, -1, -1, -1, 1, -1, -1, -1, 1, big, big, -3 * big})
		setConst(m, "detector_bias", []float32{0, 0, 0, -big})
	})
	pkg, err := modelpkg.Build(bad, "demo", "3", nil, "", r.key)
	if err != nil {
		t.Fatal(err)
	}
	res := r.push(t, pkg)
	if !res.OK {
		t.Fatalf("install: %+v", res)
	}
	deadline := time.Now().Add(25 * time.Second)
	for !strings.Contains(updateSteps(t, r.sub), "rolled_back") {
		if time.Now().After(deadline) {
			t.Fatalf("no rollback; steps %s", updateSteps(t, r.sub))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if lm := r.agent.Model(); lm.Version != "1" || r.agent.store.ActivePath() != "" {
		t.Fatalf("after rollback the agent runs %s %s (store %+v)", lm.Name, lm.Version, r.agent.store.State())
	}
	r.waitVersion(t, "1", 5*time.Second)
}

// TestResumeAndURL resumes an interrupted transfer (only the missing
// chunks travel again) and installs a package by URL.
func TestResumeAndURL(t *testing.T) {
	r := newUpdateRig(t, "", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pkg, err := modelpkg.Build(demoVariant(t, "4", nil), "demo", "4", nil, "", r.key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pkg)
	digest := hex.EncodeToString(sum[:])
	const chunk = 1024
	begin := map[string]any{"transfer": "t1", "size": len(pkg), "sha256": digest, "chunk_size": chunk}
	if _, err := r.ctl.Call(ctx, "test-cam", "model.begin", begin); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1; i++ { // the connection "drops" after one chunk
		data := pkg[i*chunk : (i+1)*chunk]
		cs := sha256.Sum256(data)
		if _, err := r.ctl.Call(ctx, "test-cam", "model.chunk", map[string]any{"transfer": "t1", "index": i,
			"data": base64.StdEncoding.EncodeToString(data), "sha256": hex.EncodeToString(cs[:])}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.ctl.Call(ctx, "test-cam", "model.install", map[string]any{"transfer": "t1"}); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("install of an incomplete transfer: %v", err)
	}
	raw, err := r.ctl.Call(ctx, "test-cam", "model.begin", begin)
	if err != nil {
		t.Fatal(err)
	}
	var st TransferState
	json.Unmarshal(raw, &st)
	if st.Chunks < 2 || st.Received != 1 || len(st.Missing) != st.Chunks-1 {
		t.Fatalf("resumed transfer: %+v", st)
	}
	var sent []float64
	res := r.ctl.Push(ctx, "test-cam", pkg, control.PushOptions{ChunkSize: chunk, Transfer: "t1",
		Progress: func(_ string, f float64) { sent = append(sent, f) }})
	if !res.OK || res.Model.Version != "4" || len(sent) != st.Chunks-1 {
		t.Fatalf("resumed push: %+v, %d chunks sent of %d", res, len(sent), st.Chunks)
	}

	// By URL: the device downloads the package and checks its hash.
	pkg5, _ := modelpkg.Build(demoVariant(t, "5", nil), "demo", "5", nil, "", r.key)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(pkg5) }))
	defer srv.Close()
	sum5 := sha256.Sum256(pkg5)
	if _, err := r.ctl.Call(ctx, "test-cam", "model.install", map[string]any{"url": srv.URL, "sha256": digest}); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("a download with the wrong hash: %v", err)
	}
	if _, err := r.ctl.Call(ctx, "test-cam", "model.install", map[string]any{"url": srv.URL, "sha256": hex.EncodeToString(sum5[:])}); err != nil {
		t.Fatal(err)
	}
	r.waitVersion(t, "5", 5*time.Second)
}
