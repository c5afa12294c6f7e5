package board

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSetFirmwarePath(t *testing.T) {
	dir := t.TempDir()
	param := filepath.Join(dir, "path")
	fw := filepath.Join(dir, "boot", "firmware")
	if n, err := setFirmwarePath(param, fw); err != nil || n != 0 {
		t.Fatalf("absent folder: %d files, %v", n, err)
	}
	if b, _ := os.ReadFile(param); string(b) != fw {
		t.Fatalf("param %q, want %q (no newline: the kernel takes it as is)", b, fw)
	}
	if err := os.MkdirAll(filepath.Join(fw, "brcm"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"brcm/brcmfmac43436-sdio.bin", "brcm/brcmfmac43436-sdio.txt"} {
		if err := os.WriteFile(filepath.Join(fw, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := setFirmwarePath(param, fw); err != nil || n != 2 {
		t.Fatalf("%d files, %v", n, err)
	}
	if _, err := setFirmwarePath(param, "/"+strings.Repeat("x", 300)); err == nil {
		t.Fatal("overlong path accepted")
	}
}

// TestWiFiWatch: with an SSID set and no wireless interface, one warning after the wait,
// naming the likely cause; none without an SSID, or once an interface has appeared.
func TestWiFiWatch(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	w := wifiWatch{ssid: "Home", wait: 30 * time.Second, hint: func() string {
		return WiFiFirmwareHint("Raspberry Pi Zero 2 W Rev 1.0", []string{"brcm/brcmfmac43436-sdio.bin"})
	}}
	for _, s := range []int{1, 10, 29} {
		w.check(log, time.Duration(s)*time.Second, false)
	}
	if out.String() != "" {
		t.Fatalf("warned early: %s", out.String())
	}
	for _, s := range []int{30, 31, 300} {
		w.check(log, time.Duration(s)*time.Second, false)
	}
	got := out.String()
	if strings.Count(got, "level=WARN") != 1 || !strings.Contains(got, "no wireless interface") ||
		!strings.Contains(got, "ssid=Home") || !strings.Contains(got, "brcm/brcmfmac43436-sdio.bin") ||
		!strings.Contains(got, "firmware/brcm/") || !strings.Contains(got, "Zero 2 W") {
		t.Fatalf("warning:\n%s", got)
	}

	var quiet syncBuffer
	qlog := slog.New(slog.NewTextHandler(&quiet, nil))
	noSSID := wifiWatch{}
	noSSID.check(qlog, time.Hour, false)
	appeared := wifiWatch{ssid: "Home"}
	appeared.check(qlog, 5*time.Second, true)
	appeared.check(qlog, time.Hour, false) // the interface went away later: not this warning
	if quiet.String() != "" {
		t.Fatalf("warned: %s", quiet.String())
	}
}

// TestWiFiModuleAfterBoot: the Wi-Fi driver is loaded after the boot partition is mounted,
// so that it finds firmware a user put in its firmware folder; everything else before.
func TestWiFiModuleAfterBoot(t *testing.T) {
	for _, m := range []Machine{RaspberryPi, Unknown} {
		early, late := SplitAfterBoot(Modules(m))
		var lateNames []string
		for _, l := range late {
			lateNames = append(lateNames, l.Name)
		}
		if !slices.Equal(lateNames, []string{"brcmfmac"}) {
			t.Errorf("%s: after boot %v, want brcmfmac", m, lateNames)
		}
		if len(early)+len(late) != len(Modules(m)) || early[0].Name != "vfat" {
			t.Errorf("%s: early %v", m, early)
		}
	}
}
