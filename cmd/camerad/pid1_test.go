package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camerad/camerad/board/bootimg"
)

// cameraYMLViaFAT puts content on a FAT32 boot partition as the image builder does, reads it
// back out of the filesystem, and parses it the way PID 1 and the service do.
func cameraYMLViaFAT(t *testing.T, content string) (Config, error) {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "camerad.img")
	t.Setenv("SOURCE_DATE_EPOCH", "1704067200")
	err := bootimg.Write(img, bootimg.Layout{PartitionMiB: 40},
		[]bootimg.File{{Name: "camera.yml", Data: []byte(content)}, {Name: "config.txt", Data: []byte("arm_64bit=1\n")}},
		time.Unix(1704067200, 0))
	if err != nil {
		t.Fatal(err)
	}
	im, err := bootimg.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	b, err := im.ReadFile("camera.yml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "camera.yml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return LoadConfig(p)
}

func template(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../scripts/image/camera.yml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImageCameraYMLTemplate: the file users get on the card parses strictly as shipped.
func TestImageCameraYMLTemplate(t *testing.T) {
	cfg, err := cameraYMLViaFAT(t, template(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":554" || cfg.Path != "/stream" || cfg.Source != "auto" || !cfg.MDNSEnabled() ||
		cfg.WiFi.SSID != "" || cfg.Hostname != "" || cfg.LogLevel != "info" {
		t.Fatalf("template config %+v", cfg)
	}
}

// uncomment removes the '#' before each of lines in the template s, as a user editing it
// would; each must be there.
func uncomment(t *testing.T, s string, lines ...string) string {
	t.Helper()
	for _, line := range lines {
		if !strings.Contains(s, line) {
			t.Fatalf("template lacks %q", line)
		}
		s = strings.Replace(s, line, strings.TrimPrefix(line, "#"), 1)
	}
	return s
}

// TestImageCameraYMLUserEdits uncomments the settings the README tells users to change.
func TestImageCameraYMLUserEdits(t *testing.T) {
	s := uncomment(t, template(t), "#hostname: ", "#wifi:", "#  ssid: ", "#  psk: ", "#  country: ", "#username: ", "#password: ", "#width: ", "#height: ", "#fps: ", "#bitrate: ", "#gop: ", "#max_viewers: ")
	cfg, err := cameraYMLViaFAT(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hostname != "garden-camera" || cfg.WiFi.SSID != "MyHomeNetwork" || cfg.WiFi.PSK != "my wifi password" ||
		cfg.WiFi.Country != "GB" || cfg.Username != "viewer" || cfg.Password != "change me" || cfg.MaxViewers != 10 {
		t.Fatalf("edited config %+v", cfg)
	}
}

// TestImageCameraYMLPicture uncomments the template's orientation and controls examples:
// as shown they are the defaults; edited, they turn the picture and set the controls.
func TestImageCameraYMLPicture(t *testing.T) {
	lines := []string{"#hflip: ", "#vflip: ", "#rotation: ", "#controls:", "#  brightness: ", "#  contrast: ",
		"#  auto_exposure: ", "#  exposure_time_absolute: "}
	cfg, err := cameraYMLViaFAT(t, uncomment(t, template(t), lines...))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"brightness": 60, "contrast": 10, "auto_exposure": 1, "exposure_time_absolute": 300}
	if cfg.HFlip || cfg.VFlip || cfg.Rotation != 0 || !maps.Equal(cfg.Controls, want) {
		t.Fatalf("uncommented: hflip %v vflip %v rotation %d controls %v; want the defaults and %v",
			cfg.HFlip, cfg.VFlip, cfg.Rotation, cfg.Controls, want)
	}
	s := strings.NewReplacer("#hflip: false", "hflip: true", "#rotation: 0", "rotation: 180").Replace(template(t))
	if cfg, err = cameraYMLViaFAT(t, s); err != nil {
		t.Fatal(err)
	}
	if !cfg.HFlip || cfg.VFlip || cfg.Rotation != 180 || cfg.Controls != nil {
		t.Fatalf("edited: hflip %v vflip %v rotation %d controls %v; want true, false, 180 and none",
			cfg.HFlip, cfg.VFlip, cfg.Rotation, cfg.Controls)
	}
}

// TestImageCameraYMLRTSPS uncomments the template's RTSPS example: it turns RTSPS on at the
// IANA port, with the certificate named as a file beside camera.yml.
func TestImageCameraYMLRTSPS(t *testing.T) {
	s := uncomment(t, template(t), "#rtsps_listen: ", "#tls_cert: ", "#tls_key: ")
	cfg, err := cameraYMLViaFAT(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RTSPSListen != ":322" || filepath.Base(cfg.TLSCert) != "camera.crt" || filepath.Base(cfg.TLSKey) != "camera.key" ||
		filepath.Dir(cfg.TLSCert) == "." {
		t.Fatalf("edited config: rtsps_listen %q, tls_cert %q, tls_key %q", cfg.RTSPSListen, cfg.TLSCert, cfg.TLSKey)
	}
}

// TestImageCameraYMLMulticast uncomments the template's multicast line: it turns multicast off.
func TestImageCameraYMLMulticast(t *testing.T) {
	s := template(t)
	if !strings.Contains(s, "#multicast: ") {
		t.Fatal("template lacks #multicast:")
	}
	if cfg, err := cameraYMLViaFAT(t, s); err != nil || cfg.Multicast != "auto" {
		t.Fatalf("as shipped: multicast %q, %v; want auto", cfg.Multicast, err)
	}
	cfg, err := cameraYMLViaFAT(t, strings.Replace(s, "#multicast: ", "multicast: ", 1))
	if err != nil || cfg.Multicast != "off" {
		t.Fatalf("edited: multicast %q, %v; want off", cfg.Multicast, err)
	}
}

func TestImageCameraYMLTypoNamed(t *testing.T) {
	_, err := cameraYMLViaFAT(t, "listen: \":554\"\nwifi:\n  sid: home\n")
	if err == nil || !strings.Contains(err.Error(), "sid") {
		t.Fatalf("typo not reported by name: %v", err)
	}
}
