package flash

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed firstboot.sh
var firstbootScript []byte

// Setup is what the device should become on its first boot.
type Setup struct {
	Bundle      string // device bundle folder (edgeclass enroll), installed as /etc/edgeclass
	Deb         string // the agent's Debian package for the device's architecture
	Hostname    string
	WifiSSID    string
	WifiPSK     string
	WifiCountry string // ISO 3166 code; the Pi's radio stays off without one
	SSHKeys     string // authorized_keys lines
	User        string // the user the SSH keys are for (Raspberry Pi OS)
}

// Boot partition layout.
const (
	bootDir      = "/edgeclass"
	scriptPath   = bootDir + "/firstboot.sh"
	firmwareDirs = "/boot/firmware /boot" // where a boot partition is mounted, newest layout first
)

// Mode is how the image runs first-boot setup.
type Mode string

const (
	ModeFirstrun  Mode = "firstrun"   // Raspberry Pi OS: systemd.run= in cmdline.txt
	ModeCloudInit Mode = "cloud-init" // user-data and network-config in the boot partition
)

var (
	hostnamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	userPattern     = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	countryPattern  = regexp.MustCompile(`^[A-Z]{2}$`)
	sshKeyPattern   = regexp.MustCompile(`^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$`)
	hexPSK          = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// Check validates the setup before anything is written.
func (s *Setup) Check() error {
	var errs []error
	if s.Hostname != "" && !hostnamePattern.MatchString(s.Hostname) {
		errs = append(errs, fmt.Errorf("host name %q: use lower-case letters, digits and '-', at most 63", s.Hostname))
	}
	if s.WifiSSID != "" || s.WifiPSK != "" {
		if n := len(s.WifiSSID); n < 1 || n > 32 {
			errs = append(errs, fmt.Errorf("Wi-Fi SSID %q: 1 to 32 bytes", s.WifiSSID))
		}
		if !hexPSK.MatchString(s.WifiPSK) && (len(s.WifiPSK) < 8 || len(s.WifiPSK) > 63 || strings.ContainsFunc(s.WifiPSK, func(r rune) bool { return r < 0x20 || r > 0x7e })) {
			errs = append(errs, errors.New("Wi-Fi passphrase: 8 to 63 printable ASCII characters (or 64 hex digits)"))
		}
		if !countryPattern.MatchString(s.WifiCountry) {
			errs = append(errs, fmt.Errorf("Wi-Fi country %q: give the two-letter code (like GB, DE, US); the radio stays off without it", s.WifiCountry))
		}
	}
	if s.SSHKeys != "" {
		for _, line := range strings.Split(strings.TrimSpace(s.SSHKeys), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") && !sshKeyPattern.MatchString(line) {
				errs = append(errs, fmt.Errorf("SSH key %.40q...: not an OpenSSH public key line", line))
			}
		}
		if !userPattern.MatchString(s.User) {
			errs = append(errs, fmt.Errorf("user %q: not a valid user name", s.User))
		}
	}
	if s.Deb != "" {
		if _, err := os.Stat(s.Deb); err != nil {
			errs = append(errs, fmt.Errorf("package: %w", err))
		}
	}
	return errors.Join(errs...)
}

// bootFile is one file to put in the boot partition.
type bootFile struct {
	name string // absolute path in the partition
	data []byte // or
	src  string // a file on this machine
}

// Customize puts the first-boot setup into the FAT boot partition of the
// disk or image f (size bytes) and returns the files it wrote and the mode
// it chose.
func Customize(f *os.File, size int64, s Setup) (Mode, []string, error) {
	if err := s.Check(); err != nil {
		return "", nil, err
	}
	parts, err := ReadPartitions(f, size)
	if err != nil {
		return "", nil, err
	}
	fat, err := bootPartition(f, parts)
	if err != nil {
		return "", nil, err
	}
	mode, files, err := plan(fat, s)
	if err != nil {
		return "", nil, err
	}
	var names []string
	for _, bf := range files {
		var r io.Reader = bytes.NewReader(bf.data)
		if bf.src != "" {
			in, err := os.Open(bf.src)
			if err != nil {
				return "", nil, err
			}
			defer in.Close()
			r = in
		}
		if err := fat.writeFile(bf.name, r); err != nil {
			return "", nil, err
		}
		names = append(names, bf.name)
	}
	if err := fat.repair(); err != nil {
		return "", nil, err
	}
	if err := f.Sync(); err != nil {
		return "", nil, err
	}
	return mode, names, nil
}

// bootPartition finds the first partition holding a FAT32 file system.
func bootPartition(f *os.File, parts []Partition) (*fatFS, error) {
	var reasons []string
	for _, p := range parts {
		if !p.MaybeFAT() {
			continue
		}
		fat, err := openFAT(f, p)
		if err == nil {
			return fat, nil
		}
		reasons = append(reasons, err.Error())
	}
	if len(reasons) == 0 {
		return nil, errors.New("no FAT boot partition in the image's partition table")
	}
	return nil, fmt.Errorf("no usable FAT boot partition: %s", strings.Join(reasons, "; "))
}

// plan decides the mode from what the image's boot partition holds and
// lists the files to write.
func plan(fat *fatFS, s Setup) (Mode, []bootFile, error) {
	files := []bootFile{{name: scriptPath, data: firstbootScript}}
	if s.Deb != "" {
		files = append(files, bootFile{name: bootDir + "/edgeclass.deb", src: s.Deb})
	}
	if s.Bundle != "" {
		bundle, err := bundleFiles(s.Bundle)
		if err != nil {
			return "", nil, err
		}
		files = append(files, bundle...)
	}

	cloudInit := fat.exists("/user-data") || fat.exists("/meta-data") || fat.exists("/network-config")
	if cloudInit {
		ud, nc, err := cloudInitFiles(fat, s)
		if err != nil {
			return "", nil, err
		}
		files = append(files, bootFile{name: "/user-data", data: ud})
		if nc != nil {
			files = append(files, bootFile{name: "/network-config", data: nc})
		}
		return ModeCloudInit, files, nil
	}

	if !fat.exists("/cmdline.txt") {
		return "", nil, errors.New("the boot partition has neither cmdline.txt (Raspberry Pi OS) nor cloud-init files (user-data, meta-data, network-config): no way to run first-boot setup")
	}
	cmdline, err := fat.readFile("/cmdline.txt")
	if err != nil {
		return "", nil, err
	}
	// Bookworm and later mount the boot partition at /boot/firmware and
	// say so in config.txt; older releases at /boot.
	mount := "/boot"
	config, _ := fat.readFile("/config.txt")
	if bytes.Contains(config, []byte("/boot/firmware")) || bytes.Contains(cmdline, []byte("/boot/firmware")) {
		mount = "/boot/firmware"
	}
	files = append(files, bootFile{name: "/cmdline.txt", data: hookCmdline(cmdline, mount+scriptPath)})
	if s.Hostname != "" {
		files = append(files, bootFile{name: bootDir + "/hostname", data: []byte(s.Hostname + "\n")})
	}
	if s.SSHKeys != "" {
		files = append(files,
			bootFile{name: bootDir + "/authorized_keys", data: []byte(strings.TrimSpace(s.SSHKeys) + "\n")},
			bootFile{name: bootDir + "/user", data: []byte(s.User + "\n")},
			// Raspberry Pi OS turns sshd on when this exists.
			bootFile{name: "/ssh", data: []byte("# written by edgeclass flash: enables sshd\n")})
	}
	if s.WifiSSID != "" {
		psk := wifiKey(s.WifiSSID, s.WifiPSK)
		files = append(files,
			bootFile{name: bootDir + "/wifi-country", data: []byte(s.WifiCountry + "\n")},
			bootFile{name: bootDir + "/wifi.nmconnection", data: nmConnection(s.WifiSSID, psk)},
			bootFile{name: bootDir + "/wpa_supplicant.conf", data: wpaSupplicant(s.WifiSSID, psk, s.WifiCountry)})
	}
	return ModeFirstrun, files, nil
}

// hookCmdline adds the first-boot hook to the one-line kernel command line,
// replacing an earlier hook (re-running flash on a card).
func hookCmdline(cmdline []byte, script string) []byte {
	var kept []string
	for _, arg := range strings.Fields(string(cmdline)) {
		if strings.HasPrefix(arg, "systemd.run") || arg == "systemd.unit=kernel-command-line.target" {
			continue
		}
		kept = append(kept, arg)
	}
	kept = append(kept, "systemd.run="+script, "systemd.run_success_action=reboot",
		"systemd.run_failure_action=reboot", "systemd.unit=kernel-command-line.target")
	return []byte(strings.Join(kept, " ") + "\n")
}

// bundleFiles lists a device bundle's files under edgeclass/etc.
func bundleFiles(dir string) ([]bootFile, error) {
	var out []bootFile
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("device bundle: %s is not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, bootFile{name: bootDir + "/etc/" + filepath.ToSlash(rel), src: p})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("device bundle: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// wifiKey is the 256-bit WPA key: given as 64 hex digits, or derived from
// the passphrase and SSID (PBKDF2-SHA1, 4096 rounds, as WPA defines it),
// so no configuration file has to quote the passphrase.
func wifiKey(ssid, psk string) string {
	if hexPSK.MatchString(psk) {
		return strings.ToLower(psk)
	}
	key, err := pbkdf2.Key(sha1.New, psk, []byte(ssid), 4096, 32)
	if err != nil {
		panic(err) // only for invalid parameters, which these are not
	}
	return hex.EncodeToString(key)
}

// nmConnection is a NetworkManager keyfile (Raspberry Pi OS bookworm+).
func nmConnection(ssid, key string) []byte {
	// A plain string unless the SSID has characters the keyfile format
	// treats specially; then the list-of-bytes form.
	ssidValue := ssid
	if strings.ContainsAny(ssid, ";\\\"'#\n\r\t") || strings.TrimSpace(ssid) != ssid || strings.ContainsFunc(ssid, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		var b strings.Builder
		for _, c := range []byte(ssid) {
			fmt.Fprintf(&b, "%d;", c)
		}
		ssidValue = b.String()
	}
	uuid := make([]byte, 16)
	rand.Read(uuid)
	uuid[6] = uuid[6]&0x0f | 0x40
	uuid[8] = uuid[8]&0x3f | 0x80
	return []byte(fmt.Sprintf("[connection]\nid=edgeclass-wifi\nuuid=%x-%x-%x-%x-%x\ntype=wifi\nautoconnect=true\n\n"+
		"[wifi]\nmode=infrastructure\nssid=%s\n\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=%s\n\n"+
		"[ipv4]\nmethod=auto\n\n[ipv6]\naddr-gen-mode=default\nmethod=auto\n",
		uuid[:4], uuid[4:6], uuid[6:8], uuid[8:10], uuid[10:], ssidValue, key))
}

// wpaSupplicant is the configuration for releases before NetworkManager.
// The SSID is hex, so nothing needs quoting.
func wpaSupplicant(ssid, key, country string) []byte {
	return []byte(fmt.Sprintf("ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\nupdate_config=1\ncountry=%s\n\n"+
		"network={\n\tssid=%s\n\tpsk=%s\n\tkey_mgmt=WPA-PSK\n}\n", country, hex.EncodeToString([]byte(ssid)), key))
}

// cloudInitFiles merges the setup into the image's user-data and
// network-config, keeping what they already say.
func cloudInitFiles(fat *fatFS, s Setup) (userData, networkConfig []byte, err error) {
	ud := map[string]any{}
	if fat.exists("/user-data") {
		data, err := fat.readFile("/user-data")
		if err != nil {
			return nil, nil, err
		}
		if err := yaml.Unmarshal(data, &ud); err != nil {
			return nil, nil, fmt.Errorf("the image's user-data: %w", err)
		}
		if ud == nil {
			ud = map[string]any{}
		}
	}
	if s.Hostname != "" {
		ud["hostname"] = s.Hostname
		ud["manage_etc_hosts"] = true
	}
	if s.SSHKeys != "" {
		var keys []any
		if old, ok := ud["ssh_authorized_keys"].([]any); ok {
			keys = old
		}
		for _, line := range strings.Split(strings.TrimSpace(s.SSHKeys), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				keys = append(keys, line)
			}
		}
		ud["ssh_authorized_keys"] = keys
	}
	var runcmd []any
	if old, ok := ud["runcmd"].([]any); ok {
		runcmd = old
	}
	find := fmt.Sprintf("for d in %s; do if [ -f $d%s ]; then exec sh $d%s; fi; done; echo 'edgeclass: firstboot.sh not found' >&2; exit 1", firmwareDirs, scriptPath, scriptPath)
	ud["runcmd"] = append(runcmd, []any{"sh", "-c", find})
	body, err := yaml.Marshal(ud)
	if err != nil {
		return nil, nil, err
	}
	userData = append([]byte("#cloud-config\n"), body...)

	if s.WifiSSID == "" {
		return userData, nil, nil
	}
	nc := map[string]any{}
	if fat.exists("/network-config") {
		data, err := fat.readFile("/network-config")
		if err != nil {
			return nil, nil, err
		}
		if err := yaml.Unmarshal(data, &nc); err != nil {
			return nil, nil, fmt.Errorf("the image's network-config: %w", err)
		}
		if nc == nil {
			nc = map[string]any{}
		}
	}
	// Version 2 (netplan) layout, under "network:" or at the top.
	root := nc
	if inner, ok := nc["network"].(map[string]any); ok {
		root = inner
	}
	root["version"] = 2
	wifis, _ := root["wifis"].(map[string]any)
	if wifis == nil {
		wifis = map[string]any{}
	}
	wifis["wlan0"] = map[string]any{
		"dhcp4":             true,
		"optional":          true,
		"regulatory-domain": s.WifiCountry,
		"access-points":     map[string]any{s.WifiSSID: map[string]any{"password": wifiKey(s.WifiSSID, s.WifiPSK)}},
	}
	root["wifis"] = wifis
	if networkConfig, err = yaml.Marshal(nc); err != nil {
		return nil, nil, err
	}
	return userData, networkConfig, nil
}
