package discovery

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A question on an interface we do not publish on is routine (the camera resolving a .local
// name over loopback) and must not reach the log as a warning; pion's other warnings must.
func TestPionLogLevels(t *testing.T) {
	var buf bytes.Buffer
	log := pionLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}.NewLogger("mdns")
	log.Warnf("[%s] no interface for %d", "camerad", 1)
	log.Warnf("[%s] failed to send mDNS packet on interface %d: %v", "camerad", 2, "boom")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got %q", buf.String())
	}
	if !strings.Contains(lines[0], "level=DEBUG") || !strings.Contains(lines[0], "no interface for 1") {
		t.Errorf("question on an unpublished interface logged as %q, want debug", lines[0])
	}
	if !strings.Contains(lines[1], "level=WARN") || !strings.Contains(lines[1], "lib=pion/mdns") {
		t.Errorf("other pion warning logged as %q, want a warning tagged lib=pion/mdns", lines[1])
	}
}
