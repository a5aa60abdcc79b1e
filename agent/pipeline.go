package agent

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/mqtt"
)

// The path of a frame: camera.Source -> preprocess -> engine -> event
// policy -> MQTT publisher. This file holds all of it; the HTTP server and
// telemetry read the same state.

// pipeline classifies frames from one source with the agent's current
// model and publishes what the event policy lets through.
type pipeline struct {
	a *Agent

	mu       sync.Mutex // guards the fields below, and src and policy swaps
	src      camera.Source
	policy   *mqtt.Policy
	topK     int
	status   Status
	frame    image.Image
	recent   [3]image.Image // the last frames, for self-tests of new models
	nRecent  int
	window   fpsWindow
	sums     mqtt.Latency // latency sums since the last telemetry
	sumCount int
}

// run classifies frames until ctx is done or a finite source ends.
func (p *pipeline) run(ctx context.Context) error {
	var c *classify.Classifier
	var cModel *LoadedModel
	defer func() {
		if c != nil {
			cModel.Release(c)
		}
	}()
	for {
		src := p.source()
		f, err := src.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, camera.ErrClosed) {
				if p.source() != src {
					continue // reopenSource swapped it
				}
				return nil
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			p.a.metrics.sourceErrors.Inc()
			p.setSourceError(err)
			continue
		}
		lm := p.a.Model()
		if c == nil || cModel != lm {
			if c != nil {
				cModel.Release(c)
			}
			if c, err = lm.Acquire(); err != nil {
				p.a.log.Error("cannot run model", "model", lm.Name, "err", err)
				c = nil
				continue
			}
			cModel = lm
		}
		p.classify(ctx, f, c, lm)
	}
}

// classify runs one frame through the model, the policy and the publisher.
func (p *pipeline) classify(ctx context.Context, f camera.Frame, c *classify.Classifier, lm *LoadedModel) {
	m := p.a.metrics
	tPre := time.Now()
	if err := c.Spec.Load(c.Input(), f.Image); err != nil {
		p.a.log.Warn("preprocessing failed", "frame", f.Seq, "err", err)
		p.a.health.failure(err)
		return
	}
	tInf := time.Now()
	p.mu.Lock()
	policy, topK := p.policy, p.topK
	p.mu.Unlock()
	res, err := c.Run(topK)
	tDone := time.Now()
	if err == nil {
		err = finiteScores(c.Scores())
	}
	if err != nil {
		p.a.log.Warn("inference failed", "frame", f.Seq, "err", err)
		p.a.health.failure(err)
		return
	}
	p.a.health.success()
	classes := make([]mqtt.Class, len(res))
	for i, r := range res {
		classes[i] = mqtt.Class(r)
	}
	lat := mqtt.Latency{
		Capture:    ms(f.Latency),
		Preprocess: ms(tInf.Sub(tPre)),
		Inference:  ms(tDone.Sub(tInf)),
	}
	d := policy.Decide(f.Time, classes)
	if d.Publish {
		ev := &mqtt.Event{
			Frame: f.Seq, Time: mqtt.Timestamp{Time: f.Time}, TopK: classes,
			Model:     lm.Ident(),
			LatencyMs: lat, Ready: tDone,
		}
		d.Fill(ev)
		if err := p.a.pub.PublishEvent(ev); err != nil {
			p.a.log.Warn("event not queued", "err", err)
		} else {
			m.events.Inc()
		}
		lat.Publish = ev.LatencyMs.Publish
	}
	m.frames.Inc()
	m.dropped.Add(float64(f.Dropped))
	m.latency.WithLabelValues("capture").Observe(lat.Capture / 1000)
	m.latency.WithLabelValues("preprocess").Observe(lat.Preprocess / 1000)
	m.latency.WithLabelValues("inference").Observe(lat.Inference / 1000)
	if d.Publish {
		m.latency.WithLabelValues("publish").Observe(lat.Publish / 1000)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	st := &p.status
	st.Seq, st.Frames, st.Dropped = f.Seq, st.Frames+1, st.Dropped+f.Dropped
	st.LastFrame, st.InferMS, st.Top = tDone, lat.Inference, res
	st.Label, st.Score = d.State, d.Top.Score
	st.Model = lm.Ident()
	st.SourceErr = ""
	st.FPS = p.window.add(tDone)
	m.fps.Set(st.FPS)
	p.frame = f.Image
	p.recent[p.nRecent%len(p.recent)] = f.Image
	p.nRecent++
	p.sums.Capture += lat.Capture
	p.sums.Preprocess += lat.Preprocess
	p.sums.Inference += lat.Inference
	p.sums.Publish += lat.Publish
	p.sumCount++
}

// setPolicy switches the event policy and top-K (config.set).
func (p *pipeline) setPolicy(policy *mqtt.Policy, topK int) {
	p.mu.Lock()
	p.policy, p.topK = policy, topK
	p.mu.Unlock()
}

// reopenSource replaces the frame source (a new frame-rate cap).
func (p *pipeline) reopenSource(spec string, fps float64) error {
	src, err := camera.Open(spec, camera.Options{FPS: fps})
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	p.mu.Lock()
	old := p.src
	p.src = src
	p.mu.Unlock()
	return old.Close()
}

// source is the current frame source.
func (p *pipeline) source() camera.Source {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.src
}

// sourceStats reports the current source's state.
func (p *pipeline) sourceStats() camera.Stats { return p.source().Stats() }

// close stops the current source.
func (p *pipeline) close() { p.source().Close() }

func (p *pipeline) setSourceError(err error) {
	p.mu.Lock()
	p.status.SourceErr = err.Error()
	p.mu.Unlock()
}

// snapshot returns the pipeline's part of the status and the latest frame.
func (p *pipeline) snapshot() (Status, image.Image) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status, p.frame
}

// recentFrames returns the last classified frames, newest last.
func (p *pipeline) recentFrames() []image.Image {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []image.Image
	for i := max(0, p.nRecent-len(p.recent)); i < p.nRecent; i++ {
		out = append(out, p.recent[i%len(p.recent)])
	}
	return out
}

// takeLatency returns the mean latencies since the last call.
func (p *pipeline) takeLatency() mqtt.Latency {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, n := p.sums, float64(max(1, p.sumCount))
	p.sums, p.sumCount = mqtt.Latency{}, 0
	return mqtt.Latency{Capture: l.Capture / n, Preprocess: l.Preprocess / n, Inference: l.Inference / n, Publish: l.Publish / n}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// finiteScores rejects outputs a broken model produces: NaN or infinity.
func finiteScores(s []float32) error {
	for _, v := range s {
		if v != v || v > 3e38 || v < -3e38 {
			return errors.New("model produced a non-finite score")
		}
	}
	return nil
}

// fpsWindow measures frames per second over the last few seconds.
type fpsWindow struct {
	times [64]time.Time
	n     int
}

func (w *fpsWindow) add(t time.Time) float64 {
	w.times[w.n%len(w.times)] = t
	w.n++
	k := min(w.n, len(w.times))
	oldest := w.times[(w.n-k)%len(w.times)]
	if k < 2 || !t.After(oldest) {
		return 0
	}
	return float64(k-1) / t.Sub(oldest).Seconds()
}
