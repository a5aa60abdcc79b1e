package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edgeclass/edgeclass/agent"
	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/modelpkg"
)

func newFleet(t *testing.T) *Fleet {
	t.Helper()
	f, err := Init(filepath.Join(t.TempDir(), "fleet"), "test")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestInit(t *testing.T) {
	f := newFleet(t)
	for name, mode := range map[string]os.FileMode{CAKey: 0o600, CACert: 0o644, SigningKey: 0o600, SigningKey + ".pub": 0o644} {
		st, err := os.Stat(filepath.Join(f.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	if !f.CA.IsCA || f.CA.PublicKeyAlgorithm != x509.ECDSA || f.CA.Subject.CommonName != "test fleet CA" {
		t.Errorf("CA: IsCA %v, algorithm %v, subject %v", f.CA.IsCA, f.CA.PublicKeyAlgorithm, f.CA.Subject)
	}
	if _, err := modelpkg.LoadPrivateKey(filepath.Join(f.Dir, SigningKey)); err != nil {
		t.Errorf("signing key: %v", err)
	}
	if _, err := Init(f.Dir, "again"); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("second init: %v, want a refusal", err)
	}
	// A CA key from another fleet is caught on open.
	other := newFleet(t)
	data, _ := os.ReadFile(filepath.Join(other.Dir, CAKey))
	os.WriteFile(filepath.Join(f.Dir, CAKey), data, 0o600)
	if _, err := Open(f.Dir); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("open with a foreign key: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "fleet init") {
		t.Errorf("open of an empty folder: %v", err)
	}
}

func enroll(t *testing.T, f *Fleet, id string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), id)
	if err := f.Enroll(EnrollOptions{DeviceID: id, Broker: "ssl://broker.example:8883", ConfigDir: out, StateDir: filepath.Join(out, "state")}, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEnrollBundle(t *testing.T) {
	f := newFleet(t)
	out := enroll(t, f, "cam-07")

	id, err := BundleDeviceID(out)
	if err != nil || id != "cam-07" {
		t.Fatalf("BundleDeviceID: %q, %v", id, err)
	}
	if st, _ := os.Stat(filepath.Join(out, BundleKey)); st.Mode().Perm() != 0o600 {
		t.Errorf("device key mode %v", st.Mode().Perm())
	}

	// The certificate chains to the fleet CA for client authentication.
	cert := parseCert(t, filepath.Join(out, BundleCert))
	pool := x509.NewCertPool()
	pool.AddCert(f.CA)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("device certificate: %v", err)
	}
	if cert.Subject.CommonName != "cam-07" {
		t.Errorf("CN %q", cert.Subject.CommonName)
	}
	if _, err := os.Stat(filepath.Join(f.Dir, DevicesDir, "cam-07.pem")); err != nil {
		t.Errorf("not recorded: %v", err)
	}

	// The trusted model key is the fleet's signing key.
	want, _ := os.ReadFile(f.SigningPublicKey())
	got, _ := os.ReadFile(filepath.Join(out, BundleTrustedKey))
	if string(got) != string(want) {
		t.Error("trusted key differs from the fleet's signing key")
	}

	// The agent accepts the configuration. updates.trusted_keys is checked
	// here and removed before the agent reads the rest, so this test holds
	// whether or not the agent knows that key yet.
	var raw map[string]any
	data, _ := os.ReadFile(filepath.Join(out, BundleConfig))
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	keys := raw["updates"].(map[string]any)["trusted_keys"].([]any)
	if len(keys) != 1 || keys[0] != filepath.Join(out, BundleTrustedKey) {
		t.Errorf("updates.trusted_keys = %v", keys)
	}
	delete(raw, "updates")
	rest, _ := yaml.Marshal(raw)
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, rest, 0o644)
	cfg, err := agent.LoadConfig([]string{"--config", cfgPath}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("agent refuses the enrolled configuration: %v", err)
	}
	if cfg.DeviceID != "cam-07" || cfg.MQTT.Broker != "ssl://broker.example:8883" || cfg.MQTT.CertFile != filepath.Join(out, BundleCert) || cfg.StateDir != filepath.Join(out, "state") {
		t.Errorf("agent configuration %+v", cfg)
	}
}

func TestEnrollDevicePaths(t *testing.T) {
	f := newFleet(t)
	out := filepath.Join(t.TempDir(), "b")
	if err := f.Enroll(EnrollOptions{DeviceID: "pi-1", Broker: "mqtts://b:8883"}, out); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(out, BundleConfig))
	for _, want := range []string{"state_dir: /var/lib/edgeclass", "cert_file: /etc/edgeclass/tls/device.pem", "- /etc/edgeclass/keys/model-signing.pub"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("agent.yaml lacks %q:\n%s", want, data)
		}
	}
}

func TestEnrollRefusals(t *testing.T) {
	f := newFleet(t)
	enroll(t, f, "dup")
	cases := []struct {
		opts EnrollOptions
		want string
	}{
		{EnrollOptions{DeviceID: "Bad ID", Broker: "ssl://b:8883"}, "device id"},
		{EnrollOptions{DeviceID: "", Broker: "ssl://b:8883"}, "device id"},
		{EnrollOptions{DeviceID: "a/b", Broker: "ssl://b:8883"}, "device id"},
		{EnrollOptions{DeviceID: "ok", Broker: "tcp://b:1883"}, "need TLS"},
		{EnrollOptions{DeviceID: "ok", Broker: "b:8883"}, "broker"},
		{EnrollOptions{DeviceID: "ok", Broker: "ssl://b:8883", BrokerCA: "/nonexistent"}, "broker CA"},
		{EnrollOptions{DeviceID: "dup", Broker: "ssl://b:8883"}, "already enrolled"},
	}
	for _, c := range cases {
		err := f.Enroll(c.opts, filepath.Join(t.TempDir(), "out"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %q", c.opts, err, c.want)
		}
	}
	// Replacing is allowed on request; a non-empty folder never is.
	out := filepath.Join(t.TempDir(), "out")
	if err := f.Enroll(EnrollOptions{DeviceID: "dup", Broker: "ssl://b:8883", Replace: true}, out); err != nil {
		t.Errorf("replace: %v", err)
	}
	if err := f.Enroll(EnrollOptions{DeviceID: "other", Broker: "ssl://b:8883"}, out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("enroll into a used folder: %v", err)
	}
	if _, err := BundleDeviceID(t.TempDir()); err == nil {
		t.Error("an empty folder passed as a bundle")
	}
}

func parseCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMutualTLS runs a real handshake: a server with the fleet's broker
// certificate that requires client certificates from the fleet CA, and a
// client with nothing but the device bundle.
func TestMutualTLS(t *testing.T) {
	f := newFleet(t)
	bundle := enroll(t, f, "cam-1")
	stranger := enroll(t, newFleet(t), "cam-1") // same id, other fleet

	srvCert, srvKey, err := f.IssueServer([]string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(f.CA)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				if tc.Handshake() == nil {
					fmt.Fprintf(c, "hello %s\n", tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
				}
			}()
		}
	}()

	dial := func(b string) (string, error) {
		pair, err := tls.LoadX509KeyPair(filepath.Join(b, BundleCert), filepath.Join(b, BundleKey))
		if err != nil {
			return "", err
		}
		roots := x509.NewCertPool()
		caPEM, _ := os.ReadFile(filepath.Join(b, BundleCA))
		roots.AppendCertsFromPEM(caPEM)
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
			&tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, ServerName: "localhost"})
		if err != nil {
			return "", err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		return string(buf[:n]), err
	}
	if got, err := dial(bundle); err != nil || got != "hello cam-1\n" {
		t.Errorf("device of the fleet: %q, %v", got, err)
	}
	if got, err := dial(stranger); err == nil {
		t.Errorf("device of another fleet got through: %q", got)
	}
}

// TestMosquitto connects to a real broker configured the way a fleet's
// broker is: TLS with the fleet's server certificate, client certificates
// required and checked against the fleet CA, the CN as the user name.
func TestMosquitto(t *testing.T) {
	broker := testenv.Program(t, "mosquitto")
	pub := testenv.Program(t, "mosquitto_pub")
	sub := testenv.Program(t, "mosquitto_sub")
	f := newFleet(t)
	dev, watcher := enroll(t, f, "cam-1"), enroll(t, f, "watcher")
	stranger := enroll(t, newFleet(t), "cam-1")

	dir := t.TempDir()
	srvCert, srvKey, err := f.IssueServer([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "server.pem"), srvCert, 0o644)
	os.WriteFile(filepath.Join(dir, "server.key"), srvKey, 0o600)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// As root, mosquitto would drop to its own user, which cannot read the test folders.
	conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\nallow_anonymous false\n",
		port, filepath.Join(f.Dir, CACert), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o644)
	cmd := exec.Command(broker, "-c", filepath.Join(dir, "mosquitto.conf"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatalf("mosquitto did not start: %s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tlsArgs := func(b string) []string {
		return []string{"-h", "localhost", "-p", fmt.Sprint(port), "--cafile", filepath.Join(b, BundleCA),
			"--cert", filepath.Join(b, BundleCert), "--key", filepath.Join(b, BundleKey)}
	}
	subCmd := exec.Command(sub, append(tlsArgs(watcher), "-t", "edgeclass/#", "-C", "1", "-W", "20", "-v")...)
	var got strings.Builder
	subCmd.Stdout, subCmd.Stderr = &got, &got
	if err := subCmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let the subscription settle
	if out, err := exec.Command(pub, append(tlsArgs(dev), "-t", "edgeclass/cam-1/events", "-m", "cat", "-q", "1")...).CombinedOutput(); err != nil {
		t.Fatalf("device publish: %v: %s\nbroker: %s", err, out, log.String())
	}
	subCmd.Wait()
	if strings.TrimSpace(got.String()) != "edgeclass/cam-1/events cat" {
		t.Errorf("subscriber got %q", got.String())
	}
	if out, err := exec.Command(pub, append(tlsArgs(stranger), "-t", "edgeclass/cam-1/events", "-m", "x")...).CombinedOutput(); err == nil {
		t.Errorf("a device of another fleet published: %s", out)
	}
}
