package modelpkg

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

func testModel(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(testenv.TestData(t, "models/mobilenet_v1_0.25_128_quant.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func keys(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	dir := t.TempDir()
	pub, err := GenerateKey(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := LoadPrivateKey(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	pub2, err := LoadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil || !pub.Equal(pub2) {
		t.Fatalf("public key round trip: %v", err)
	}
	if _, err := GenerateKey(filepath.Join(dir, "k")); err == nil {
		t.Fatal("GenerateKey overwrote an existing key")
	}
	return priv, pub
}

func TestSignVerify(t *testing.T) {
	priv, pub := keys(t)
	_, otherPub := keys(t)
	model := testModel(t)
	data, err := Build(model, "mobilenet", "1.2.0", nil, "0.1.0", priv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Manifest.Name != "mobilenet" || p.Manifest.Version != "1.2.0" || len(p.Manifest.Labels) != 1001 ||
		p.Manifest.Input.Type != "uint8" || !bytes.Equal(p.Model, model) {
		t.Fatalf("manifest: %+v", p.Manifest)
	}
	if id, err := p.Verify([]ed25519.PublicKey{otherPub, pub}); err != nil || id != KeyID(pub) {
		t.Fatalf("verify with the signer among trusted keys: %v %s", err, id)
	}
	if _, err := p.Verify([]ed25519.PublicKey{otherPub}); err == nil {
		t.Fatal("a package signed by an untrusted key verified")
	}
	unsigned, _ := Build(model, "m", "1", nil, "", nil)
	up, err := Parse(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Verify([]ed25519.PublicKey{pub}); err != ErrUnsigned {
		t.Fatalf("unsigned package: %v", err)
	}
}

// rezip rewrites a package with one file replaced (or removed when nil).
func rezip(t *testing.T, data []byte, name string, content []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		body := b.Bytes()
		if f.Name == name {
			if content == nil {
				continue
			}
			body = content
		}
		w, _ := zw.Create(f.Name)
		w.Write(body)
	}
	zw.Close()
	return buf.Bytes()
}

func TestBadPackages(t *testing.T) {
	priv, pub := keys(t)
	model := testModel(t)
	good, err := Build(model, "m", "1", nil, "", priv)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := Parse(good)
	tampered := bytes.Replace(p.Raw, []byte(`"version": "1"`), []byte(`"version": "2"`), 1)
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"not a zip":         {[]byte("hello"), "not a valid zip"},
		"truncated zip":     {good[:len(good)/2], "not a valid zip"},
		"truncated model":   {rezip(t, good, "model.tflite", model[:1000]), "truncated"},
		"other model":       {rezip(t, good, "model.tflite", append(append([]byte(nil), model[:100]...), make([]byte, len(model)-100)...)), "sha256"},
		"no manifest":       {rezip(t, good, "manifest.json", nil), "needs manifest.json"},
		"manifest not json": {rezip(t, good, "manifest.json", []byte("{")), "manifest.json"},
		"unknown field":     {rezip(t, good, "manifest.json", []byte(`{"schema":"edgeclass.model/1","bogus":1}`)), "bogus"},
		"wrong schema":      {rezip(t, good, "manifest.json", bytes.Replace(p.Raw, []byte(Schema), []byte("x/9"), 1)), "schema"},
	} {
		if _, err := Parse(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, c.want)
		}
	}
	tp, err := Parse(rezip(t, good, "manifest.json", tampered))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Verify([]ed25519.PublicKey{pub}); err == nil {
		t.Fatal("a tampered manifest verified")
	}
}

func FuzzParse(f *testing.F) {
	pkg, err := Build(testModel(f), "m", "1", nil, "", nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkg)
	f.Add(pkg[:200])
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err == nil && (p.Manifest.Schema != Schema || int64(len(p.Model)) != p.Manifest.Size) {
			t.Fatalf("accepted an inconsistent package: %+v", p.Manifest)
		}
	})
}
