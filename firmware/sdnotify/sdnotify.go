// Package sdnotify tells systemd how a Type=notify service is doing: that it
// is ready (READY=1), still alive (WATCHDOG=1), stopping, and a one-line
// status for `systemctl status`. Messages are datagrams to the unix socket
// named by $NOTIFY_SOCKET; without it (not started by systemd) every call is
// a no-op, so callers need no special case.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends notifications to the service manager. The zero value and
// nil are valid and do nothing.
type Notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // 0: no watchdog configured for this process
}

// FromEnv reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. It returns
// a Notifier that does nothing when NOTIFY_SOCKET is unset.
func FromEnv() *Notifier {
	return fromLookup(os.Getenv, os.Getpid())
}

func fromLookup(getenv func(string) string, pid int) *Notifier {
	n := &Notifier{}
	// Go maps a leading '@' to the abstract namespace, which is what
	// systemd means by it too.
	if s := getenv("NOTIFY_SOCKET"); s != "" && (s[0] == '/' || s[0] == '@') {
		n.addr = &net.UnixAddr{Name: s, Net: "unixgram"}
	}
	usec, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return n
	}
	// WATCHDOG_PID, when set, names the one process the watchdog is for.
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return n
	}
	n.watchdog = time.Duration(usec) * time.Microsecond
	return n
}

// Enabled reports whether a service manager is listening.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Send sends raw KEY=VALUE lines; most callers use the helpers below.
func (n *Notifier) Send(lines ...string) error {
	if !n.Enabled() {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(lines, "\n"))); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// Ready says start-up is complete: systemd then considers the unit started.
func (n *Notifier) Ready() error { return n.Send("READY=1") }

// Stopping says the service is shutting down.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1") }

// Status sets the one-line status shown by `systemctl status`.
func (n *Notifier) Status(s string) error {
	return n.Send("STATUS=" + strings.ReplaceAll(s, "\n", " "))
}

// Watchdog is one keep-alive ping.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// WatchdogInterval is how often to ping: half of the unit's WatchdogSec,
// as systemd recommends, or 0 when no watchdog is configured.
func (n *Notifier) WatchdogInterval() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog / 2
}

// RunWatchdog pings at WatchdogInterval until ctx ends, but only while
// healthy returns nil: a stuck or failing service then stops pinging and
// systemd restarts it. The first failure after a healthy spell is also
// reported as the status line. It returns at once when there is no watchdog.
func (n *Notifier) RunWatchdog(ctx context.Context, healthy func() error) {
	every := n.WatchdogInterval()
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	wasHealthy := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := healthy(); err != nil {
			if wasHealthy {
				_ = n.Status("unhealthy: " + err.Error())
			}
			wasHealthy = false
			continue
		}
		wasHealthy = true
		_ = n.Watchdog()
	}
}
