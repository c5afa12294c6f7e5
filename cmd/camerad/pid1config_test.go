package main

import (
	"bytes"
	"cmp"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camerad/camerad/board"
)

// writeCameraYML writes content as camera.yml in a fresh directory (nil: no file) and
// returns its path.
func writeCameraYML(t *testing.T, content *string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "camera.yml")
	if content != nil {
		if err := os.WriteFile(p, []byte(*content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func ptr(s string) *string { return &s }

// TestImageServiceListensOn554: under PID 1 the service listens on RTSP's port 554 when
// camera.yml does not say otherwise (no file, an empty one, one without listen), as the
// README promises; a listen in camera.yml still wins, and so does a flag.
func TestImageServiceListensOn554(t *testing.T) {
	withoutListen := strings.Replace(template(t), "\nlisten: \":554\"\n", "\n", 1)
	if strings.Contains(withoutListen, "\nlisten:") {
		t.Fatal("template's listen line not found")
	}
	for _, tc := range []struct {
		name    string
		content *string
		want    string
	}{
		{"no camera.yml", nil, ":554"},
		{"empty camera.yml", ptr(""), ":554"},
		{"template without listen", ptr(withoutListen), ":554"},
		{"template", ptr(template(t)), ":554"},
		{"listen set", ptr("listen: \":8555\"\n"), ":8555"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ic := readInitConfig(writeCameraYML(t, tc.content))
			if ic.Err != nil {
				t.Fatal(ic.Err)
			}
			args := serviceArgs(ic)
			cfg, _, err := parseArgs(args, io.Discard)
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", args, err)
			}
			if cfg.Listen != tc.want || ic.Config.Listen != tc.want {
				t.Fatalf("service listens on %q (PID 1 thinks %q), want %q; args %q", cfg.Listen, ic.Config.Listen, tc.want, args)
			}
			if cfg.ONVIFListen != ":80" { // ONVIF's usual port, where NVRs look first
				t.Fatalf("ONVIF on %q, want :80", cfg.ONVIFListen)
			}
		})
	}
	// Outside the image nothing changes, and a flag beats the image's default and the file.
	if cfg, _, err := parseArgs(nil, io.Discard); err != nil || cfg.Listen != ":8554" || cfg.ONVIFListen != ":8899" {
		t.Fatalf("standard defaults: %q %q, %v", cfg.Listen, cfg.ONVIFListen, err)
	}
	p := writeCameraYML(t, ptr("path: /cam\n"))
	if cfg, _, err := parseArgs([]string{"-defaults", "image", "-config", p, "-listen", ":9000"}, io.Discard); err != nil ||
		cfg.Listen != ":9000" || cfg.Path != "/cam" {
		t.Fatalf("flag over image defaults: %q %q, %v", cfg.Listen, cfg.Path, err)
	}
	if _, _, err := parseArgs([]string{"-defaults", "laptop"}, io.Discard); err == nil || !strings.Contains(err.Error(), "image") {
		t.Fatalf("unknown defaults accepted: %v", err)
	}
}

// TestInitConfigErrorNetwork: with an error in camera.yml, PID 1 uses for the network what
// can be read and is valid by itself, and its log line says exactly that: a user with a
// typo elsewhere still finds the camera on their Wi-Fi, under its name.
func TestInitConfigErrorNetwork(t *testing.T) {
	for _, tc := range []struct {
		name, content    string
		host, ssid, psk  string // psk: "" for "my wifi password"
		logHas, logLacks []string
	}{
		{
			name:    "typo elsewhere",
			content: "hostname: garden-camera\nwidht: 640\nwifi:\n  ssid: Home\n  psk: \"my wifi password\"\n",
			host:    "garden-camera", ssid: "Home",
			logHas:   []string{"network uses the settings that could be read", "hostname=garden-camera", "wifi_ssid=Home", "widht"},
			logLacks: []string{"defaults"},
		},
		{
			name:    "typo elsewhere, a key of digits, saved on Windows",
			content: "widht: 640\r\nwifi:\r\n  ssid: Home\r\n  psk: 00001111\r\n",
			ssid:    "Home", psk: "00001111",
			logHas: []string{"network uses the settings that could be read", "wifi_ssid=Home"},
		},
		{
			name:    "typo in wifi",
			content: "hostname: garden-camera\nwifi:\n  sid: Home\n  psk: \"my wifi password\"\n",
			host:    "garden-camera",
			logHas:  []string{"network uses the settings that could be read", "hostname=garden-camera", "Ethernet only", "wifi (no ssid)"},
		},
		{
			name:    "bad psk and hostname",
			content: "hostname: \"garden camera\"\nwifi:\n  ssid: Home\n  psk: short\n",
			logHas:  []string{"network uses the defaults", "hostname (not a valid name)", "psk must be 8 to 63"},
		},
		{
			name:    "not YAML",
			content: "hostname: garden-camera\nwifi: [\n",
			logHas:  []string{"network uses the defaults", "could not be read"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ic := readInitConfig(writeCameraYML(t, &tc.content))
			if ic.Err == nil {
				t.Fatal("no error")
			}
			if ic.Hostname != tc.host || ic.WiFi.SSID != tc.ssid {
				t.Errorf("network: hostname %q, ssid %q; want %q, %q", ic.Hostname, ic.WiFi.SSID, tc.host, tc.ssid)
			}
			if want := cmp.Or(tc.psk, "my wifi password"); tc.ssid != "" && ic.WiFi.PSK != want {
				t.Errorf("psk %q, want %q", ic.WiFi.PSK, want)
			}
			var logs bytes.Buffer
			ic.logConfig(slog.New(slog.NewTextHandler(&logs, nil)))
			for _, s := range tc.logHas {
				if !strings.Contains(logs.String(), s) {
					t.Errorf("log lacks %q:\n%s", s, logs.String())
				}
			}
			for _, s := range tc.logLacks {
				if strings.Contains(logs.String(), s) {
					t.Errorf("log has %q:\n%s", s, logs.String())
				}
			}
		})
	}
	var logs bytes.Buffer
	readInitConfig(writeCameraYML(t, ptr(template(t)))).logConfig(slog.New(slog.NewTextHandler(&logs, nil)))
	if logs.Len() != 0 {
		t.Errorf("a good camera.yml logged %s", logs.String())
	}
}

// TestReachableLine: each new address of the camera gets one line with the URLs a user can
// open, with the port and path the service really uses; a renewal of the same address none.
func TestReachableLine(t *testing.T) {
	var logs bytes.Buffer
	ic := readInitConfig(writeCameraYML(t, ptr("path: /live\nrtsps_listen: \":322\"\n")))
	if ic.Err != nil {
		t.Fatal(ic.Err)
	}
	r := &reachability{log: slog.New(slog.NewTextHandler(&logs, nil)), ic: ic, hostname: "garden-camera"}
	lease := func(ifname string, ip net.IP) board.Lease {
		return board.Lease{Interface: ifname, Addr: net.IPNet{IP: ip, Mask: net.CIDRMask(24, 32)}}
	}
	r.lease(lease("eth0", net.IPv4(192, 168, 1, 23)))
	r.lease(lease("eth0", net.IPv4(192, 168, 1, 23))) // renewal
	r.lease(lease("wlan0", net.IPv4(192, 168, 1, 24)))
	r.lease(lease("eth0", net.IPv4(192, 168, 1, 30))) // new address
	got := logs.String()
	for _, want := range []string{
		`msg="camera reachable" url=rtsp://192.168.1.23:554/live mdns_url=rtsp://garden-camera.local:554/live rtsps_url=rtsps://192.168.1.23:322/live onvif_url=http://192.168.1.23:80/onvif/device_service if=eth0`,
		`url=rtsp://192.168.1.24:554/live`, `url=rtsp://192.168.1.30:554/live`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "camera reachable"); n != 3 {
		t.Errorf("%d lines, want 3 (a renewal is not news):\n%s", n, got)
	}

	for _, tc := range []struct{ listen, host, want string }{
		{":8554", "10.0.0.5", "rtsp://10.0.0.5:8554/stream"},
		{":rtsp", "10.0.0.5", "rtsp://10.0.0.5:554/stream"},
		{"192.168.7.1:554", "10.0.0.5", "rtsp://192.168.7.1:554/stream"},
		{"[::]:554", "fe80::1", "rtsp://[fe80::1]:554/stream"},
	} {
		if got := reachableURL("rtsp", tc.listen, tc.host, "/stream"); got != tc.want {
			t.Errorf("reachableURL(%q, %q) = %s, want %s", tc.listen, tc.host, got, tc.want)
		}
	}

	logs.Reset()
	bad := readInitConfig(writeCameraYML(t, ptr("widht: 640\n")))
	(&reachability{log: slog.New(slog.NewTextHandler(&logs, nil)), ic: bad, hostname: "camera"}).lease(lease("eth0", net.IPv4(10, 0, 2, 15)))
	if !strings.Contains(logs.String(), "stream is off until camera.yml is fixed") || strings.Contains(logs.String(), "url=") {
		t.Errorf("broken camera.yml: %s", logs.String())
	}
}

// fakeBoot counts the times the boot partition is made writable (board.BootFS.Write).
type fakeBoot struct{ writes int }

func (f *fakeBoot) Write(fn func(string) error) error {
	f.writes++
	return fn("")
}

// TestPID1KeepsRTSPSCert: PID 1 makes the self-signed certificate while the partition is
// writable, before the service starts; the service, on a partition read-only to it, then
// loads that certificate rather than making one it could not keep, so the fingerprint
// stays from boot to boot. A later boot finds it and writes nothing.
func TestPID1KeepsRTSPSCert(t *testing.T) {
	p := writeCameraYML(t, ptr("rtsps_listen: \":322\"\nhostname: garden-camera\n"))
	cfg, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(filepath.Dir(p), selfSignedFileName)
	boot := &fakeBoot{}
	var pid1Log bytes.Buffer
	if err := prepareRTSPSCert(cfg, boot, time.Now(), slog.New(slog.NewTextHandler(&pid1Log, nil))); err != nil {
		t.Fatal(err)
	}
	if boot.writes != 1 {
		t.Fatalf("%d writes to the boot partition, want 1", boot.writes)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("certificate not kept: %v", err)
	}
	service := func() (fingerprint, log string) {
		t.Helper()
		cfg, _, err := parseArgs([]string{"-config", p}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		tc, err := rtspsTLSConfig(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return certFingerprint(tc.Certificates[0].Leaf.Raw), logs.String()
	}
	fp, log := service()
	if !strings.Contains(log, "certificate loaded") || !strings.Contains(pid1Log.String(), "sha256="+fp) {
		t.Fatalf("service did not load PID 1's certificate:\nPID 1: %s\nservice: %s", pid1Log.String(), log)
	}
	if err := prepareRTSPSCert(cfg, boot, time.Now(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil || boot.writes != 1 {
		t.Fatalf("next boot: %d writes, %v; want none", boot.writes, err)
	}
	if again, _ := service(); again != fp {
		t.Fatalf("fingerprint changed from %s to %s", fp, again)
	}
	// Not asked for: nothing written.
	for _, content := range []string{"hostname: garden-camera\n", "rtsps_listen: \":322\"\ntls_cert: a.crt\ntls_key: a.key\n"} {
		cfg, _ := LoadConfig(writeCameraYML(t, &content)) // a.crt need not exist for this
		b := &fakeBoot{}
		if err := prepareRTSPSCert(cfg, b, time.Now(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil || b.writes != 0 {
			t.Fatalf("%q: %d writes, %v", content, b.writes, err)
		}
	}
}
