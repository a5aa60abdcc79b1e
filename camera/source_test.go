package camera

import (
	"context"
	"errors"
	"image"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDevice is a controllable device: it delivers a frame every period
// (live) or on demand, and fails Open while failOpens > 0 and Grab when
// failGrab is set.
type fakeDevice struct {
	live   bool
	period time.Duration

	mu        sync.Mutex
	failOpens int
	failGrabs int
	opens     []time.Time
	open      bool

	grabs, decodes atomic.Int64
}

func (d *fakeDevice) Open(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opens = append(d.opens, time.Now())
	if d.failOpens > 0 {
		d.failOpens--
		return errors.New("camera unplugged")
	}
	d.open = true
	return nil
}

func (d *fakeDevice) Grab(ctx context.Context) error {
	if d.period > 0 && !sleep(ctx, d.period) {
		return ctx.Err()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failGrabs > 0 {
		d.failGrabs--
		return errors.New("cable pulled")
	}
	d.grabs.Add(1)
	return nil
}

func (d *fakeDevice) Decode() (Frame, error) {
	d.decodes.Add(1)
	return Frame{Image: image.NewGray(image.Rect(0, 0, 2, 2))}, nil
}

func (d *fakeDevice) Live() bool { return d.live }

func (d *fakeDevice) Close() error {
	d.mu.Lock()
	d.open = false
	d.mu.Unlock()
	return nil
}

func (d *fakeDevice) set(f func(d *fakeDevice)) {
	d.mu.Lock()
	f(d)
	d.mu.Unlock()
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStreamSlowConsumerGetsNewestFrame(t *testing.T) {
	checkLeaks(t)
	dev := &fakeDevice{live: true, period: time.Millisecond}
	s := NewStream(dev, Options{})
	defer s.Close()
	ctx := context.Background()

	var last uint64
	var dropped uint64
	for i := 0; i < 5; i++ {
		time.Sleep(30 * time.Millisecond) // a slow model
		captured := s.Stats().Captured
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// No backlog: the frame is at least as new as any captured before
		// the call.
		if f.Seq < captured {
			t.Errorf("got frame %d, but %d were captured before Next", f.Seq, captured)
		}
		if f.Seq <= last {
			t.Errorf("frame %d after frame %d", f.Seq, last)
		}
		if f.Dropped != f.Seq-last-1 {
			t.Errorf("frame %d after %d says %d dropped", f.Seq, last, f.Dropped)
		}
		if f.Time.IsZero() || f.Latency < 0 {
			t.Errorf("frame %d has time %v, latency %v", f.Seq, f.Time, f.Latency)
		}
		last = f.Seq
		dropped += f.Dropped
	}
	if dropped == 0 {
		t.Error("a consumer 30x slower than the camera dropped nothing")
	}
	st := s.Stats()
	if st.Delivered != 5 || !st.Connected {
		t.Errorf("stats %+v: want 5 delivered, connected", st)
	}
	if st.Dropped < dropped || st.Captured < st.Delivered+st.Dropped {
		t.Errorf("stats %+v do not add up (%d dropped seen by the consumer)", st, dropped)
	}
}

func TestStreamNextWaitsForFreshFrame(t *testing.T) {
	checkLeaks(t)
	dev := &fakeDevice{live: true, period: 150 * time.Millisecond}
	s := NewStream(dev, Options{})
	defer s.Close()
	a, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b.Seq != a.Seq+1 || b.Dropped != 0 {
		t.Errorf("second Next gave frame %d (dropped %d) after %d, want the next one", b.Seq, b.Dropped, a.Seq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next with no fresh frame before the deadline: %v", err)
	}
}

func TestStreamFPSCap(t *testing.T) {
	checkLeaks(t)
	for _, live := range []bool{false, true} {
		dev := &fakeDevice{live: live, period: time.Millisecond}
		s := NewStream(dev, Options{FPS: 20})
		time.Sleep(time.Second)
		s.Close()
		got := dev.decodes.Load()
		// 20 fps for 1 s, with slack for a loaded machine.
		if got < 8 || got > 22 {
			t.Errorf("live=%v: decoded %d frames in 1 s at a 20 fps cap", live, got)
		}
		// A 1 ms camera is grabbed far more often than 20 times a second
		// (how much more depends on the machine's load): the surplus must
		// be drained without decoding.
		if live && dev.grabs.Load() <= got+5 {
			t.Errorf("live device: grabbed %d, decoded %d: frames over the cap must be drained undecoded", dev.grabs.Load(), got)
		}
		if !live && dev.grabs.Load() != got {
			t.Errorf("paced device: grabbed %d, decoded %d: it must be read only when a frame is due", dev.grabs.Load(), got)
		}
	}
}

func TestStreamReconnectBackoff(t *testing.T) {
	checkLeaks(t)
	dev := &fakeDevice{live: true, period: time.Millisecond, failOpens: 7}
	s := NewStream(dev, Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	defer s.Close()
	if _, err := s.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Reconnects != 7 || !st.Connected || st.LastError != "open: camera unplugged" {
		t.Errorf("after 7 failed opens: %+v", st)
	}
	dev.mu.Lock()
	opens := append([]time.Time(nil), dev.opens...)
	dev.mu.Unlock()
	// Waits 10, 20, 40 ms, doubling, then capped at 40 (uncapped, the
	// last would be 640 ms). Upper bounds leave room for a loaded machine.
	for i, want := range []time.Duration{10, 20, 40, 40, 40, 40, 40} {
		want *= time.Millisecond
		if gap := opens[i+1].Sub(opens[i]); gap < want || gap > 4*want+250*time.Millisecond {
			t.Errorf("wait before open %d: %v, want about %v", i+2, gap, want)
		}
	}

	// An outage while streaming: frames stop, the state says so, and
	// capture resumes by itself.
	before := s.Stats().Captured
	dev.set(func(d *fakeDevice) { d.failGrabs, d.failOpens = 1, 2 })
	waitFor(t, "the outage to show", func() bool {
		st := s.Stats()
		return !st.Connected && st.LastError == "open: camera unplugged"
	})
	waitFor(t, "capture to resume", func() bool { return s.Stats().Captured > before+2 })
	if st := s.Stats(); st.Reconnects != 10 || !st.Connected {
		t.Errorf("after the outage: %+v, want 10 reconnects (3 more: 1 grab failure + 2 open failures) and connected", st)
	}
}

func TestStreamClose(t *testing.T) {
	checkLeaks(t)
	dev := &fakeDevice{live: true, period: time.Hour} // never delivers
	s := NewStream(dev, Options{})
	errc := make(chan error)
	go func() {
		_, err := s.Next(context.Background())
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Next blocked during Close returned %v, want ErrClosed", err)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if dev.open {
		t.Error("device still open after Close")
	}
}

func TestStreamOnceEndsWithEOF(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	writeTestImages(t, dir, 3)
	s, err := Open("dir:"+dir, Options{Once: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var last Frame
	for {
		f, err := s.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = f
	}
	if last.Seq != 3 {
		t.Errorf("last frame of 3 files has Seq %d", last.Seq)
	}
	if st := s.Stats(); st.Captured != 3 || st.Loops != 0 {
		t.Errorf("stats after one pass: %+v", st)
	}
}
