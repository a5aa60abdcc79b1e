package mqtt

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// BrokerConfig configures the embedded broker.
type BrokerConfig struct {
	// Addr is the TCP address to listen on, like "127.0.0.1:1883" or
	// ":8883" (port 0 picks a free port; see Broker.Addr).
	Addr string
	// CertFile and KeyFile turn on TLS; ClientCAFile additionally requires
	// clients to present a certificate signed by that CA (mutual TLS).
	CertFile, KeyFile, ClientCAFile string
	// Users maps usernames to passwords; empty allows anonymous clients.
	Users map[string]string
	// Logger receives the broker's log (default: warnings and errors to stderr).
	Logger *slog.Logger
}

// Broker is an MQTT 3.1.1/5 broker in this process (mochi-mqtt), for a
// device without one and for `edgeclass broker`. It keeps no state on disk.
type Broker struct {
	server *mochi.Server
	ln     *listeners.TCP
	tls    bool
}

// StartBroker listens on cfg.Addr and serves in the background.
func StartBroker(cfg BrokerConfig) (*Broker, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	var tlsCfg *tls.Config
	switch {
	case cfg.CertFile != "" || cfg.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker: TLS certificate: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if cfg.ClientCAFile != "" {
			pem, err := os.ReadFile(cfg.ClientCAFile)
			if err != nil {
				return nil, fmt.Errorf("broker: client CA: %w", err)
			}
			tlsCfg.ClientCAs = x509.NewCertPool()
			if !tlsCfg.ClientCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("broker: client CA: no PEM certificate in %s", cfg.ClientCAFile)
			}
			tlsCfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	case cfg.ClientCAFile != "":
		return nil, fmt.Errorf("broker: a client CA needs TLS (a certificate and key)")
	}
	server := mochi.New(&mochi.Options{Logger: log, InlineClient: false})
	if err := server.AddHook(&authHook{users: cfg.Users}, nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	ln := listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Addr, TLSConfig: tlsCfg})
	if err := server.AddListener(ln); err != nil {
		return nil, fmt.Errorf("broker: listening on %s: %w", cfg.Addr, err)
	}
	if err := server.Serve(); err != nil {
		ln.Close(func(string) {})
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{server: server, ln: ln, tls: tlsCfg != nil}, nil
}

// Addr is the address the broker listens on, with the real port.
func (b *Broker) Addr() string { return b.ln.Address() }

// URL is the broker's URL for a client on this machine.
func (b *Broker) URL() string {
	scheme := "tcp"
	if b.tls {
		scheme = "ssl"
	}
	return scheme + "://" + b.Addr()
}

// Close disconnects every client and stops listening.
func (b *Broker) Close() error { return b.server.Close() }

// authHook lets in everyone when users is empty, else the users with the
// right password; every client may use every topic.
type authHook struct {
	mochi.HookBase
	users map[string]string
}

func (h *authHook) ID() string { return "edgeclass-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *authHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	if len(h.users) == 0 {
		return true
	}
	want, ok := h.users[string(pk.Connect.Username)]
	return ok && subtle.ConstantTimeCompare([]byte(want), pk.Connect.Password) == 1
}

func (h *authHook) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// ReadUsers reads a users file for BrokerConfig.Users: one "name:password"
// a line; blank lines and lines starting with # are skipped.
func ReadUsers(r io.Reader) (map[string]string, error) {
	users := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, pass, ok := strings.Cut(line, ":")
		if !ok || name == "" || pass == "" {
			return nil, fmt.Errorf("users line %d: want name:password", n)
		}
		if _, dup := users[name]; dup {
			return nil, fmt.Errorf("users line %d: %q appears twice", n, name)
		}
		users[name] = pass
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	return users, nil
}

// ReadUsersFile is ReadUsers on a file.
func ReadUsersFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	users, err := ReadUsers(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return users, nil
}
