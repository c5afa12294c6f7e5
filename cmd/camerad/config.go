package main

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/camerad/camerad/device"
)

// Config is camerad's configuration: camera.yml on the image's boot partition, or any file
// given with -config; flags override it field by field.
type Config struct {
	Listen     string     `yaml:"listen"`      // RTSP address, ":8554" (":554" in the image)
	Path       string     `yaml:"path"`        // stream path, "/stream"
	Source     string     `yaml:"source"`      // auto | testsrc | clip | file:<path> | pipe:<command> | stdin | /dev/videoN
	Width      int        `yaml:"width"`       // picture size asked of the camera / test source
	Height     int        `yaml:"height"`      //
	FPS        int        `yaml:"fps"`         // frames per second
	Bitrate    int        `yaml:"bitrate"`     // bits per second for hardware encoders
	GOP        int        `yaml:"gop"`         // frames between keyframes
	UDPPort    int        `yaml:"udp_port"`    // server RTP port (even) for UDP viewers; 0 = any
	Multicast  string     `yaml:"multicast"`   // auto | off | <group>:<even port> for multicast viewers
	Username   string     `yaml:"username"`    // when set, viewers must authenticate
	Password   string     `yaml:"password"`    //
	MaxViewers int        `yaml:"max_viewers"` // concurrent sessions; more get 503
	Hostname   string     `yaml:"hostname"`    // mDNS name without .local; "" = camera-<serial>
	MDNS       *bool      `yaml:"mdns"`        // announce on the LAN (default true)
	WiFi       WiFiConfig `yaml:"wifi"`        // used by the image's init
	LogLevel   string     `yaml:"log_level"`   // debug | info | warn | error

	// The picture, for cameras (other sources ignore these, with a warning): flips and a half
	// turn with V4L2_CID_HFLIP/VFLIP, and any control of the camera's own, by its name as
	// `camerad -list-cameras` prints it (device.ControlKey), applied last.
	HFlip    bool             `yaml:"hflip"`    // mirror left-right
	VFlip    bool             `yaml:"vflip"`    // upside down
	Rotation int              `yaml:"rotation"` // 0 or 180 (both flips); combines with hflip/vflip by XOR
	Controls map[string]int64 `yaml:"controls"` // e.g. {brightness: 60}; int64, so Validate sees what int32 cannot hold

	// RTSP over TLS (rtsps://), off while rtsps_listen is empty. Relative certificate and
	// key paths in a config file are relative to its directory (on the image: beside
	// camera.yml on the boot partition).
	RTSPSListen string `yaml:"rtsps_listen"` // e.g. ":8322" (":322", IANA's rtsps port, in the image)
	TLSCert     string `yaml:"tls_cert"`     // PEM certificate (chain); with tls_key empty too: self-signed
	TLSKey      string `yaml:"tls_key"`      // PEM private key of tls_cert

	// ONVIF (device and media services over HTTP, WS-Discovery on the LAN), off while
	// onvif_listen is empty: NVRs and Home Assistant find the camera and its RTSP URL.
	ONVIFListen string `yaml:"onvif_listen"` // e.g. ":8899" (":80", ONVIF's usual port, in the image)

	// dir is the config file's directory ("" without a file): where a self-signed RTSPS
	// certificate is kept between starts (see selfSignedPath).
	dir string
}

// WiFiConfig is the wireless network the image joins.
type WiFiConfig struct {
	SSID    string `yaml:"ssid"`
	PSK     string `yaml:"psk"`
	Country string `yaml:"country"` // regulatory domain, e.g. "DE"
}

// DefaultConfig is what camerad runs with when nothing is configured.
func DefaultConfig() Config {
	return Config{
		Listen:      ":8554",
		Path:        "/stream",
		Source:      "auto",
		Width:       1280,
		Height:      720,
		FPS:         30,
		Bitrate:     2_000_000,
		Multicast:   "auto",
		MaxViewers:  100,
		LogLevel:    "info",
		ONVIFListen: ":8899",
	}
}

// Defaults names a set of defaults: what a setting is when neither the config file nor a
// flag sets it (flag -defaults).
type Defaults string

const (
	// StandardDefaults are for camerad run by hand or by a service manager: an unprivileged
	// port.
	StandardDefaults Defaults = "standard"
	// ImageDefaults are the SD-card image's: camerad runs as root there, and serves on
	// RTSP's own port, so that rtsp://<hostname>.local/stream works without a port even
	// with no camera.yml on the card, or one without listen.
	ImageDefaults Defaults = "image"
)

// Config returns the defaults of the set.
func (d Defaults) Config() (Config, error) {
	cfg := DefaultConfig()
	switch d {
	case StandardDefaults, "":
	case ImageDefaults:
		cfg.Listen = ":554"
		cfg.ONVIFListen = ":80"
	default:
		return cfg, fmt.Errorf("defaults %q: want %s or %s", string(d), StandardDefaults, ImageDefaults)
	}
	return cfg, nil
}

// LoadConfig reads a YAML file over the defaults. Unknown fields are errors that name the
// field and line, so a typo in camera.yml is reported rather than silently ignored.
func LoadConfig(path string) (Config, error) {
	return LoadConfigOver(path, DefaultConfig())
}

// LoadConfigOver is LoadConfig over other defaults than DefaultConfig (Defaults.Config).
func LoadConfigOver(path string, defaults Config) (Config, error) {
	cfg := defaults
	cfg.dir = filepath.Dir(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	data = plainText(data)
	// goccy/go-yaml zeroes the target for a document without content (an empty file, or a
	// camera.yml with every line commented out): such a file means "the defaults".
	var doc any
	if err := yaml.Unmarshal(data, &doc); err == nil && doc == nil {
		return cfg, nil
	}
	if err := yaml.UnmarshalWithOptions(data, &cfg, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return cfg, fmt.Errorf("config %s: %s", path, describeYAMLError(err, data))
	}
	if err := checkWholeNumbers(data); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	keepLiteralText(data, &cfg)
	// A certificate or a clip beside camera.yml is named as camera.yml sees it, whatever
	// camerad's working directory (on the image, the boot partition is not it).
	for _, p := range []*string{&cfg.TLSCert, &cfg.TLSKey} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(path), *p)
		}
	}
	if spec, err := parseSourceSpec(cfg.Source); err == nil && spec.kind == sourceFile && !filepath.IsAbs(spec.arg) {
		cfg.Source = "file:" + filepath.Join(filepath.Dir(path), spec.arg)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// validPort reports whether the address names a port a listener can take: a number up to
// 65535 or a service name (":rtsp").
func validPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	_, err = net.LookupPort("tcp", port)
	return err == nil
}

// MDNSEnabled reports whether mDNS announcement is on (the default).
func (c Config) MDNSEnabled() bool { return c.MDNS == nil || *c.MDNS }

// Validate checks every field and names the first bad one.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if c.Listen == "" {
		bad("listen", "must not be empty (e.g. \":8554\")")
	} else if i := strings.LastIndexByte(c.Listen, ':'); i < 0 {
		bad("listen", "%q has no port (e.g. \":8554\")", c.Listen)
	} else if !validPort(c.Listen) {
		bad("listen", "%q is not host:port with a port from 0 to 65535 (e.g. \":8554\")", c.Listen)
	}
	if !strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, " ?#") || strings.Contains(c.Path, "trackID=") {
		bad("path", "%q must start with / and contain no spaces, ?, # or trackID=", c.Path)
	}
	if c.Source == "" {
		bad("source", "must not be empty (auto, testsrc, clip, file:<path>, pipe:<command>, stdin or /dev/videoN)")
	} else if spec, err := parseSourceSpec(c.Source); err != nil {
		bad("source", "%v", err)
	} else if spec.kind == sourceFile {
		if _, err := os.Stat(spec.arg); err != nil {
			bad("source", "%v", err)
		}
	}
	if c.Width < 16 || c.Width > 4096 || c.Width%2 != 0 {
		bad("width", "%d must be even and between 16 and 4096", c.Width)
	}
	if c.Height < 16 || c.Height > 4096 || c.Height%2 != 0 {
		bad("height", "%d must be even and between 16 and 4096", c.Height)
	}
	if c.FPS < 1 || c.FPS > 120 {
		bad("fps", "%d must be between 1 and 120", c.FPS)
	}
	if c.Bitrate < 0 || (c.Bitrate > 0 && c.Bitrate < 64_000) || c.Bitrate > 50_000_000 {
		bad("bitrate", "%d must be between 64000 and 50000000 bits per second, or 0 for the encoder's default", c.Bitrate)
	}
	if c.GOP < 0 || c.GOP > 1000 {
		bad("gop", "%d must be between 0 (one second) and 1000 frames", c.GOP)
	}
	if c.UDPPort < 0 || c.UDPPort > 65534 || c.UDPPort%2 != 0 {
		bad("udp_port", "%d must be an even port (RTP; RTCP uses the next one) or 0", c.UDPPort)
	}
	if err := checkMulticast(c.Multicast, c.Listen, c.UDPPort); err != nil {
		bad("multicast", "%v", err)
	}
	if c.MaxViewers < 1 || c.MaxViewers > 1000 {
		bad("max_viewers", "%d must be between 1 and 1000", c.MaxViewers)
	}
	if c.Password != "" && c.Username == "" {
		bad("username", "must be set when password is")
	}
	if c.Username != "" && c.Password == "" {
		bad("password", "must be set when username is (an empty password protects nothing)")
	}
	if c.Hostname != "" && !validHostname(c.Hostname) {
		bad("hostname", "%q must be letters, digits and hyphens (at most 63), without .local", c.Hostname)
	}
	if c.WiFi.SSID != "" && c.WiFi.PSK != "" && (len(c.WiFi.PSK) < 8 || len(c.WiFi.PSK) > 63) {
		bad("wifi.psk", "must be 8 to 63 characters for WPA2-PSK")
	}
	if _, err := parseLogLevel(c.LogLevel); err != nil {
		bad("log_level", "%v", err)
	}
	if c.Rotation != 0 && c.Rotation != 180 {
		bad("rotation", "%d must be 0 or 180 (a quarter turn would need the picture transposed, which cameras do not do)", c.Rotation)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Controls)) {
		if name == "" || device.ControlKey(name) != name {
			bad("controls."+name, "%q is not a control name as camerad -list-cameras prints it: lowercase letters and digits, words joined by single _ (e.g. brightness, auto_exposure)", name)
		}
		if v := c.Controls[name]; v < math.MinInt32 || v > math.MaxInt32 {
			bad("controls."+name, "%d is out of range: %s", v, controlRange)
		}
	}
	switch {
	case c.RTSPSListen == "":
		if c.TLSCert != "" || c.TLSKey != "" {
			bad("rtsps_listen", "must be set when tls_cert or tls_key is (e.g. \":8322\")")
		}
	case strings.LastIndexByte(c.RTSPSListen, ':') < 0:
		bad("rtsps_listen", "%q has no port (e.g. \":8322\")", c.RTSPSListen)
	case !validPort(c.RTSPSListen):
		bad("rtsps_listen", "%q is not host:port with a port from 0 to 65535 (e.g. \":8322\")", c.RTSPSListen)
	case c.RTSPSListen == c.Listen && !strings.HasSuffix(c.Listen, ":0"): // port 0: any free one each
		bad("rtsps_listen", "%q is the listen address too; RTSP and RTSPS need a port each", c.RTSPSListen)
	}
	switch {
	case c.ONVIFListen == "":
	case strings.LastIndexByte(c.ONVIFListen, ':') < 0:
		bad("onvif_listen", "%q has no port (e.g. \":8899\"; \"\" turns ONVIF off)", c.ONVIFListen)
	case !validPort(c.ONVIFListen):
		bad("onvif_listen", "%q is not host:port with a port from 0 to 65535 (e.g. \":8899\")", c.ONVIFListen)
	case strings.HasSuffix(c.ONVIFListen, ":0"): // any free port each: no clash
	case c.ONVIFListen == c.Listen || c.ONVIFListen == c.RTSPSListen:
		bad("onvif_listen", "%q is an RTSP address too; ONVIF's HTTP needs a port of its own", c.ONVIFListen)
	}
	if c.TLSCert != "" && c.TLSKey == "" {
		bad("tls_key", "must be set when tls_cert is (the certificate's private key, PEM)")
	}
	if c.TLSKey != "" && c.TLSCert == "" {
		bad("tls_cert", "must be set when tls_key is (the key's certificate, PEM)")
	}
	return errors.Join(errs...)
}

// controlRange is what a value under controls: may be (the decoder's refusal of a number
// beyond int64 says it too).
const controlRange = "a V4L2 control holds a 32-bit value (-2147483648 to 2147483647)"

func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 63 || h[0] == '-' || h[len(h)-1] == '-' {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
