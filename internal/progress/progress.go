// Package progress draws progress bars for long jobs on the command line.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar draws a progress bar with rate and ETA on one line of a terminal
// (redrawn at most 10 times a second), or, when the writer is not a
// terminal (a log file), prints a line every 30 seconds and at the end.
type Bar struct {
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

// New starts a bar for total units of work on w; a nil w draws nothing.
func New(w io.Writer, label string, total int) *Bar {
	p := &Bar{w: w, label: label, total: total, start: time.Now()}
	p.drawn = p.start
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// Add records n more units of work done, with a note (e.g. the running
// loss) shown after the bar.
func (p *Bar) Add(n int, note string) {
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
		fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(now, false))
	case !p.tty && now.Sub(p.drawn) >= 30*time.Second && p.done < p.total:
		p.drawn = now
		fmt.Fprintln(p.w, p.line(now, false))
	}
}

// Finish ends the bar's line with a final note.
func (p *Bar) Finish(note string) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if note != "" {
		p.note = note
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K\n", p.line(time.Now(), true))
	} else {
		fmt.Fprintln(p.w, p.line(time.Now(), true))
	}
}

// line draws the bar; a finished one says how long it took even when
// some work was skipped (done < total).
func (p *Bar) line(now time.Time, finished bool) string {
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
	if finished || p.done >= p.total {
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
