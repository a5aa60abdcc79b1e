package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"
)

// Frame is one captured image.
type Frame struct {
	// Image is the decoded picture: *image.YCbCr from JPEG sources,
	// *image.RGBA from the test pattern, *BGR from OpenCV sources.
	Image image.Image
	// JPEG holds the encoded bytes when the source delivered JPEG (MJPEG
	// streams, .jpg files), so they can be served again without encoding.
	JPEG []byte
	// Label is what the source knows the frame shows (the test pattern's
	// colour name), or "".
	Label string
	// Seq numbers captured frames from 1, dropped ones included, so a gap
	// between two frames a consumer gets is what it missed.
	Seq uint64
	// Dropped counts the frames captured but replaced by newer ones since
	// the previous frame this source returned.
	Dropped uint64
	// Time is when the frame was captured: when its data arrived from a
	// live source, or when it was asked for from a paced one (files, test
	// pattern, video files).
	Time time.Time
	// Latency is the time from Time until the frame was ready (decoding
	// and copying).
	Latency time.Duration
}

// Source delivers the newest frame of a camera or camera-like input.
// Capture runs in its own goroutine: a slow consumer never builds a
// backlog; it gets the newest frame, and Frame.Dropped says how many it
// missed.
type Source interface {
	// Next returns the newest frame not yet returned, waiting for one if
	// needed. It returns io.EOF after the last frame of finite media
	// (Options.Once), ErrClosed after Close, or ctx's error.
	Next(ctx context.Context) (Frame, error)
	// Stats reports the capture state.
	Stats() Stats
	// Close stops capture and waits for its goroutine to end.
	Close() error
}

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("camera source closed")

// Stats is the visible state of a source.
type Stats struct {
	Connected  bool      `json:"connected"`
	Captured   uint64    `json:"captured"`   // frames captured (= last Seq)
	Delivered  uint64    `json:"delivered"`  // frames returned by Next
	Dropped    uint64    `json:"dropped"`    // frames replaced before a consumer took them
	Skipped    uint64    `json:"skipped"`    // unreadable frames passed over (bad files, corrupt parts)
	Reconnects uint64    `json:"reconnects"` // reopenings after a failure
	Loops      uint64    `json:"loops"`      // restarts of finite media at its end
	LastError  string    `json:"last_error,omitempty"`
	ErrorTime  time.Time `json:"error_time,omitzero"`
}

// Options tune a source. The zero value works.
type Options struct {
	// FPS caps the frame rate; 0 means as fast as the device delivers
	// (paced sources: as fast as they can be read).
	FPS float64
	// Once ends finite media (files, folders, video files) after one pass
	// instead of looping.
	Once bool
	// MinBackoff and MaxBackoff bound the wait before reopening a failed
	// device; the wait doubles after each failure (default 100ms to 10s).
	MinBackoff, MaxBackoff time.Duration
	// StallTimeout gives up on a network stream that sends nothing for
	// this long (default 10s).
	StallTimeout time.Duration
	// Width and Height size the test pattern (default 640x480) and ask a
	// V4L2 camera for that capture size.
	Width, Height int
}

func (o Options) withDefaults() Options {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(10*time.Second, o.MinBackoff)
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 10 * time.Second
	}
	return o
}

// Device is what a Stream drives: one camera-like input read
// synchronously, from a single goroutine.
type Device interface {
	// Open connects, or reconnects after an error, or restarts finite
	// media after io.EOF.
	Open(ctx context.Context) error
	// Grab waits for the next frame and reads it without decoding. It
	// returns io.EOF at the end of finite media and a SkipError for a
	// frame that cannot be read while the device remains usable; any other
	// error makes the Stream close and reopen the device.
	Grab(ctx context.Context) error
	// Decode returns the frame last grabbed, with Image, JPEG and Label
	// set. A SkipError passes over the frame.
	Decode() (Frame, error)
	// Live reports whether frames arrive in real time whether or not they
	// are read (cameras, streams): those are grabbed continuously and only
	// decoded when the frame rate cap allows. Other devices are read only
	// when a frame is due.
	Live() bool
	Close() error
}

// SkipError marks an unreadable frame that does not take the device down.
type SkipError struct{ Err error }

func (e *SkipError) Error() string { return "frame skipped: " + e.Err.Error() }
func (e *SkipError) Unwrap() error { return e.Err }

// Stream runs a Device in its own goroutine and implements Source.
type Stream struct {
	dev    Device
	opts   Options
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu       sync.Mutex
	latest   Frame
	fresh    bool          // latest not yet returned by Next
	lastSeq  uint64        // Seq of the frame Next returned last
	notify   chan struct{} // closed and replaced when latest or end changes
	end      error         // set when capture has stopped
	closeErr error
	stats    Stats
}

// NewStream starts capturing from dev.
func NewStream(dev Device, opts Options) *Stream {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stream{dev: dev, opts: opts.withDefaults(), cancel: cancel,
		done: make(chan struct{}), notify: make(chan struct{})}
	go s.run(ctx)
	return s
}

// Next implements Source.
func (s *Stream) Next(ctx context.Context) (Frame, error) {
	for {
		s.mu.Lock()
		if s.fresh {
			f := s.latest
			f.Dropped = f.Seq - s.lastSeq - 1
			s.lastSeq = f.Seq
			s.stats.Delivered++
			s.fresh = false
			s.mu.Unlock()
			return f, nil
		}
		if s.end != nil {
			err := s.end
			s.mu.Unlock()
			return Frame{}, err
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}

// Stats implements Source.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	// Every captured frame was delivered, dropped, or waits in the slot.
	st.Dropped = st.Captured - st.Delivered
	if s.fresh {
		st.Dropped--
	}
	return st
}

// Close implements Source. It waits for the capture goroutine, which ends
// as soon as the device's current read returns.
func (s *Stream) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		s.mu.Lock()
		s.end, s.fresh = ErrClosed, false
		s.mu.Unlock()
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeErr
}

func (s *Stream) run(ctx context.Context) {
	defer close(s.done)
	backoff := s.opts.MinBackoff
	failed := false
	for ctx.Err() == nil {
		if failed {
			s.update(func(st *Stats) { st.Reconnects++ })
		}
		if err := s.dev.Open(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			s.fail(fmt.Errorf("open: %w", err))
			failed = true
			if !sleep(ctx, backoff) {
				break
			}
			backoff = min(2*backoff, s.opts.MaxBackoff)
			continue
		}
		s.update(func(st *Stats) { st.Connected = true })
		n, err := s.pump(ctx)
		cerr := s.dev.Close()
		s.update(func(st *Stats) { st.Connected = false })
		if ctx.Err() != nil {
			s.mu.Lock()
			s.closeErr = cerr
			s.mu.Unlock()
			break
		}
		if n > 0 {
			backoff = s.opts.MinBackoff
		}
		if errors.Is(err, io.EOF) && n > 0 {
			if s.opts.Once {
				s.finish(io.EOF)
				return
			}
			s.update(func(st *Stats) { st.Loops++ })
			failed = false
			continue
		}
		if errors.Is(err, io.EOF) {
			err = errors.New("no readable frame")
		}
		s.fail(err)
		failed = true
		if !sleep(ctx, backoff) {
			break
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
	s.finish(ErrClosed)
}

// pump reads frames until the device fails or ctx ends, and returns how
// many it published.
func (s *Stream) pump(ctx context.Context) (int, error) {
	var interval time.Duration
	if s.opts.FPS > 0 {
		interval = time.Duration(float64(time.Second) / s.opts.FPS)
	}
	live := s.dev.Live()
	due := time.Now()
	n := 0
	for ctx.Err() == nil {
		if !live && !sleepUntil(ctx, due) {
			break
		}
		start := time.Now()
		if err := s.dev.Grab(ctx); err != nil {
			if s.skip(err) {
				continue
			}
			return n, err
		}
		grabbed := time.Now()
		if live && grabbed.Before(due) {
			continue // over the frame rate cap: drop it undecoded
		}
		f, err := s.dev.Decode()
		if err != nil {
			if s.skip(err) {
				continue
			}
			return n, err
		}
		if live {
			f.Time = grabbed
		} else {
			f.Time = start
		}
		f.Latency = time.Since(f.Time)
		s.publish(f)
		n++
		// Hold the cap without bursting to catch up after a slow frame.
		if due = due.Add(interval); due.Before(f.Time) {
			due = f.Time
		}
	}
	return n, ctx.Err()
}

func (s *Stream) skip(err error) bool {
	var se *SkipError
	if !errors.As(err, &se) {
		return false
	}
	s.update(func(st *Stats) {
		st.Skipped++
		st.LastError, st.ErrorTime = err.Error(), time.Now()
	})
	return true
}

func (s *Stream) publish(f Frame) {
	s.mu.Lock()
	s.stats.Captured++
	f.Seq = s.stats.Captured
	s.latest, s.fresh = f, true
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

func (s *Stream) fail(err error) {
	s.update(func(st *Stats) { st.LastError, st.ErrorTime = err.Error(), time.Now() })
}

func (s *Stream) finish(err error) {
	s.mu.Lock()
	s.end = err
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

func (s *Stream) update(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	if d := time.Until(t); d > 0 {
		return sleep(ctx, d)
	}
	return ctx.Err() == nil
}
