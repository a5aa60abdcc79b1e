package mqtt

import (
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
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeclass/edgeclass/internal/brokertest"
)

// brokerOpts configure a test broker: TLS files and users.
type brokerOpts = brokertest.Options

// Helpers shared with other packages' tests.
var (
	startMosquitto = brokertest.StartMosquitto
	freePort       = brokertest.FreePort
)

type syncBuffer = brokertest.SyncBuffer

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
	m := &mochiBroker{t: t, cfg: BrokerConfig{Addr: "127.0.0.1:0", CertFile: opts.CertFile, KeyFile: opts.KeyFile,
		ClientCAFile: opts.ClientCA, Users: opts.Users, Logger: quietLogger()}}
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
	opts, err := conn.ClientOptions(fmt.Sprintf("test-consumer-%d", time.Now().UnixNano()))
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
