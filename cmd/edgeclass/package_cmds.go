package main

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeclass/edgeclass/modelpkg"
	"github.com/edgeclass/edgeclass/tflite"
)

func init() {
	register("keygen", "create an ed25519 model-signing key pair", runKeygen)
	register("sign", "package and sign a model for pushing to devices", runSign)
}

func runKeygen(args []string) error {
	fs := newFlags("keygen", "")
	out := fs.String("out", "model-signing.key", "private key path; the public key goes to PATH.pub")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	pub, err := modelpkg.GenerateKey(*out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s.pub (key id %s)\n", *out, *out, modelpkg.KeyID(pub))
	return nil
}

func runSign(args []string) error {
	fs := newFlags("sign", "MODEL.tflite")
	key := fs.String("key", "", "private signing key (required unless --unsigned)")
	unsigned := fs.Bool("unsigned", false, "make an unsigned package (devices refuse it unless configured to accept unsigned models)")
	name := fs.String("name", "", "model name (default: metadata name or file name)")
	version := fs.String("version", "", "model version (required)")
	labels := fs.String("labels", "", "labels file (default: the model's metadata)")
	minAgent := fs.String("min-agent-version", "", "oldest agent version that may install it")
	out := fs.String("out", "", "package path (default: NAME-VERSION.ecpkg)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *version == "" || (*key == "") == !*unsigned {
		fs.Usage()
		return fmt.Errorf("need one model, --version, and --key or --unsigned")
	}
	model, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	if *name == "" {
		*name = strings.TrimSuffix(filepath.Base(pos[0]), filepath.Ext(pos[0]))
		if m, err := tflite.Load(model); err == nil && m.Info != nil && m.Info.Name != "" {
			*name = m.Info.Name
		}
	}
	var lab []string
	if *labels != "" {
		data, err := os.ReadFile(*labels)
		if err != nil {
			return err
		}
		lab = tflite.SplitLabels(data)
	}
	var priv ed25519.PrivateKey
	if *key != "" {
		if priv, err = modelpkg.LoadPrivateKey(*key); err != nil {
			return err
		}
	}
	pkg, err := modelpkg.Build(model, *name, *version, lab, *minAgent, priv)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = fmt.Sprintf("%s-%s.ecpkg", *name, *version)
	}
	if err := os.WriteFile(*out, pkg, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d bytes)\n", *out, len(pkg))
	return nil
}
