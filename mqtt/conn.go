package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// ConnConfig says how to reach a broker; the publisher and watch share it.
type ConnConfig struct {
	// Broker is tcp://host:1883 (or mqtt://) for plain TCP, ssl://host:8883
	// (or tls://, mqtts://) for TLS.
	Broker   string `yaml:"broker"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// CAFile verifies the broker's certificate (default: the system's CAs).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client's certificate for mutual TLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// KeepAlive is the MQTT keepalive; a dead link is noticed after about
	// 1.5 times this.
	KeepAlive time.Duration `yaml:"keepalive"`
}

// DefaultKeepAlive is used when ConnConfig.KeepAlive is zero.
const DefaultKeepAlive = 30 * time.Second

func (c ConnConfig) usesTLS() bool {
	u, err := url.Parse(c.Broker)
	return err == nil && (u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts")
}

// Validate names the first bad key.
func (c ConnConfig) Validate() error {
	u, err := url.Parse(c.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("broker: %q is not a URL like tcp://host:1883 or ssl://host:8883", c.Broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return fmt.Errorf("broker: scheme %q of %q is not tcp, mqtt, ssl, tls or mqtts", u.Scheme, c.Broker)
	}
	if !c.usesTLS() && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "") {
		return fmt.Errorf("broker: %q is plain TCP but TLS files are set (use ssl://)", c.Broker)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("cert_file and key_file: set both or neither")
	}
	if c.Password != "" && c.Username == "" {
		return fmt.Errorf("username: required with a password")
	}
	if c.KeepAlive < 0 || c.KeepAlive > 0 && c.KeepAlive < time.Second {
		return fmt.Errorf("keepalive: %v, need at least 1s (0: default %v)", c.KeepAlive, DefaultKeepAlive)
	}
	return nil
}

// tlsConfig loads the CA and client certificate files.
func (c ConnConfig) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: no PEM certificate in %s", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		// Always present it: Go would otherwise send none when the server's
		// list of acceptable CAs does not name the issuer, hiding the real
		// reason of a refusal.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return cfg, nil
}

// ClientOptions are the paho options shared by every client of ours:
// clean sessions and no paho reconnection (callers reconnect themselves).
func (c ConnConfig) ClientOptions(clientID string) (*paho.ClientOptions, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	keepAlive := c.KeepAlive
	if keepAlive == 0 {
		keepAlive = DefaultKeepAlive
	}
	opts := paho.NewClientOptions().
		AddBroker(c.Broker).
		SetClientID(clientID).
		SetUsername(c.Username).
		SetPassword(c.Password).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(keepAlive).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second)
	if c.usesTLS() {
		t, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts.SetTLSConfig(t)
	}
	return opts, nil
}
