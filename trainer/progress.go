package trainer

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws a progress bar with rate and ETA on one line of a terminal
// (redrawn at most 10 times a second), or, when the writer is not a
// terminal (a log file), prints a line every 30 seconds and at the end.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	label string
	total int
	done  int
	note  string
	start time.Time
	drawn time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	p := &progress{w: w, label: label, total: total, start: time.Now()}
	p.drawn = p.start
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// add records n more units of work done, with a note (e.g. the running
// loss) shown after the bar.
func (p *progress) add(n int, note string) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if note != "" {
		p.note = note
	}
	now := time.Now()
	switch {
	case p.tty && (now.Sub(p.drawn) >= 100*time.Millisecond || p.done >= p.total):
		p.drawn = now
		fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(now))
	case !p.tty && now.Sub(p.drawn) >= 30*time.Second && p.done < p.total:
		p.drawn = now
		fmt.Fprintln(p.w, p.line(now))
	}
}

// finish ends the bar's line with a final note.
func (p *progress) finish(note string) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if note != "" {
		p.note = note
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K\n", p.line(time.Now()))
	} else {
		fmt.Fprintln(p.w, p.line(time.Now()))
	}
}

func (p *progress) line(now time.Time) string {
	const width = 24
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	fill := int(frac * width)
	bar := strings.Repeat("=", fill) + strings.Repeat(".", width-fill)
	el := now.Sub(p.start)
	eta := "--"
	rate := 0.0
	if p.done > 0 {
		rate = float64(p.done) / el.Seconds()
		eta = (time.Duration(float64(el) / frac * (1 - frac))).Round(time.Second).String()
	}
	if p.done >= p.total {
		eta = "done in " + el.Round(100*time.Millisecond).String()
	} else {
		eta = "ETA " + eta
	}
	s := fmt.Sprintf("%-14s [%s] %d/%d %3.0f%% %6.1f/s %s", p.label, bar, p.done, p.total, 100*frac, rate, eta)
	if p.note != "" {
		s += "  " + p.note
	}
	return s
}

// forEach calls fn(w, i) for i in [0, n) on the given number of
// goroutines (w numbers the goroutine, for per-worker state) and returns when
// all calls are done, or ctx's error once it is cancelled (calls in flight
// finish; no new ones start).
func forEach(ctx context.Context, n, workers int, fn func(w, i int)) error {
	workers = max(1, min(workers, n))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(w, i)
			}
		}(w)
	}
	wg.Wait()
	return ctx.Err()
}
