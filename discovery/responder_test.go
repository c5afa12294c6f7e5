package discovery

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestRunWithoutInterfaces: with no usable interface (the filter names one
// that does not exist) Run waits instead of failing, says so, and returns
// nil promptly when its context ends, leaving no goroutine or netlink reader
// behind.
func TestRunWithoutInterfaces(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var logs lockedBuffer
	r, err := New(Config{
		Hostname:   "camera-abcd",
		Port:       8554,
		Interfaces: []string{"nonexistent0"},
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for !strings.Contains(logs.String(), "no usable interface") {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
}
