package mqtt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// OutboxLimits bound the outbox. When an append would pass either limit the
// oldest events are dropped (and counted) until it fits: on a device that
// cannot reach its broker for long, the newest state matters most.
type OutboxLimits struct {
	MaxEvents int   `yaml:"max_events"`
	MaxBytes  int64 `yaml:"max_bytes"`
}

// DefaultOutboxLimits hold about a day of events at the default policy's
// heartbeat, in little space.
func DefaultOutboxLimits() OutboxLimits { return OutboxLimits{MaxEvents: 10000, MaxBytes: 16 << 20} }

// Validate names the first bad key.
func (l OutboxLimits) Validate() error {
	if l.MaxEvents < 1 {
		return fmt.Errorf("outbox.max_events: %d, need at least 1", l.MaxEvents)
	}
	if l.MaxBytes < 1024 {
		return fmt.Errorf("outbox.max_bytes: %d, need at least 1024", l.MaxBytes)
	}
	return nil
}

// OutboxEntry is one queued message and its sequence number.
type OutboxEntry struct {
	Seq     uint64
	Payload []byte
}

// Outbox is a durable FIFO of messages in a folder, one file per message:
//
//	00000000000000000042.msg   pending, written to a temporary name, synced,
//	                           renamed, and the folder synced, before Append returns
//	00000000000000000041.acked the newest removed message, kept (renamed, not
//	                           synced) only so the sequence survives an empty queue
//	*.tmp                      an append cut short; deleted on open
//
// Sequence numbers start at 1 and grow by one per append, across restarts.
// A removal is not synced: after a power cut a removed message may come
// back and be sent again (consumers drop repeats by seq); an appended one
// never goes missing. Safe for concurrent use.
type Outbox struct {
	dir    string
	limits OutboxLimits
	folder *os.File // for syncing the folder

	appendMu sync.Mutex // orders appends; held across the file write
	mu       sync.Mutex // guards the fields below
	pending  []OutboxEntry
	bytes    int64
	next     uint64 // seq of the next append
	acked    uint64 // seq of the .acked file, 0 if none
	dropped  uint64
	notify   chan struct{}
}

const (
	pendingExt = ".msg"
	ackedExt   = ".acked"
	tmpExt     = ".tmp"
)

func seqName(seq uint64, ext string) string { return fmt.Sprintf("%020d%s", seq, ext) }

// OpenOutbox opens (creating if needed) the outbox in dir and loads what an
// earlier process left pending, oldest first. If that is over the limits,
// the oldest are dropped.
func OpenOutbox(dir string, limits OutboxLimits) (*Outbox, error) {
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := &Outbox{dir: dir, limits: limits, next: 1, notify: make(chan struct{}, 1)}
	var ackedSeqs []uint64
	for _, de := range names {
		name := de.Name()
		ext := filepath.Ext(name)
		if ext == tmpExt {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("outbox: removing an unfinished append: %w", err)
			}
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, ext), 10, 64)
		if err != nil || seq == 0 || (ext != pendingExt && ext != ackedExt) {
			return nil, fmt.Errorf("outbox: unexpected file %s in %s", name, dir)
		}
		o.next = max(o.next, seq+1)
		if ext == ackedExt {
			ackedSeqs = append(ackedSeqs, seq)
			continue
		}
		payload, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		o.pending = append(o.pending, OutboxEntry{Seq: seq, Payload: payload})
		o.bytes += int64(len(payload))
	}
	sort.Slice(o.pending, func(i, j int) bool { return o.pending[i].Seq < o.pending[j].Seq })
	sort.Slice(ackedSeqs, func(i, j int) bool { return ackedSeqs[i] < ackedSeqs[j] })
	for i, seq := range ackedSeqs { // keep only the newest marker
		if i == len(ackedSeqs)-1 {
			o.acked = seq
		} else if err := os.Remove(filepath.Join(dir, seqName(seq, ackedExt))); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
	}
	if o.folder, err = os.Open(dir); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o.mu.Lock()
	err = o.dropOverLimits(0)
	o.mu.Unlock()
	if err != nil {
		o.folder.Close()
		return nil, err
	}
	return o, nil
}

// Append gives the next sequence number to encode, stores the message it
// returns durably, and returns the number. When the outbox is full the
// oldest messages are dropped to make room.
func (o *Outbox) Append(encode func(seq uint64) ([]byte, error)) (uint64, error) {
	o.appendMu.Lock()
	defer o.appendMu.Unlock()
	o.mu.Lock()
	seq := o.next
	o.mu.Unlock()
	payload, err := encode(seq)
	if err != nil {
		return 0, err
	}
	if int64(len(payload)) > o.limits.MaxBytes {
		return 0, fmt.Errorf("outbox: a %d-byte message exceeds outbox.max_bytes (%d)", len(payload), o.limits.MaxBytes)
	}
	if err := o.write(seq, payload); err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	o.mu.Lock()
	o.next = seq + 1
	o.pending = append(o.pending, OutboxEntry{Seq: seq, Payload: payload})
	o.bytes += int64(len(payload))
	err = o.dropOverLimits(1)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return seq, err
}

func (o *Outbox) write(seq uint64, payload []byte) error {
	tmp := filepath.Join(o.dir, seqName(seq, tmpExt))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(payload)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(o.dir, seqName(seq, pendingExt)))
	}
	if err == nil {
		err = o.folder.Sync()
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// dropOverLimits drops the oldest pending messages, sparing the newest
// keep, until the outbox is within its limits. o.mu is held.
func (o *Outbox) dropOverLimits(keep int) error {
	var errs []error
	for len(o.pending) > keep && (len(o.pending) > o.limits.MaxEvents || o.bytes > o.limits.MaxBytes) {
		e := o.pending[0]
		o.pending = o.pending[1:]
		o.bytes -= int64(len(e.Payload))
		o.dropped++
		if err := os.Remove(filepath.Join(o.dir, seqName(e.Seq, pendingExt))); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("outbox: dropping the oldest: %w", err)
	}
	return nil
}

// Next returns the oldest pending message with a sequence number above
// after (0: the oldest of all).
func (o *Outbox) Next(after uint64) (OutboxEntry, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := sort.Search(len(o.pending), func(i int) bool { return o.pending[i].Seq > after })
	if i == len(o.pending) {
		return OutboxEntry{}, false
	}
	return o.pending[i], true
}

// Remove deletes a delivered message. Removing one that is not pending
// (dropped meanwhile, or removed already) does nothing.
func (o *Outbox) Remove(seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := sort.Search(len(o.pending), func(i int) bool { return o.pending[i].Seq >= seq })
	if i == len(o.pending) || o.pending[i].Seq != seq {
		return nil
	}
	o.bytes -= int64(len(o.pending[i].Payload))
	o.pending = append(o.pending[:i], o.pending[i+1:]...)
	path := filepath.Join(o.dir, seqName(seq, pendingExt))
	if seq != o.next-1 {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		return nil
	}
	// The newest message: keep it as the marker of the sequence.
	if err := os.Rename(path, filepath.Join(o.dir, seqName(seq, ackedExt))); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if o.acked != 0 {
		if err := os.Remove(filepath.Join(o.dir, seqName(o.acked, ackedExt))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	o.acked = seq
	return nil
}

// Notify receives a value after appends (one value may stand for several).
func (o *Outbox) Notify() <-chan struct{} { return o.notify }

// Len, Bytes and Dropped report the pending count and size, and how many
// messages were dropped for room since the outbox was opened.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

func (o *Outbox) Bytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bytes
}

func (o *Outbox) Dropped() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}

// Close releases the folder; pending messages stay on disk for the next open.
func (o *Outbox) Close() error { return o.folder.Close() }
