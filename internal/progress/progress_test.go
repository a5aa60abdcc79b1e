package progress

import (
	"bytes"
	"strings"
	"testing"
)

// In a log (not a terminal) the bar writes whole lines, no carriage
// returns, and its last line says it is done.
func TestLogLines(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "work", 4)
	for range 4 {
		b.Add(1, "")
	}
	b.Finish("loss 0.5")
	out := buf.String()
	if strings.ContainsAny(out, "\r\x1b") || strings.Count(out, "\n") != 1 {
		t.Fatalf("log output %q: want one line without terminal controls", out)
	}
	for _, want := range []string{"work", "4/4", "100%", "done in", "loss 0.5"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output %q lacks %q", out, want)
		}
	}
	// A bar finished early (work skipped) still says it is done.
	buf.Reset()
	b = New(&buf, "push", 200)
	b.Add(100, "")
	b.Finish("")
	if out := buf.String(); !strings.Contains(out, "done in") || strings.Contains(out, "ETA") {
		t.Errorf("bar finished at 100/200: %q, want it done", out)
	}
	New(nil, "quiet", 1).Add(1, "") // a nil writer draws nothing
}
