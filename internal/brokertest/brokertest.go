// Package brokertest starts Debian's mosquitto for tests, on a free
// loopback port, with optional TLS and passwords; tests can stop and start
// it again on the same address.
package brokertest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// Options configure a test broker: TLS files and users.
type Options struct {
	CertFile, KeyFile, ClientCA string
	Users                       map[string]string
}

// Mosquitto is a running mosquitto.
type Mosquitto struct {
	t       testing.TB
	bin     string
	conf    string
	addr    string
	url     string
	mu      sync.Mutex
	cmd     *exec.Cmd
	waitErr chan error
	log     *SyncBuffer
}

// StartMosquitto starts mosquitto (failing in CI, skipping elsewhere when
// it is not installed) and stops it when the test ends.
func StartMosquitto(t testing.TB, opts Options) *Mosquitto {
	bin := testenv.Program(t, "mosquitto")
	dir := t.TempDir()
	port := FreePort(t)
	m := &Mosquitto{t: t, bin: bin, addr: "127.0.0.1:" + port, url: "tcp://127.0.0.1:" + port, log: &SyncBuffer{}}
	conf := []string{"listener " + port + " 127.0.0.1", "persistence false", "log_dest stderr", "log_type error", "log_type warning"}
	if os.Getuid() == 0 {
		conf = append(conf, "user root") // else mosquitto drops to a user that cannot read the test's files
	}
	if opts.CertFile != "" {
		m.url = "ssl://127.0.0.1:" + port
		conf = append(conf, "certfile "+opts.CertFile, "keyfile "+opts.KeyFile)
		if opts.ClientCA != "" {
			conf = append(conf, "cafile "+opts.ClientCA, "require_certificate true")
		}
	}
	if len(opts.Users) > 0 {
		passwd := testenv.Program(t, "mosquitto_passwd")
		file := filepath.Join(dir, "passwords")
		for name, pass := range opts.Users {
			args := []string{"-b", file, name, pass}
			if _, err := os.Stat(file); err != nil {
				args = append([]string{"-c"}, args...)
			}
			if out, err := exec.Command(passwd, args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
			}
		}
		conf = append(conf, "allow_anonymous false", "password_file "+file)
	} else {
		conf = append(conf, "allow_anonymous true")
	}
	m.conf = filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(m.conf, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", m.log.String())
		}
	})
	return m
}

// URL is the broker's URL (tcp:// or ssl://).
func (m *Mosquitto) URL() string { return m.url }

// Start starts the broker (again) and waits until it listens.
func (m *Mosquitto) Start() {
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	m.mu.Lock()
	m.cmd, m.waitErr = cmd, waitErr
	m.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", m.addr); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-waitErr:
			m.t.Fatalf("mosquitto exited: %v\n%s", err, m.log.String())
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto does not listen on %s\n%s", m.addr, m.log.String())
		}
	}
}

// Stop stops the broker.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.waitErr:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-m.waitErr
	}
	m.cmd = nil
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
