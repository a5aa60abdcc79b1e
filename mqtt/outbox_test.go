package mqtt

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func appendN(t *testing.T, o *Outbox, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := 0; i < n; i++ {
		seq, err := o.Append(func(seq uint64) ([]byte, error) { return []byte(fmt.Sprintf("msg %d", seq)), nil })
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func pendingSeqs(o *Outbox) []uint64 {
	var seqs []uint64
	for e, ok := o.Next(0); ok; e, ok = o.Next(e.Seq) {
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

func TestOutboxOrderAndReopen(t *testing.T) {
	dir := t.TempDir()
	o, err := OpenOutbox(dir, DefaultOutboxLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got := appendN(t, o, 5); fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Fatalf("seqs %v", got)
	}
	// Acknowledgements out of order.
	for _, seq := range []uint64{2, 1, 4} {
		if err := o.Remove(seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Remove(4); err != nil { // twice: no-op
		t.Fatal(err)
	}
	o.Close()

	o, err = OpenOutbox(dir, DefaultOutboxLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(pendingSeqs(o)); got != "[3 5]" {
		t.Fatalf("after reopen pending %s, want [3 5]", got)
	}
	e, _ := o.Next(3)
	if string(e.Payload) != "msg 5" {
		t.Fatalf("payload %q", e.Payload)
	}
	// Empty the outbox: the sequence must still continue after a reopen.
	o.Remove(5)
	o.Remove(3)
	o.Close()
	o, err = OpenOutbox(dir, DefaultOutboxLimits())
	if err != nil {
		t.Fatal(err)
	}
	if o.Len() != 0 {
		t.Fatalf("%d pending after emptying", o.Len())
	}
	if got := appendN(t, o, 1); got[0] != 6 {
		t.Fatalf("seq after an empty reopen %d, want 6", got[0])
	}
	o.Close()
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 2 { // 6 pending, 5 the marker
		t.Fatalf("files %v", names)
	}
}

func TestOutboxDropsOldestWhenFull(t *testing.T) {
	dir := t.TempDir()
	o, err := OpenOutbox(dir, OutboxLimits{MaxEvents: 3, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 5)
	if got := fmt.Sprint(pendingSeqs(o)); got != "[3 4 5]" || o.Dropped() != 2 {
		t.Fatalf("pending %s dropped %d, want [3 4 5] and 2", got, o.Dropped())
	}
	o.Close()
	// A smaller byte limit on reopen drops more: each message is 5 bytes.
	o, err = OpenOutbox(dir, OutboxLimits{MaxEvents: 3, MaxBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	big := make([]byte, 1020)
	if _, err := o.Append(func(uint64) ([]byte, error) { return big, nil }); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(pendingSeqs(o)); got != "[6]" || o.Dropped() != 3 || o.Bytes() != 1020 {
		t.Fatalf("pending %s dropped %d bytes %d", got, o.Dropped(), o.Bytes())
	}
	if _, err := o.Append(func(uint64) ([]byte, error) { return make([]byte, 2000), nil }); err == nil || !strings.Contains(err.Error(), "max_bytes") {
		t.Fatalf("an oversized message: %v", err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.msg"))
	if len(names) != 1 {
		t.Fatalf("files on disk %v, want only seq 6", names)
	}
}

func TestOutboxOpenCleansAndRefuses(t *testing.T) {
	dir := t.TempDir()
	o, _ := OpenOutbox(dir, DefaultOutboxLimits())
	appendN(t, o, 2)
	o.Close()
	// An append cut short by a crash leaves a .tmp: it was never accepted.
	os.WriteFile(filepath.Join(dir, seqName(3, tmpExt)), []byte("half"), 0o600)
	// Stale markers from removals whose unlink was lost.
	os.WriteFile(filepath.Join(dir, seqName(1, ackedExt)), nil, 0o600)
	o, err := OpenOutbox(dir, DefaultOutboxLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(pendingSeqs(o)); got != "[1 2]" {
		t.Fatalf("pending %s", got)
	}
	if got := appendN(t, o, 1); got[0] != 3 {
		t.Fatalf("seq %d, want 3", got[0])
	}
	o.Close()
	if _, err := os.Stat(filepath.Join(dir, seqName(3, tmpExt))); !os.IsNotExist(err) {
		t.Fatalf("the .tmp file is still there: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600)
	if _, err := OpenOutbox(dir, DefaultOutboxLimits()); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("a foreign file: %v", err)
	}
	if _, err := OpenOutbox(t.TempDir(), OutboxLimits{MaxEvents: 0, MaxBytes: 4096}); err == nil || !strings.Contains(err.Error(), "outbox.max_events") {
		t.Fatalf("bad limits: %v", err)
	}
}
