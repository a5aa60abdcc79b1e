package mqtt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
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

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// brokerOpts configure a test broker: TLS files and users.
type brokerOpts struct {
	certFile, keyFile, clientCA string
	users                       map[string]string
}

// testBroker is a real broker that a test can stop and start again on the
// same address.
type testBroker interface {
	URL() string
	Stop()
	Start()
}

// eachBroker runs f as a parallel subtest against the embedded broker and
// against Debian's mosquitto.
func eachBroker(t *testing.T, opts brokerOpts, f func(t *testing.T, b testBroker)) {
	t.Run("mochi", func(t *testing.T) {
		t.Parallel()
		f(t, startMochi(t, opts))
	})
	t.Run("mosquitto", func(t *testing.T) {
		t.Parallel()
		f(t, startMosquitto(t, opts))
	})
}

type mochiBroker struct {
	t    testing.TB
	cfg  BrokerConfig
	url  string
	mu   sync.Mutex
	live *Broker
}

func startMochi(t testing.TB, opts brokerOpts) *mochiBroker {
	m := &mochiBroker{t: t, cfg: BrokerConfig{Addr: "127.0.0.1:0", CertFile: opts.certFile, KeyFile: opts.keyFile,
		ClientCAFile: opts.clientCA, Users: opts.users, Logger: quietLogger()}}
	m.Start()
	m.cfg.Addr = m.live.Addr()
	m.url = m.live.URL()
	t.Cleanup(m.Stop)
	return m
}

func (m *mochiBroker) URL() string { return m.url }

func (m *mochiBroker) Start() {
	b, err := StartBroker(m.cfg)
	if err != nil {
		m.t.Fatal(err)
	}
	m.mu.Lock()
	m.live = b
	m.mu.Unlock()
}

func (m *mochiBroker) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live != nil {
		m.live.Close()
		m.live = nil
	}
}

type mosquitto struct {
	t       testing.TB
	bin     string
	conf    string
	addr    string
	url     string
	mu      sync.Mutex
	cmd     *exec.Cmd
	waitErr chan error
	log     *syncBuffer
}

func startMosquitto(t testing.TB, opts brokerOpts) *mosquitto {
	bin := testenv.Program(t, "mosquitto")
	dir := t.TempDir()
	port := freePort(t)
	m := &mosquitto{t: t, bin: bin, addr: "127.0.0.1:" + port, url: "tcp://127.0.0.1:" + port, log: &syncBuffer{}}
	conf := []string{"listener " + port + " 127.0.0.1", "persistence false", "log_dest stderr", "log_type error", "log_type warning"}
	if os.Getuid() == 0 {
		conf = append(conf, "user root") // else mosquitto drops to a user that cannot read the test's files
	}
	if opts.certFile != "" {
		m.url = "ssl://127.0.0.1:" + port
		conf = append(conf, "certfile "+opts.certFile, "keyfile "+opts.keyFile)
		if opts.clientCA != "" {
			conf = append(conf, "cafile "+opts.clientCA, "require_certificate true")
		}
	}
	if len(opts.users) > 0 {
		passwd := testenv.Program(t, "mosquitto_passwd")
		file := filepath.Join(dir, "passwords")
		for name, pass := range opts.users {
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

func (m *mosquitto) URL() string { return m.url }

func (m *mosquitto) Start() {
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

func (m *mosquitto) Stop() {
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

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gate is a TCP proxy in front of a broker that the test opens and shuts.
// Shut, it closes its connections and refuses new ones, which to the
// publisher behind it looks like a broker outage, while other clients
// still reach the broker. Tests use it to order events: a consumer
// resubscribes after a broker restart before the publisher may reconnect
// (neither broker keeps sessions across a restart here).
type gate struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   bool
	conns  map[net.Conn]bool
}

func newGate(t testing.TB, brokerURL string) *gate {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: strings.TrimPrefix(brokerURL, "tcp://"), open: true, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); g.Shut() })
	go g.serve()
	return g
}

func (g *gate) URL() string { return "tcp://" + g.ln.Addr().String() }

func (g *gate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		go g.pipe(c)
	}
}

func (g *gate) pipe(down net.Conn) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	var up net.Conn
	var err error
	if open {
		up, err = net.Dial("tcp", g.target)
	}
	if !open || err != nil {
		down.Close()
		return
	}
	g.mu.Lock()
	g.conns[down], g.conns[up] = true, true
	g.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, down); done <- struct{}{} }()
	go func() { io.Copy(down, up); done <- struct{}{} }()
	<-done
	down.Close()
	up.Close()
	g.mu.Lock()
	delete(g.conns, down)
	delete(g.conns, up)
	g.mu.Unlock()
}

func (g *gate) Open() {
	g.mu.Lock()
	g.open = true
	g.mu.Unlock()
}

func (g *gate) Shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = false
	for c := range g.conns {
		c.Close()
	}
}

// consumer is a test subscriber that reconnects and resubscribes by itself
// and records what it receives.
type consumer struct {
	client     paho.Client
	mu         sync.Mutex
	messages   map[string][][]byte // by kind (events, status, ...)
	subscribed int                 // completed subscriptions (one per connection)
}

func newConsumer(t testing.TB, conn ConnConfig, device string, kinds ...string) *consumer {
	c := &consumer{messages: map[string][][]byte{}}
	opts, err := conn.clientOptions(fmt.Sprintf("test-consumer-%d", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	filters := map[string]byte{}
	for _, k := range kinds {
		filters[Filter(device, k)] = 1
	}
	opts.SetAutoReconnect(true).SetMaxReconnectInterval(100 * time.Millisecond).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond)
	opts.SetOnConnectHandler(func(cl paho.Client) {
		tok := cl.SubscribeMultiple(filters, func(_ paho.Client, m paho.Message) {
			_, kind, _ := SplitTopic(m.Topic())
			c.mu.Lock()
			c.messages[kind] = append(c.messages[kind], m.Payload())
			c.mu.Unlock()
		})
		if tok.Wait() && tok.Error() == nil {
			c.mu.Lock()
			c.subscribed++
			c.mu.Unlock()
		}
	})
	c.client = paho.NewClient(opts)
	c.client.Connect()
	t.Cleanup(func() { c.client.Disconnect(100) })
	waitFor(t, 10*time.Second, "the consumer subscribes", func() bool { return c.subscriptions() > 0 })
	return c
}

func (c *consumer) subscriptions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subscribed
}

func (c *consumer) received(kind string) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.messages[kind]...)
}

// events decodes and schema-checks the events received, dropping repeats,
// and returns them with the number of repeats.
func (c *consumer) events(t testing.TB) (fresh []*Event, repeats int) {
	t.Helper()
	var d Deduper
	for _, p := range c.received(KindEvents) {
		ev := checkEvent(t, p)
		if d.Fresh(ev) {
			fresh = append(fresh, ev)
		} else {
			repeats++
		}
	}
	return fresh, repeats
}

// lastSeq is the highest seq received (without checking payloads).
func (c *consumer) lastSeq() uint64 {
	var last uint64
	for _, p := range c.received(KindEvents) {
		var ev struct{ Seq uint64 }
		json.Unmarshal(p, &ev)
		last = max(last, ev.Seq)
	}
	return last
}

// checkContiguous fails unless the fresh events are seq 1..n in order.
func checkContiguous(t testing.TB, fresh []*Event, n uint64) {
	t.Helper()
	for i, ev := range fresh {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: events lost or out of order", i+1, ev.Seq)
		}
	}
	if uint64(len(fresh)) != n {
		t.Fatalf("received seq 1..%d, want 1..%d", len(fresh), n)
	}
}

func (c *consumer) statuses(t testing.TB) []Status {
	var out []Status
	for _, p := range c.received(KindStatus) {
		var s Status
		if err := json.Unmarshal(p, &s); err != nil {
			t.Fatalf("status %q: %v", p, err)
		}
		out = append(out, s)
	}
	return out
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
	}
}

// certs are PEM files for TLS tests: a CA, a server certificate for
// 127.0.0.1 and a client certificate signed by it, and a client
// certificate signed by another CA.
type certs struct {
	ca, serverCert, serverKey, clientCert, clientKey, strangerCert, strangerKey string
}

func makeCerts(t testing.TB) certs {
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	serial := int64(1)
	issue := func(name string, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.Subject = pkix.Name{CommonName: name}
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		return cert, key, write(name+".pem", "CERTIFICATE", der), write(name+".key", "PRIVATE KEY", keyDER)
	}
	caTmpl := func() *x509.Certificate {
		return &x509.Certificate{IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	leaf := func(usage x509.ExtKeyUsage) *x509.Certificate {
		return &x509.Certificate{KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	}
	var c certs
	ca, caKey, caFile, _ := issue("test-ca", caTmpl(), nil, nil)
	other, otherKey, _, _ := issue("other-ca", caTmpl(), nil, nil)
	c.ca = caFile
	server := leaf(x509.ExtKeyUsageServerAuth)
	server.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	_, _, c.serverCert, c.serverKey = issue("server", server, ca, caKey)
	_, _, c.clientCert, c.clientKey = issue("cam-1", leaf(x509.ExtKeyUsageClientAuth), ca, caKey)
	_, _, c.strangerCert, c.strangerKey = issue("stranger", leaf(x509.ExtKeyUsageClientAuth), other, otherKey)
	return c
}
