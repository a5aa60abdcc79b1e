package sdnotify

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// listen opens the socket a service manager would and returns a function
// that reads the next datagram.
func listen(t *testing.T, name string) func() string {
	next, _ := listenPoll(t, name)
	return next
}

// listenPoll also returns poll, which waits at most d and returns "" when
// nothing arrived.
func listenPoll(t *testing.T, name string) (next func() string, poll func(d time.Duration) string) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	poll = func(d time.Duration) string {
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(d))
		n, err := conn.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	next = func() string {
		t.Helper()
		s := poll(5 * time.Second)
		if s == "" {
			t.Fatal("no notification within 5s")
		}
		return s
	}
	return next, poll
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestMessages(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	next := listen(t, sock)
	n := fromLookup(env(map[string]string{"NOTIFY_SOCKET": sock}), 1)
	if !n.Enabled() {
		t.Fatal("not enabled with NOTIFY_SOCKET set")
	}
	steps := []struct {
		send func() error
		want string
	}{
		{n.Ready, "READY=1"},
		{func() error { return n.Status("classifying\nat 10 fps") }, "STATUS=classifying at 10 fps"},
		{n.Watchdog, "WATCHDOG=1"},
		{n.Stopping, "STOPPING=1"},
		{func() error { return n.Send("READY=1", "STATUS=up") }, "READY=1\nSTATUS=up"},
	}
	for _, s := range steps {
		if err := s.send(); err != nil {
			t.Fatal(err)
		}
		if got := next(); got != s.want {
			t.Errorf("got %q, want %q", got, s.want)
		}
	}
}

func TestAbstractSocket(t *testing.T) {
	name := "@edgeclass-sdnotify-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	next := listen(t, name)
	n := fromLookup(env(map[string]string{"NOTIFY_SOCKET": name}), 1)
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("got %q", got)
	}
}

func TestDisabled(t *testing.T) {
	for _, n := range []*Notifier{nil, {}, fromLookup(env(nil), 1), fromLookup(env(map[string]string{"NOTIFY_SOCKET": "relative"}), 1)} {
		if n.Enabled() || n.Ready() != nil || n.WatchdogInterval() != 0 {
			t.Errorf("%+v: should be a silent no-op", n)
		}
		n.RunWatchdog(context.Background(), func() error { return nil }) // returns at once
	}
	// A socket nobody listens on is an error the caller can log.
	n := fromLookup(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "absent")}), 1)
	if err := n.Ready(); err == nil {
		t.Error("no error for a missing socket")
	}
}

func TestWatchdogInterval(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	cases := []struct {
		env  map[string]string
		want time.Duration
	}{
		{map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "30000000"}, 15 * time.Second},
		{map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 15 * time.Second},
		{map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "43"}, 0}, // another process's
		{map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "junk"}, 0},
		{map[string]string{"NOTIFY_SOCKET": sock}, 0},
		{map[string]string{"WATCHDOG_USEC": "30000000"}, 0}, // nobody to tell
	}
	for _, c := range cases {
		if got := fromLookup(env(c.env), 42).WatchdogInterval(); got != c.want {
			t.Errorf("%v: interval %v, want %v", c.env, got, c.want)
		}
	}
}

func TestRunWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	next, poll := listenPoll(t, sock)
	n := fromLookup(env(map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "40000"}), 1) // ping every 20ms
	var sick atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		n.RunWatchdog(ctx, func() error {
			if sick.Load() {
				return errors.New("camera stalled")
			}
			return nil
		})
		close(done)
	}()
	for i := 0; i < 3; i++ {
		if got := next(); got != "WATCHDOG=1" {
			t.Fatalf("ping %d: got %q", i, got)
		}
	}
	sick.Store(true)
	// A ping already in flight may arrive; then the status, then silence.
	for {
		got := next()
		if got == "WATCHDOG=1" {
			continue
		}
		if got != "STATUS=unhealthy: camera stalled" {
			t.Fatalf("got %q, want the unhealthy status", got)
		}
		break
	}
	if got := poll(150 * time.Millisecond); got != "" {
		t.Fatalf("while unhealthy (7 intervals): got %q, want silence", got)
	}
	sick.Store(false)
	if got := next(); got != "WATCHDOG=1" {
		t.Fatalf("after recovery: got %q", got)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog did not return after cancel")
	}
}
