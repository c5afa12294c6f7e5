package main

import (
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeConfig writes a camera.yml into a fresh directory and returns its path.
func writeConfig(t *testing.T, yml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "camera.yml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigFull(t *testing.T) {
	p := writeConfig(t, `# every field, as a user would write camera.yml
listen: ":554"
path: /cam1
source: clip
width: 1920
height: 1080
fps: 25
bitrate: 4000000
gop: 50
udp_port: 6970
multicast: 239.255.0.7:5008
username: admin
password: s3cret
max_viewers: 4
hostname: garden-cam
mdns: false
onvif_listen: ":8080"
wifi:
  ssid: "Home Net"
  psk: "correct horse"
  country: DE
log_level: debug
hflip: true
vflip: false
rotation: 180
controls:
  brightness: 60
  auto_exposure: 1
  exposure_time_absolute: 2e3
`)
	got, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	f := false
	want := Config{
		Listen: ":554", Path: "/cam1", Source: "clip", Width: 1920, Height: 1080, FPS: 25,
		Bitrate: 4_000_000, GOP: 50, UDPPort: 6970, Multicast: "239.255.0.7:5008", Username: "admin", Password: "s3cret",
		MaxViewers: 4, Hostname: "garden-cam", MDNS: &f, ONVIFListen: ":8080",
		WiFi:     WiFiConfig{SSID: "Home Net", PSK: "correct horse", Country: "DE"},
		LogLevel: "debug",
		HFlip:    true, Rotation: 180,
		Controls: map[string]int64{"brightness": 60, "auto_exposure": 1, "exposure_time_absolute": 2000},
		dir:      filepath.Dir(p),
	}
	if got.MDNS == nil || *got.MDNS != false {
		t.Errorf("mdns = %v, want false", got.MDNS)
	}
	got.MDNS, want.MDNS = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadConfig:\n got %+v\nwant %+v", got, want)
	}
}

// TestLoadConfigPartial: what the file leaves out keeps its default, and mDNS stays on.
func TestLoadConfigPartial(t *testing.T) {
	p := writeConfig(t, "fps: 15\nwifi:\n  ssid: cafe\n")
	got, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.dir = filepath.Dir(p) // where a self-signed certificate is kept
	want.FPS = 15
	want.WiFi.SSID = "cafe"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if !got.MDNSEnabled() {
		t.Errorf("mDNS disabled without mdns: in the file")
	}
}

// TestLoadConfigTLSPaths: certificate and key paths in camera.yml are relative to its
// directory (the boot partition on the image), not to camerad's working directory.
func TestLoadConfigTLSPaths(t *testing.T) {
	p := writeConfig(t, "rtsps_listen: \":322\"\ntls_cert: cam.crt\ntls_key: /etc/cam.key\n")
	got, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(p), "cam.crt"); got.TLSCert != want {
		t.Errorf("tls_cert = %q, want %q", got.TLSCert, want)
	}
	if got.TLSKey != "/etc/cam.key" || got.RTSPSListen != ":322" {
		t.Errorf("tls_key = %q, rtsps_listen = %q", got.TLSKey, got.RTSPSListen)
	}
	c, _, err := parseArgs([]string{"-config", p, "-rtsps-listen", ":8322", "-tls-cert", "a.crt", "-tls-key", "a.key"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.RTSPSListen != ":8322" || c.TLSCert != "a.crt" || c.TLSKey != "a.key" {
		t.Errorf("flags did not override the file's RTSPS settings: %q %q %q", c.RTSPSListen, c.TLSCert, c.TLSKey)
	}
	if c.dir != filepath.Dir(p) {
		t.Errorf("flags lost the config file's directory (where the self-signed certificate is kept): %q", c.dir)
	}
}

// TestLoadConfigFilePath: a clip named in camera.yml is found beside it too, whatever the
// working directory; a -source flag is the shell's and stays relative to it.
func TestLoadConfigFilePath(t *testing.T) {
	p := writeConfig(t, "source: file:clip.h264\n")
	clip := filepath.Join(filepath.Dir(p), "clip.h264")
	if err := os.WriteFile(clip, []byte{0, 0, 0, 1}, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // not where the config is
	got, err := LoadConfig(p)
	if err != nil {
		t.Fatalf("a clip beside the config file: %v", err)
	}
	if got.Source != "file:"+clip {
		t.Errorf("source = %q, want %q", got.Source, "file:"+clip)
	}
	c, _, err := parseArgs([]string{"-config", p, "-source", "file:" + clip}, io.Discard)
	if err != nil || c.Source != "file:"+clip {
		t.Errorf("-source over the file: %q, %v", c.Source, err)
	}
}

// TestLoadConfigNumbers: a fraction where a whole number belongs is an error naming the field
// (the decoder would truncate it), while a whole number in float notation is accepted.
func TestLoadConfigNumbers(t *testing.T) {
	got, err := LoadConfig(writeConfig(t, "bitrate: 2e6\nwidth: 640.0\n"))
	if err != nil {
		t.Fatalf("whole numbers in float notation: %v", err)
	}
	if got.Bitrate != 2_000_000 || got.Width != 640 {
		t.Errorf("bitrate %d, width %d; want 2000000 and 640", got.Bitrate, got.Width)
	}
}

// TestLoadConfigTextAsWritten: a password, Wi-Fi key or name that YAML would read as a number
// or a boolean is taken as typed. Unquoted, 01234567 is octal to YAML (342391), 0x1F is 31
// and 00001111 loses the four zeros that made it a valid WPA key.
func TestLoadConfigTextAsWritten(t *testing.T) {
	got, err := LoadConfig(writeConfig(t, "username: 0000\npassword: 01234567\nhostname: 1e3\n"+
		"wifi:\n  ssid: 0x1F\n  psk: 00001111\n  country: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, got, want string }{
		{"username", got.Username, "0000"},
		{"password", got.Password, "01234567"},
		{"hostname", got.Hostname, "1e3"},
		{"wifi.ssid", got.WiFi.SSID, "0x1F"},
		{"wifi.psk", got.WiFi.PSK, "00001111"},
		{"wifi.country", got.WiFi.Country, "true"},
	} {
		if f.got != f.want {
			t.Errorf("%s: got %q, want %q as written", f.name, f.got, f.want)
		}
	}
}

// TestLoadConfigFromWindows: camera.yml saved by Notepad (CRLF line ends, sometimes a UTF-8
// byte-order mark) loads, and an error in it points at its real line.
func TestLoadConfigFromWindows(t *testing.T) {
	got, err := LoadConfig(writeConfig(t, "\xef\xbb\xbf# my camera\r\nfps: 25\r\nhostname: garden\r\n"))
	if err != nil {
		t.Fatalf("a Notepad file: %v", err)
	}
	if got.FPS != 25 || got.Hostname != "garden" {
		t.Errorf("fps %d, hostname %q; want 25 and garden", got.FPS, got.Hostname)
	}
	lines := strings.Repeat("# a comment\r\n", 20)
	for _, tc := range []struct{ yml, want string }{
		{lines + "sorce: auto\r\n", "[21:1] unknown field \"sorce\""},
		{lines + "fps: 25\r\nmdns: yes\r\nhostname: x\r\n", "[22:7] mdns: want true or false, got yes"},
	} {
		_, err := LoadConfig(writeConfig(t, tc.yml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v; want it to contain %q", err, tc.want)
		}
	}
}

func TestLoadConfigCommentsOnly(t *testing.T) {
	// The image ships a camera.yml that is all comments until the user edits it.
	p := writeConfig(t, "# wifi:\n#   ssid: my-network\n")
	got, err := LoadConfig(p)
	if err != nil {
		t.Fatalf("a comment-only file must load as the defaults: %v", err)
	}
	want := DefaultConfig()
	want.dir = filepath.Dir(p)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want the defaults", got)
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.yml")
	_, err := LoadConfig(p)
	if err == nil || !strings.Contains(err.Error(), "nope.yml") {
		t.Errorf("missing file: err = %v, want one naming the file", err)
	}
}

// TestLoadConfigRejects: a typo or a bad value is an error that names the field (and, for
// syntax-level problems, where it is), never silently ignored.
func TestLoadConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		want      []string // substrings the error must contain
	}{
		{"unknown field", "fps: 30\nwidht: 640\n", []string{"widht"}},
		{"unknown nested field", "wifi:\n  ssid: x\n  pks: secret99\n", []string{`[3:3] unknown field "wifi.pks"`}},
		{"unknown nested field, flow", "wifi: {ssid: x, pks: secret99}\n", []string{`unknown field "wifi.pks"`}},
		{"wrong type", "width: wide\n", []string{"width: want a whole number, got wide"}},
		{"wrong type bool", "mdns: yes\n", []string{"mdns: want true or false, got yes"}},
		{"wrong type nested", "wifi:\n  ssid: home\n  psk: [1]\n", []string{"[3:8] wifi.psk: want text", "got a list"}},
		{"wrong type struct", "wifi: 5\n", []string{"[1:7] wifi: want a mapping (name: value pairs), got 5"}},
		// A value under wifi: is named by its full field, whether the value is on the key's
		// line, on lines of its own or in {braces} (where the decoder would name the parent).
		{"wifi ssid list", "wifi:\n  ssid: [home, work]\n", []string{
			"[2:9] wifi.ssid: want text (quote it if it looks like something else), got a list"}},
		{"wifi ssid list, block", "wifi:\n  ssid:\n    - home\n", []string{"[3:5] wifi.ssid: want text", "got a list"}},
		{"wifi ssid mapping", "wifi:\n  ssid:\n    name: home\n", []string{"[3:9] wifi.ssid: want text", "got a mapping"}},
		{"wifi ssid mapping, flow", "wifi: {ssid: {name: home}}\n", []string{"[1:14] wifi.ssid: want text", "got a mapping"}},
		{"wifi psk given twice", "wifi:\n  psk: secret99\n  psk: secret98\n", []string{`[3:3] wifi.psk: mapping key "psk" already defined`}},
		{"duplicate key", "fps: 30\nfps: 25\n", []string{"fps"}},
		{"not a mapping", "- a\n- b\n", nil},
		{"listen empty", "listen: \"\"\n", []string{"listen"}},
		{"listen no port", "listen: localhost\n", []string{"listen", "localhost"}},
		{"listen port range", "listen: \"127.0.0.1:99999\"\n", []string{"listen", "99999"}},
		{"width fraction", "width: 640.5\n", []string{"[1:8] width: want a whole number, got 640.5"}},
		{"fps fraction", "fps: 29.97\n", []string{"fps: want a whole number, got 29.97"}},
		{"path relative", "path: stream\n", []string{"path"}},
		{"path query", "path: /s?x=1\n", []string{"path"}},
		{"source unknown", "source: webcam\n", []string{"source", "webcam"}},
		{"source empty file", "source: \"file:\"\n", []string{"source"}},
		{"width odd", "width: 641\n", []string{"width", "641"}},
		{"width small", "width: 8\n", []string{"width"}},
		{"height big", "height: 5000\n", []string{"height", "5000"}},
		{"fps zero", "fps: 0\n", []string{"fps"}},
		{"fps big", "fps: 240\n", []string{"fps", "240"}},
		{"bitrate low", "bitrate: 1000\n", []string{"bitrate"}},
		{"bitrate high", "bitrate: 60000000\n", []string{"bitrate"}},
		{"gop negative", "gop: -1\n", []string{"gop"}},
		{"udp odd", "udp_port: 5001\n", []string{"udp_port", "5001"}},
		{"udp range", "udp_port: 70000\n", []string{"udp_port"}},
		{"multicast word", "multicast: on\n", []string{"multicast", "on"}},
		{"multicast unicast address", "multicast: 192.168.1.10:5004\n", []string{"multicast", "192.168.1.10"}},
		{"multicast no port", "multicast: 239.255.1.1\n", []string{"multicast"}},
		{"multicast odd port", "multicast: 239.255.1.1:5005\n", []string{"multicast", "5005"}},
		{"multicast routing group", "multicast: 224.0.0.9:5004\n", []string{"multicast", "224.0.0.9"}},
		{"multicast on udp_port", "udp_port: 6970\nmulticast: 239.255.1.1:6970\n", []string{"multicast", "udp_port"}},
		{"multicast with IPv6 listen", "listen: \"[::1]:8554\"\nmulticast: 239.255.1.1:5004\n", []string{"multicast", "IPv6"}},
		{"max viewers zero", "max_viewers: 0\n", []string{"max_viewers"}},
		{"password alone", "password: x\n", []string{"username"}},
		{"username alone", "username: admin\n", []string{"password", "username"}},
		{"source file missing", "source: \"file:/nonexistent/cam.h264\"\n", []string{"source", "/nonexistent/cam.h264"}},
		{"hostname dot local", "hostname: cam.local\n", []string{"hostname"}},
		{"hostname dash", "hostname: -cam\n", []string{"hostname"}},
		{"psk short", "wifi:\n  ssid: home\n  psk: short\n", []string{"wifi.psk"}},
		{"log level", "log_level: loud\n", []string{"log_level", "loud"}},
		{"rtsps no port", "rtsps_listen: localhost\n", []string{"rtsps_listen", "localhost"}},
		{"rtsps port range", "rtsps_listen: \":70000\"\n", []string{"rtsps_listen", "70000"}},
		{"rtsps on listen", "listen: \":8554\"\nrtsps_listen: \":8554\"\n", []string{"rtsps_listen"}},
		{"cert without key", "rtsps_listen: \":8322\"\ntls_cert: cam.crt\n", []string{"tls_key"}},
		{"key without cert", "rtsps_listen: \":8322\"\ntls_key: cam.key\n", []string{"tls_cert"}},
		{"cert without rtsps", "tls_cert: cam.crt\ntls_key: cam.key\n", []string{"rtsps_listen"}},
		{"onvif no port", "onvif_listen: camera\n", []string{"onvif_listen", "camera"}},
		{"onvif port range", "onvif_listen: \":99999\"\n", []string{"onvif_listen", "99999"}},
		{"onvif on listen", "listen: \":8554\"\nonvif_listen: \":8554\"\n", []string{"onvif_listen", "port of its own"}},
		{"onvif on rtsps", "rtsps_listen: \":8322\"\nonvif_listen: \":8322\"\n", []string{"onvif_listen"}},
		{"rotation quarter turn", "rotation: 90\n", []string{"rotation: 90 must be 0 or 180"}},
		{"rotation fraction", "rotation: 180.5\n", []string{"rotation: want a whole number, got 180.5"}},
		{"hflip word", "hflip: yes\n", []string{"hflip: want true or false, got yes"}},
		{"controls not a mapping", "controls: 5\n", []string{"[1:11] controls: want a mapping (name: value pairs), got 5"}},
		{"controls a list", "controls: [brightness]\n", []string{"controls: want a mapping (name: value pairs), got a list"}},
		{"control name capitals", "controls:\n  Brightness: 60\n", []string{"controls.Brightness", "-list-cameras"}},
		{"control name spaces", "controls:\n  \"white balance\": 1\n", []string{"controls.white balance"}},
		{"control name double _", "controls:\n  auto__exposure: 1\n", []string{"controls.auto__exposure"}},
		{"control value too big", "controls:\n  brightness: 2147483648\n", []string{"controls.brightness", "2147483648"}},
		{"control value too small", "controls:\n  gain: -2147483649\n", []string{"controls.gain", "-2147483649"}},
		{"control value fraction", "controls:\n  brightness: 60.5\n", []string{"[2:15] controls.brightness: want a whole number, got 60.5"}},
		{"control value fraction, flow", "controls: {gain: 0.5}\n", []string{"controls.gain: want a whole number, got 0.5"}},
		{"control value missing", "controls:\n  brightness:\n", []string{"controls.brightness: want a whole number, got nothing"}},
		// Every error about a value under controls: names it as controls.<name>, with what the
		// field takes and what it got; the decoder's own would name the key alone, the parent
		// (flow style) or nothing (a value on lines of its own).
		{"control value word", "controls:\n  brightness: high\n", []string{"[2:15] controls.brightness: want a whole number, got high"}},
		{"control value word, flow", "controls: {brightness: high}\n", []string{"[1:24] controls.brightness: want a whole number, got high"}},
		{"control value quoted word", "controls:\n  gain: \"max\"\n", []string{"[2:9] controls.gain: want a whole number, got max"}},
		{"control value boolean", "controls:\n  horizontal_flip: true\n", []string{"controls.horizontal_flip: want a whole number, got true"}},
		{"control value list", "controls:\n  brightness: [1, 2]\n", []string{"[2:15] controls.brightness: want a whole number, got a list"}},
		{"control value list, block", "controls:\n  brightness:\n    - 1\n", []string{"[3:5] controls.brightness: want a whole number, got a list"}},
		{"control value list, flow", "controls: {brightness: [1]}\n", []string{"[1:24] controls.brightness: want a whole number, got a list"}},
		{"control value mapping", "controls:\n  brightness: {auto: 1}\n", []string{"[2:15] controls.brightness: want a whole number, got a mapping"}},
		{"control value mapping, block", "controls:\n  brightness:\n    auto: 1\n", []string{"[3:9] controls.brightness: want a whole number, got a mapping"}},
		{"control value anchored list", "controls:\n  brightness: &b [1]\n", []string{"controls.brightness: want a whole number, got a list"}},
		{"control value beyond int64", "controls:\n  gain: 99999999999999999999\n", []string{
			"[2:9] controls.gain: 99999999999999999999 is out of range: a V4L2 control holds a 32-bit value (-2147483648 to 2147483647)"}},
		{"control value nan", "controls:\n  gain: .nan\n", []string{"controls.gain: want a whole number, got .nan"}},
		{"control given twice", "controls:\n  gain: 1\n  gain: 2\n", []string{`[3:3] controls.gain: mapping key "gain" already defined at [2:3]`}},
		{"control value fraction, quoted name", "controls:\n  \"gain\": 1.5\n", []string{"controls.gain: want a whole number, got 1.5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.yml)
			_, err := LoadConfig(p)
			if err == nil {
				t.Fatalf("LoadConfig accepted:\n%s", tc.yml)
			}
			msg := err.Error()
			if !strings.Contains(msg, p) {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// TestLoadConfigNamesEveryBadField: all problems are reported at once, so the user fixes
// camera.yml in one go instead of one reboot per mistake.
func TestLoadConfigNamesEveryBadField(t *testing.T) {
	_, err := LoadConfig(writeConfig(t, "width: 7\nfps: 0\nlog_level: chatty\n"))
	if err == nil {
		t.Fatal("accepted three bad values")
	}
	for _, field := range []string{"width", "fps", "log_level"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

// TestValidateDefaults: what camerad runs with when nothing is configured is itself valid.
func TestValidateDefaults(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

// TestValidateCameraSettings: rotation is a half turn or none, and each control is a name as
// -list-cameras prints it with a 32-bit value; each error names the setting.
func TestValidateCameraSettings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rotation int
		controls map[string]int64
		want     []string // settings named in the error; nil: valid
	}{
		{"defaults", 0, nil, nil},
		{"half turn", 180, map[string]int64{"brightness": 60, "white_balance_automatic": 0, "h264_i_frame_period": 30}, nil},
		{"int32 range", 0, map[string]int64{"a": math.MaxInt32, "b": math.MinInt32}, nil},
		{"quarter turn", 90, nil, []string{"rotation: 90"}},
		{"three quarters", 270, nil, []string{"rotation: 270"}},
		{"negative half turn", -180, nil, []string{"rotation: -180"}},
		{"empty name", 0, map[string]int64{"": 1}, []string{`controls.: ""`}},
		{"driver's name", 0, map[string]int64{"Horizontal Flip": 1}, []string{"controls.Horizontal Flip"}},
		{"leading _", 0, map[string]int64{"_gain": 1}, []string{"controls._gain"}},
		{"trailing _", 0, map[string]int64{"gain_": 1}, []string{"controls.gain_"}},
		{"dash", 0, map[string]int64{"auto-exposure": 1}, []string{"controls.auto-exposure"}},
		{"over int32", 0, map[string]int64{"x": math.MaxInt32 + 1}, []string{"controls.x: 2147483648"}},
		{"under int32", 0, map[string]int64{"y": math.MinInt32 - 1}, []string{"controls.y: -2147483649"}},
		{"all named", 270, map[string]int64{"Bad": 1, "ok": 1 << 40}, []string{"rotation", "controls.Bad", "controls.ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Rotation, c.Controls = tc.rotation, tc.controls
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

// TestFlagsOverrideFile: a flag given on the command line wins over the file, even when it
// repeats the default; what no flag sets keeps the file's value.
func TestFlagsOverrideFile(t *testing.T) {
	p := writeConfig(t, "fps: 10\nwidth: 640\nheight: 480\nsource: clip\nmdns: false\nlog_level: warn\n")
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, c Config)
	}{
		{"file only", []string{"-config", p}, func(t *testing.T, c Config) {
			if c.FPS != 10 || c.Width != 640 || c.Height != 480 || c.Source != "clip" || c.MDNSEnabled() || c.LogLevel != "warn" {
				t.Errorf("file values not applied: %+v", c)
			}
			if c.Listen != DefaultConfig().Listen || c.Path != DefaultConfig().Path {
				t.Errorf("defaults not kept for fields the file omits: %+v", c)
			}
		}},
		{"flag wins", []string{"-config", p, "-fps", "25", "-source", "testsrc"}, func(t *testing.T, c Config) {
			if c.FPS != 25 || c.Source != "testsrc" {
				t.Errorf("flags did not override: fps=%d source=%s", c.FPS, c.Source)
			}
			if c.Width != 640 || c.Height != 480 {
				t.Errorf("file values lost: %dx%d", c.Width, c.Height)
			}
		}},
		{"flag order irrelevant", []string{"-fps", "25", "-config", p}, func(t *testing.T, c Config) {
			if c.FPS != 25 {
				t.Errorf("fps = %d, want the flag's 25 although -config came later", c.FPS)
			}
		}},
		{"flag equal to default still wins", []string{"-config", p, "-fps", "30", "-mdns=true"}, func(t *testing.T, c Config) {
			if c.FPS != 30 || !c.MDNSEnabled() {
				t.Errorf("fps=%d mdns=%v, want 30 and true from the flags", c.FPS, c.MDNSEnabled())
			}
		}},
		{"orientation flags", []string{"-config", p, "-hflip", "-rotation", "180"}, func(t *testing.T, c Config) {
			if !c.HFlip || c.VFlip || c.Rotation != 180 {
				t.Errorf("hflip %v vflip %v rotation %d, want true, false, 180", c.HFlip, c.VFlip, c.Rotation)
			}
		}},
		{"orientation flags over the file", []string{"-config", writeConfig(t, "hflip: true\nvflip: true\nrotation: 180\n"),
			"-vflip=false", "-rotation", "0"}, func(t *testing.T, c Config) {
			if !c.HFlip || c.VFlip || c.Rotation != 0 {
				t.Errorf("hflip %v vflip %v rotation %d, want the file's true and the flags' false and 0", c.HFlip, c.VFlip, c.Rotation)
			}
		}},
		{"no file", []string{"-listen", "127.0.0.1:9000", "-mdns=false"}, func(t *testing.T, c Config) {
			want := DefaultConfig()
			want.Listen = "127.0.0.1:9000"
			if c.MDNSEnabled() {
				t.Errorf("-mdns=false ignored")
			}
			c.MDNS = nil
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v\nwant %+v", c, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := parseArgs(tc.args, io.Discard)
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tc.args, err)
			}
			tc.check(t, c)
		})
	}
}

// TestFlagsValidated: an invalid flag value is rejected like an invalid file value, naming
// the setting; and a bad file is reported even when flags would fix it.
func TestFlagsValidated(t *testing.T) {
	_, _, err := parseArgs([]string{"-width", "13"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "width") {
		t.Errorf("-width 13: err = %v, want one naming width", err)
	}
	bad := writeConfig(t, "fps: 0\n")
	_, _, err = parseArgs([]string{"-config", bad, "-fps", "30"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "fps") {
		t.Errorf("bad file with fixing flag: err = %v, want the file's fps error", err)
	}
	_, _, err = parseArgs([]string{"-rotation", "90"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "rotation") {
		t.Errorf("-rotation 90: err = %v, want one naming rotation", err)
	}
	_, _, err = parseArgs([]string{"stray"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "stray") {
		t.Errorf("positional argument: err = %v", err)
	}
}

func TestParseSourceSpec(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    sourceSpec
		wantErr bool
	}{
		{in: "auto", want: sourceSpec{kind: sourceAuto}},
		{in: "testsrc", want: sourceSpec{kind: sourceTestsrc}},
		{in: "clip", want: sourceSpec{kind: sourceClip}},
		{in: "stdin", want: sourceSpec{kind: sourceStdin}},
		{in: "-", want: sourceSpec{kind: sourceStdin}},
		{in: "file:/data/clip.h264", want: sourceSpec{kind: sourceFile, arg: "/data/clip.h264"}},
		{in: "file:rel/a b.264", want: sourceSpec{kind: sourceFile, arg: "rel/a b.264"}},
		{in: "pipe:rpicam-vid -t 0 --inline -o -", want: sourceSpec{kind: sourcePipe, arg: "rpicam-vid -t 0 --inline -o -"}},
		{in: "pipe:  cat x.h264 ", want: sourceSpec{kind: sourcePipe, arg: "cat x.h264"}},
		{in: "/dev/video0", want: sourceSpec{kind: sourceDevice, arg: "/dev/video0"}},
		{in: "/dev/v4l/by-id/usb-cam-video-index0", want: sourceSpec{kind: sourceDevice, arg: "/dev/v4l/by-id/usb-cam-video-index0"}},
		{in: "", wantErr: true},
		{in: "file:", wantErr: true},
		{in: "pipe:", wantErr: true},
		{in: "pipe:   ", wantErr: true},
		{in: "camera", wantErr: true},
		{in: "Auto", wantErr: true},
		{in: "video0", wantErr: true},
		{in: "rtsp://elsewhere/stream", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSourceSpec(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseSourceSpec(%q) = %+v, want an error", tc.in, got)
				}
				if tc.in != "" && !strings.Contains(err.Error(), tc.in) {
					t.Errorf("error %q does not quote the input", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseSourceSpec(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("parseSourceSpec(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// TestMulticastGroupSetting: "auto" gives each camera (name and RTSP port) its own group on the
// LAN, away from SSDP's and SLP's; "off" gives none; an address is taken as it is.
func TestMulticastGroupSetting(t *testing.T) {
	if g := multicastGroup("off", "camera-1", ":8554", 0); g.IsValid() {
		t.Errorf("off: group %v", g)
	}
	if g := multicastGroup("239.1.2.3:6000", "camera-1", ":8554", 0); g.String() != "239.1.2.3:6000" {
		t.Errorf("explicit group became %v", g)
	}
	// Media sockets bound to one IPv6 address cannot send to an IPv4 group: auto is off there.
	for listen, want := range map[string]bool{"[::1]:8554": false, "[fe80::1%eth0]:8554": false,
		"[::]:8554": true, "127.0.0.1:8554": true, "[::ffff:10.0.0.1]:8554": true, "cam.local:8554": true} {
		if g := multicastGroup("auto", "camera-1", listen, 0); g.IsValid() != want {
			t.Errorf("auto with listen %s: group %v, want one: %v", listen, g, want)
		}
	}
	seen := map[netip.Addr]string{}
	for i := range 2000 {
		name := fmt.Sprintf("camera-%04x", i)
		listen := fmt.Sprintf(":%d", 554+8000*(i%2))
		g := multicastGroup("auto", name, listen, 0)
		if err := checkMulticast(g.String(), listen, 0); err != nil {
			t.Fatalf("auto group %v for %s: %v", g, name, err)
		}
		a := g.Addr().As4()
		if a[0] != 239 || a[1] != 255 || a[2] == 255 || a[3] == 0 || a[3] == 255 || g.Port() != defaultMulticastPort {
			t.Fatalf("auto group %v for %s: want 239.255.0-254.1-254:%d", g, name, defaultMulticastPort)
		}
		if again := multicastGroup("auto", name, listen, 0); again != g {
			t.Fatalf("auto group for %s changed from %v to %v", name, g, again)
		}
		seen[g.Addr()] = name
	}
	// 2000 cameras in 64516 groups: a hash spreads them with few collisions (about 30).
	if len(seen) < 1900 {
		t.Errorf("2000 cameras share only %d groups", len(seen))
	}
	if g := multicastGroup("auto", "camera-1", ":8554", defaultMulticastPort); g.Port() == defaultMulticastPort {
		t.Errorf("auto group %v on udp_port's port", g)
	}
	if multicastGroup("auto", "camera-1", ":8554", 0) == multicastGroup("auto", "camera-1", ":8555", 0) {
		t.Error("two camerad on one machine (different RTSP ports) got the same group")
	}
}

// FuzzLoadConfig: whatever camera.yml holds, loading it never panics, and a refusal names
// the file.
func FuzzLoadConfig(f *testing.F) {
	for _, seed := range []string{
		"fps: 30\nwidth: 640\n", "mdns: yes\n", "wifi:\n  ssid: home\n  psk: [1]\n", "wifi: 5\n",
		"- a\n- b\n", "listen: \":8554\"\nusername: a\npassword: b\n", "{a: [}", "width: &x 5\nheight: *x\n",
		"source: \"file:\"\n", "tls_cert: !!binary abc\n", "\t- : :\n",
		"controls:\n  x:\n", "controls: {a: 1.5, : 2}\n", "controls:\n  ? [a]\n  : 1\n",
		"controls: {brightness: [1]}\n", "controls:\n  b:\n    - &x 1\n", "wifi: {ssid: !!map {a: 1}}\n",
		"controls:\n  b: 99999999999999999999\n", "wifi:\n  psk: a\n  psk: b\n",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, yml string) {
		p := filepath.Join(dir, "camera.yml")
		if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(p); err != nil && !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name the file", err)
		}
	})
}
