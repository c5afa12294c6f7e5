package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/camerad/camerad/board"
	"github.com/camerad/camerad/discovery/onvif"
)

// initConfig is camera.yml as PID 1 reads it for its own duties (the network, the RTSPS
// certificate, the address to log), over the image's defaults, as the service will.
type initConfig struct {
	Path   string
	Exists bool   // the file is there: the service gets -config
	Config Config // the service's settings; the image's defaults while Err is set
	Err    error  // why the file is not usable; nil when it is, or is absent

	// The network's settings: the file's when it is usable; with an error, those that can
	// still be read and are valid by themselves (see networkFromBroken).
	Hostname string // "" = the default name from the serial
	WiFi     WiFiConfig
	Ignored  []string // settings that could not be used for the network, and why
}

// readInitConfig reads path over the image's defaults.
func readInitConfig(path string) initConfig {
	defaults, _ := ImageDefaults.Config()
	ic := initConfig{Path: path, Config: defaults}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ic
	}
	ic.Exists = true
	cfg, err := LoadConfigOver(path, defaults)
	if err == nil {
		ic.Config, ic.Hostname, ic.WiFi = cfg, cfg.Hostname, cfg.WiFi
		return ic
	}
	ic.Err = err
	if data != nil {
		ic.Hostname, ic.WiFi, ic.Ignored = networkFromBroken(data)
	}
	return ic
}

// networkFromBroken reads the hostname and Wi-Fi settings alone from a camera.yml that has an
// error somewhere, leniently (other settings, known or misspelt, are not looked at), and
// keeps each only if it is valid by itself. A user's typo then still lets the camera join
// their network under its name, where camerad.log says what is wrong. A file that is not
// YAML at all yields nothing.
func networkFromBroken(data []byte) (hostname string, wifi WiFiConfig, ignored []string) {
	var n struct {
		Hostname string     `yaml:"hostname"`
		WiFi     WiFiConfig `yaml:"wifi"`
	}
	data = plainText(data)
	if err := yaml.Unmarshal(data, &n); err != nil {
		return "", WiFiConfig{}, []string{"hostname and wifi (could not be read)"}
	}
	keepLiteralText(data, &n) // a Wi-Fi key of digits, as typed
	if n.Hostname != "" {
		if validHostname(n.Hostname) {
			hostname = n.Hostname
		} else {
			ignored = append(ignored, "hostname (not a valid name)")
		}
	}
	switch {
	case n.WiFi.SSID == "" && (n.WiFi.PSK != "" || n.WiFi.Country != ""):
		ignored = append(ignored, "wifi (no ssid)")
	case n.WiFi.PSK != "" && (len(n.WiFi.PSK) < 8 || len(n.WiFi.PSK) > 63):
		ignored = append(ignored, "wifi (psk must be 8 to 63 characters)")
	default:
		wifi = n.WiFi
	}
	return hostname, wifi, ignored
}

// logConfig says what PID 1 makes of camera.yml: nothing when it is fine; otherwise what the
// camera does instead, in words that match what it does.
func (ic initConfig) logConfig(log *slog.Logger) {
	var ignored []any
	if len(ic.Ignored) > 0 {
		ignored = []any{"ignored", strings.Join(ic.Ignored, "; ")}
	}
	switch {
	case !ic.Exists:
		log.Info("no camera.yml on the boot partition: the camera uses its defaults", "path", ic.Path)
	case ic.Err != nil && ic.Hostname == "" && ic.WiFi.SSID == "":
		log.Error("camera.yml has an error: the stream is off until it is fixed (then restart the camera); "+
			"the network uses the defaults (Ethernet, default name)",
			append([]any{"err", ic.Err}, ignored...)...)
	case ic.Err != nil:
		ssid := ic.WiFi.SSID
		if ssid == "" {
			ssid = "(none: Ethernet only)"
		}
		host := ic.Hostname
		if host == "" {
			host = "(default)"
		}
		log.Error("camera.yml has an error: the stream is off until it is fixed (then restart the camera); "+
			"the network uses the settings that could be read from it",
			append([]any{"err", ic.Err, "hostname", host, "wifi_ssid", ssid}, ignored...)...)
	}
}

// serviceArgs are the service's arguments under PID 1: the image's defaults, under
// camera.yml when there is one. No setting is passed as a flag, since a flag would override
// the file.
func serviceArgs(ic initConfig) []string {
	args := []string{"-defaults", string(ImageDefaults)}
	if ic.Exists {
		args = append(args, "-config", ic.Path)
	}
	return args
}

// bootWriter is the boot partition's Write (board.BootFS): the partition is writable only
// inside it.
type bootWriter interface {
	Write(fn func(dir string) error) error
}

// prepareRTSPSCert makes and keeps the self-signed RTSPS certificate, when the config asks
// for RTSPS without a certificate of its own and none fit is kept yet. It runs in PID 1
// before the service starts: the boot partition, where the certificate is kept beside
// camera.yml, is read-only to the service, which then finds it there (selfSigned, the same
// code, loads it) and keeps its fingerprint from boot to boot.
func prepareRTSPSCert(cfg Config, boot bootWriter, now time.Time, log *slog.Logger) error {
	if cfg.RTSPSListen == "" || cfg.TLSCert != "" || cfg.TLSKey != "" {
		return nil
	}
	path, err := selfSignedPath(cfg)
	if err != nil {
		return fmt.Errorf("rtsps certificate: %w", err)
	}
	if _, err := loadSelfSigned(path, certNames(cfg)); err == nil {
		return nil
	}
	if err := boot.Write(func(string) error {
		_, err := selfSigned(cfg, now, log)
		return err
	}); err != nil {
		return fmt.Errorf("rtsps certificate: %w", err)
	}
	return nil
}

// reachability logs, for each new address the network gets, where a user can watch: the one
// line in camerad.log that says how to reach the camera.
type reachability struct {
	log      *slog.Logger
	ic       initConfig
	hostname string
	last     map[string]string // interface -> address last announced
}

// lease announces l's address, unless it is a renewal of the one announced last.
func (r *reachability) lease(l board.Lease) {
	if r.last == nil {
		r.last = map[string]string{}
	}
	addr := l.Addr.IP.String()
	if r.last[l.Interface] == addr {
		return
	}
	r.last[l.Interface] = addr
	if r.ic.Err != nil {
		r.log.Warn("camera reachable at this address, but the stream is off until camera.yml is fixed",
			"addr", addr, "if", l.Interface)
		return
	}
	cfg := r.ic.Config
	args := []any{"url", reachableURL("rtsp", cfg.Listen, l.Addr.IP.String(), cfg.Path)}
	if cfg.MDNSEnabled() {
		args = append(args, "mdns_url", reachableURL("rtsp", cfg.Listen, r.hostname+".local", cfg.Path))
	}
	if cfg.RTSPSListen != "" {
		args = append(args, "rtsps_url", reachableURL("rtsps", cfg.RTSPSListen, l.Addr.IP.String(), cfg.Path))
	}
	if cfg.ONVIFListen != "" {
		args = append(args, "onvif_url", reachableURL("http", cfg.ONVIFListen, l.Addr.IP.String(), onvif.DevicePath))
	}
	r.log.Info("camera reachable", append(args, "if", l.Interface)...)
}

// reachableURL is scheme://host:port/path for a listen address: its port, and host unless
// the listen address names an address of its own (then only that one answers).
func reachableURL(scheme, listen, host, path string) string {
	lhost, port, err := net.SplitHostPort(listen)
	if err != nil {
		return scheme + "://" + host + path
	}
	if ip := net.ParseIP(lhost); ip != nil && !ip.IsUnspecified() {
		host = lhost
	}
	if n, err := net.LookupPort("tcp", port); err == nil {
		port = strconv.Itoa(n)
	}
	return scheme + "://" + net.JoinHostPort(host, port) + path
}
