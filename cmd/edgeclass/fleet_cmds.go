package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeclass/edgeclass/firmware/flash"
	"github.com/edgeclass/edgeclass/firmware/fleet"
)

func init() {
	register("fleet", "fleet identity: 'fleet init' (CA and signing key), 'fleet server-cert' (broker)", runFleet)
	register("enroll", "issue a device certificate and write its configuration bundle", runEnroll)
	register("flash", "write an OS image to an SD card with the agent and a device identity", runFlash)
}

func runFleet(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: edgeclass fleet init|server-cert [flags]")
	}
	switch args[0] {
	case "init":
		fs := newFlags("fleet init", "")
		dir := fs.String("dir", "", "fleet folder to create (required)")
		name := fs.String("name", "edgeclass", "fleet name, in the CA's subject")
		if _, err := parseInterspersed(fs, args[1:]); err != nil {
			return err
		}
		if *dir == "" {
			fs.Usage()
			return errors.New("need --dir")
		}
		f, err := fleet.Init(*dir, *name)
		if err != nil {
			return err
		}
		fmt.Printf("fleet %q in %s:\n  CA certificate  %s\n  CA key          %s (keep it secret)\n  model signing   %s (public: %s)\n",
			*name, *dir, filepath.Join(*dir, fleet.CACert), filepath.Join(*dir, fleet.CAKey),
			filepath.Join(*dir, fleet.SigningKey), f.SigningPublicKey())
		return nil
	case "server-cert":
		fs := newFlags("fleet server-cert", "")
		dir := fs.String("dir", "", "fleet folder (required)")
		hosts := fs.String("host", "", "broker host names and IP addresses, comma-separated (required)")
		out := fs.String("out", "broker", "write OUT.pem and OUT.key")
		if _, err := parseInterspersed(fs, args[1:]); err != nil {
			return err
		}
		if *dir == "" || *hosts == "" {
			fs.Usage()
			return errors.New("need --dir and --host")
		}
		f, err := fleet.Open(*dir)
		if err != nil {
			return err
		}
		cert, key, err := f.IssueServer(strings.Split(*hosts, ","))
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out+".key", key, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(*out+".pem", cert, 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s.pem and %s.key; the broker trusts devices with cafile %s (mosquitto: require_certificate true)\n",
			*out, *out, filepath.Join(*dir, fleet.CACert))
		return nil
	}
	return fmt.Errorf("unknown fleet command %q (want init or server-cert)", args[0])
}

func runEnroll(args []string) error {
	fs := newFlags("enroll", "")
	dir := fs.String("fleet", "", "fleet folder (required)")
	device := fs.String("device", "", "device id (required)")
	broker := fs.String("broker", "", "MQTT broker, ssl://host:8883 (required)")
	brokerCA := fs.String("broker-ca", "", "PEM CA of the broker's certificate when the fleet CA did not sign it")
	source := fs.String("source", "", "frame source for the agent (default: the agent's)")
	out := fs.String("out", "", "bundle folder (default: ./DEVICE)")
	replace := fs.Bool("replace", false, "issue a new certificate for an enrolled device")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *dir == "" || *device == "" || *broker == "" {
		fs.Usage()
		return errors.New("need --fleet, --device and --broker")
	}
	if *out == "" {
		*out = *device
	}
	f, err := fleet.Open(*dir)
	if err != nil {
		return err
	}
	if err := f.Enroll(fleet.EnrollOptions{DeviceID: *device, Broker: *broker, BrokerCA: *brokerCA, Source: *source, Replace: *replace}, *out); err != nil {
		return err
	}
	fmt.Printf("device %s enrolled: bundle in %s (goes to /etc/edgeclass; 'edgeclass flash --device-bundle %s' puts it on a card)\n", *device, *out, *out)
	return nil
}

func runFlash(args []string) error {
	fs := newFlags("flash", "")
	image := fs.String("image", "", "OS image, .img or .img.xz (required)")
	target := fs.String("target", "", "SD card or USB disk (/dev/sdX, /dev/mmcblkN) or an image file to write (required)")
	bundle := fs.String("device-bundle", "", "device bundle from 'edgeclass enroll'")
	device := fs.String("device", "", "or: enroll this device id now (with --fleet and --broker)")
	fleetDir := fs.String("fleet", "", "fleet folder, with --device")
	broker := fs.String("broker", "", "MQTT broker, with --device")
	wifi := fs.String("wifi", "", "Wi-Fi network as SSID:PASSPHRASE (split at the first ':')")
	country := fs.String("wifi-country", "", "Wi-Fi country code (GB, DE, US...), required with --wifi")
	hostname := fs.String("hostname", "", "host name (default: the device id)")
	sshKey := fs.String("ssh-key", "", "OpenSSH public key file allowed to log in")
	user := fs.String("user", "pi", "the user the SSH key is for (Raspberry Pi OS)")
	deb := fs.String("deb", "", "edgeclass .deb for the device's architecture (edgeclass_*_arm64.deb for 64-bit Raspberry Pi OS)")
	yes := fs.Bool("yes", false, "really overwrite the target")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *image == "" || *target == "" || (*bundle == "") == (*device == "") {
		fs.Usage()
		return errors.New("need --image, --target, and --device-bundle or --device")
	}
	setup := flash.Setup{Bundle: *bundle, Deb: *deb, Hostname: *hostname, WifiCountry: *country, User: *user}
	if *wifi != "" {
		ssid, psk, ok := strings.Cut(*wifi, ":")
		if !ok {
			return errors.New("--wifi: want SSID:PASSPHRASE")
		}
		setup.WifiSSID, setup.WifiPSK = ssid, psk
	}
	if *sshKey != "" {
		data, err := os.ReadFile(*sshKey)
		if err != nil {
			return fmt.Errorf("--ssh-key: %w", err)
		}
		setup.SSHKeys = string(data)
	}
	id := *device
	if *device != "" {
		if *fleetDir == "" || *broker == "" {
			return errors.New("--device needs --fleet and --broker")
		}
		// Check everything that can be checked before a certificate is
		// issued for a card that is never written.
		if err := setup.Check(); err != nil {
			return err
		}
		f, err := fleet.Open(*fleetDir)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "edgeclass-bundle-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		setup.Bundle = filepath.Join(tmp, *device)
		if err := f.Enroll(fleet.EnrollOptions{DeviceID: *device, Broker: *broker}, setup.Bundle); err != nil {
			return err
		}
	} else {
		var err error
		if id, err = fleet.BundleDeviceID(*bundle); err != nil {
			return err
		}
	}
	if setup.Hostname == "" {
		setup.Hostname = strings.ReplaceAll(id, "_", "-")
	}
	err := flash.Flash(flash.Options{Image: *image, Target: *target, Yes: *yes, Setup: setup, Log: os.Stderr})
	if errors.Is(err, flash.ErrNeedYes) {
		return fmt.Errorf("%w: check the target above, then run again with --yes", err)
	}
	return err
}
