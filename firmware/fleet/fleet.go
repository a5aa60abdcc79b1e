// Package fleet holds a fleet's identity on the operator's machine: a
// certificate authority (ECDSA P-256) that signs each device's client
// certificate and the broker's server certificate, and the ed25519 key that
// signs models. Enroll turns that into a device bundle: the files that go
// to /etc/edgeclass on one device.
//
// A fleet folder holds:
//
//	ca.pem, ca.key                      the fleet CA (the key is 0600)
//	model-signing.key, model-signing.key.pub  the model-signing key pair
//	devices/ID.pem                      every certificate issued, by device id
package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/edgeclass/edgeclass/internal/pemfile"

	"github.com/edgeclass/edgeclass/modelpkg"
)

// File names inside a fleet folder.
const (
	CACert     = "ca.pem"
	CAKey      = "ca.key"
	SigningKey = "model-signing.key"
	DevicesDir = "devices"
)

// Validity periods. Certificates start a day early because devices without
// a real-time clock boot with an old time until NTP answers.
const (
	caValidity     = 20 * 365 * 24 * time.Hour
	leafValidity   = 10 * 365 * 24 * time.Hour
	clockAllowance = 24 * time.Hour
)

// Fleet is an opened fleet folder.
type Fleet struct {
	Dir   string
	CA    *x509.Certificate
	caKey *ecdsa.PrivateKey
}

// Init creates a fleet in dir (made if missing). It refuses to touch a
// folder that already has a CA key or signing key, so an existing fleet's
// identity is never replaced by accident.
func Init(dir, name string) (*Fleet, error) {
	for _, f := range []string{CAKey, SigningKey} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("fleet init: %s already exists; refusing to replace a fleet's keys", filepath.Join(dir, f))
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, DevicesDir), 0o700); err != nil {
		return nil, fmt.Errorf("fleet init: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: name + " fleet CA", Organization: []string{"edgeclass"}},
		NotBefore:             now.Add(-clockAllowance),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("fleet init: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	if err := pemfile.WriteNew(filepath.Join(dir, CAKey), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("fleet init: %w", err)
	}
	if err := pemfile.WriteNew(filepath.Join(dir, CACert), certPEM(der), 0o644); err != nil {
		return nil, fmt.Errorf("fleet init: %w", err)
	}
	if _, err := modelpkg.GenerateKey(filepath.Join(dir, SigningKey)); err != nil {
		return nil, fmt.Errorf("fleet init: model-signing key: %w", err)
	}
	return Open(dir)
}

// Open loads a fleet folder made by Init.
func Open(dir string) (*Fleet, error) {
	certBlock, err := pemfile.Read(filepath.Join(dir, CACert), "CERTIFICATE")
	if err != nil {
		return nil, fmt.Errorf("fleet %s: %w (run 'edgeclass fleet init --dir %s' first)", dir, err, dir)
	}
	ca, err := x509.ParseCertificate(certBlock)
	if err != nil {
		return nil, fmt.Errorf("fleet %s: %s: %w", dir, CACert, err)
	}
	keyBlock, err := pemfile.Read(filepath.Join(dir, CAKey), "EC PRIVATE KEY")
	if err != nil {
		return nil, fmt.Errorf("fleet %s: %w", dir, err)
	}
	key, err := x509.ParseECPrivateKey(keyBlock)
	if err != nil {
		return nil, fmt.Errorf("fleet %s: %s: %w", dir, CAKey, err)
	}
	if !key.PublicKey.Equal(ca.PublicKey) {
		return nil, fmt.Errorf("fleet %s: %s does not belong to %s", dir, CAKey, CACert)
	}
	return &Fleet{Dir: dir, CA: ca, caKey: key}, nil
}

// SigningPublicKey is the path of the model-signing public key that
// devices trust.
func (f *Fleet) SigningPublicKey() string { return filepath.Join(f.Dir, SigningKey+".pub") }

var deviceIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// CheckDeviceID accepts the ids the agent accepts (they are MQTT topic
// levels): lower-case letters, digits, '-' and '_', at most 63.
func CheckDeviceID(id string) error {
	if !deviceIDPattern.MatchString(id) {
		return fmt.Errorf("device id %q: use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit", id)
	}
	return nil
}

// IssueDevice signs a client certificate with CN=id for mutual TLS to the
// broker and records it under devices/. Issuing twice for the same id is
// refused unless replace is set (a lost or re-flashed device).
func (f *Fleet) IssueDevice(id string, replace bool) (cert, key []byte, err error) {
	if err := CheckDeviceID(id); err != nil {
		return nil, nil, err
	}
	record := filepath.Join(f.Dir, DevicesDir, id+".pem")
	if _, err := os.Stat(record); err == nil && !replace {
		return nil, nil, fmt.Errorf("device %s is already enrolled (%s); pass --replace to issue a new certificate", id, record)
	}
	cert, key, err = f.issue(pkix.Name{CommonName: id, Organization: []string{"edgeclass device"}}, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("device %s: %w", id, err)
	}
	if err := os.MkdirAll(filepath.Dir(record), 0o700); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(record, cert, 0o644); err != nil {
		return nil, nil, fmt.Errorf("device %s: %w", id, err)
	}
	return cert, key, nil
}

// IssueServer signs a server certificate for the broker, valid for the
// given host names and IP addresses.
func (f *Fleet) IssueServer(hosts []string) (cert, key []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("server certificate: no host names")
	}
	var names []string
	var ips []net.IP
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, h)
		}
	}
	return f.issue(pkix.Name{CommonName: hosts[0], Organization: []string{"edgeclass broker"}}, x509.ExtKeyUsageServerAuth, names, ips)
}

func (f *Fleet) issue(subject pkix.Name, usage x509.ExtKeyUsage, names []string, ips []net.IP) (cert, key []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      subject,
		NotBefore:    now.Add(-clockAllowance),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     names,
		IPAddresses:  ips,
	}
	if tmpl.NotAfter.After(f.CA.NotAfter) {
		tmpl.NotAfter = f.CA.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.CA, &priv.PublicKey, f.caKey)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := marshalKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return certPEM(der), keyPEM, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n.Add(n, big.NewInt(1))
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func marshalKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
