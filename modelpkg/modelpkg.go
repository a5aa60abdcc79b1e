// Package modelpkg is the signed model package operators push to devices: a
// zip holding manifest.json (name, version, sha256, size, labels, input
// spec, minimum agent version, creation time), manifest.sig (an ed25519
// signature of the manifest's exact bytes) and model.tflite.
package modelpkg

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/edgeclass/edgeclass/tflite"
)

// Schema identifies the manifest format.
const Schema = "edgeclass.model/1"

// Limits against hostile packages.
const (
	MaxModelBytes    = 256 << 20
	maxManifestBytes = 1 << 20
)

// Manifest describes the model in a package.
type Manifest struct {
	Schema          string    `json:"schema"`
	Name            string    `json:"name"`
	Version         string    `json:"version"`
	SHA256          string    `json:"sha256"`
	Size            int64     `json:"size"`
	Labels          []string  `json:"labels,omitempty"`
	Input           Input     `json:"input"`
	MinAgentVersion string    `json:"min_agent_version,omitempty"`
	Created         time.Time `json:"created"`
	KeyID           string    `json:"key_id,omitempty"`
}

// Input is the model's input tensor, so a device can refuse a model its
// camera pipeline cannot feed before loading it.
type Input struct {
	Shape []int  `json:"shape"`
	Type  string `json:"type"`
}

// Package is a parsed package.
type Package struct {
	Manifest  Manifest
	Raw       []byte // manifest.json as signed
	Signature []byte // nil when unsigned
	Model     []byte
}

// ErrUnsigned is returned by Verify for a package without a signature.
var ErrUnsigned = errors.New("package is not signed")

// Build makes a package for model bytes, signed with key when key is not nil.
func Build(model []byte, name, version string, labels []string, minAgent string, key ed25519.PrivateKey) ([]byte, error) {
	m, err := tflite.Load(model)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	sg := m.Main()
	if len(sg.Inputs) != 1 {
		return nil, fmt.Errorf("model has %d inputs, an image classifier has 1", len(sg.Inputs))
	}
	in := sg.Tensors[sg.Inputs[0]]
	if labels == nil {
		labels = m.Labels()
	}
	sum := sha256.Sum256(model)
	man := Manifest{
		Schema: Schema, Name: name, Version: version, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(model)),
		Labels: labels, Input: Input{Shape: in.Shape, Type: in.Type.String()}, MinAgentVersion: minAgent,
		Created: time.Now().UTC().Truncate(time.Second),
	}
	if key != nil {
		man.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	}
	raw, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := map[string][]byte{"manifest.json": raw, "model.tflite": model}
	if key != nil {
		files["manifest.sig"] = ed25519.Sign(key, raw)
	}
	for _, name := range []string{"manifest.json", "manifest.sig", "model.tflite"} {
		data, ok := files[name]
		if !ok {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: man.Created})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse reads a package, checking its structure and that the model matches
// the manifest's size and hash. It does not check the signature: see Verify.
func Parse(data []byte) (*Package, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("package is not a valid zip: %w", err)
	}
	p := &Package{}
	seen := map[string]bool{}
	for _, f := range zr.File {
		limit := int64(maxManifestBytes)
		var dst *[]byte
		switch f.Name {
		case "manifest.json":
			dst = &p.Raw
		case "manifest.sig":
			dst = &p.Signature
		case "model.tflite":
			dst, limit = &p.Model, MaxModelBytes
		default:
			return nil, fmt.Errorf("package holds an unexpected file %q", f.Name)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("package holds %q twice", f.Name)
		}
		seen[f.Name] = true
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, limit+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("%s is larger than %d bytes", f.Name, limit)
		}
		*dst = b
	}
	if p.Raw == nil || p.Model == nil {
		return nil, errors.New("package needs manifest.json and model.tflite")
	}
	dec := json.NewDecoder(bytes.NewReader(p.Raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p.Manifest); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	m := &p.Manifest
	if m.Schema != Schema {
		return nil, fmt.Errorf("manifest schema %q is not %q", m.Schema, Schema)
	}
	if m.Name == "" || m.Version == "" {
		return nil, errors.New("manifest needs a name and a version")
	}
	if int64(len(p.Model)) != m.Size {
		return nil, fmt.Errorf("model is %d bytes, manifest says %d (truncated?)", len(p.Model), m.Size)
	}
	sum := sha256.Sum256(p.Model)
	if hex.EncodeToString(sum[:]) != m.SHA256 {
		return nil, errors.New("model's sha256 does not match the manifest")
	}
	return p, nil
}

// Verify checks the signature against the trusted keys and returns the id
// of the key that signed.
func (p *Package) Verify(trusted []ed25519.PublicKey) (string, error) {
	if p.Signature == nil {
		return "", ErrUnsigned
	}
	for _, k := range trusted {
		if ed25519.Verify(k, p.Raw, p.Signature) {
			return KeyID(k), nil
		}
	}
	return "", fmt.Errorf("signature does not match any of the %d trusted keys (signed by key %q)", len(trusted), p.Manifest.KeyID)
}

// KeyID is a short fingerprint of a public key.
func KeyID(k ed25519.PublicKey) string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:8])
}
