package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
