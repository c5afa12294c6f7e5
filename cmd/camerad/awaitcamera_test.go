package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/encoder"
)

// TestConfiguredCameraAbsentAtStart: a configured camera that is not there when camerad
// starts (a USB camera still enumerating) is waited for, with a log line per try, instead of
// ending camerad; when something appears at its path but is no camera, Run says why.
func TestConfiguredCameraAbsentAtStart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Source = "/dev/video-camerad-test-absent"
	var logs interopLog // safe for the source's goroutine and the test together
	src, desc, err := openSource(cfg, encoder.NewPool(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("openSource with the camera absent: %v; want a source that waits for it", err)
	}
	if !strings.Contains(desc, "waiting for it") {
		t.Errorf("source described as %q", desc)
	}
	cam, ok := src.(*awaitedCamera)
	if !ok {
		t.Fatalf("source %T, want *awaitedCamera", src)
	}
	cam.RequestKeyframe() // nothing to ask yet: must not panic

	// The same wait, on a path the test can make appear.
	path := filepath.Join(t.TempDir(), "video9")
	cam.cfg.Device = path
	cam.backoff = device.Backoff{Min: 20 * time.Millisecond, Max: 40 * time.Millisecond}

	done := make(chan error, 1)
	go func() { done <- src.Run(context.Background(), func(au *encoder.AccessUnit) { au.Release() }) }()
	waitFor(t, "two tries logged", func() bool { return strings.Count(logs.String(), "camera not there; waiting for it") >= 2 })
	if err := os.WriteFile(path, nil, 0o600); err != nil { // appears, but is no V4L2 device
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Run = %v, want an error naming %s", err, path)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end once an unusable device appeared")
	}
}

// TestAwaitedCameraStopsWithContext: waiting ends with the context, without an error.
func TestAwaitedCameraStopsWithContext(t *testing.T) {
	cam := &awaitedCamera{cfg: CameraConfig{Device: filepath.Join(t.TempDir(), "video9")}, pool: encoder.NewPool(),
		log: slog.New(slog.DiscardHandler), backoff: device.Backoff{Min: time.Hour, Max: time.Hour}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := cam.Run(ctx, func(au *encoder.AccessUnit) { au.Release() }); err != nil {
		t.Errorf("Run = %v, want nil when the context ends", err)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
