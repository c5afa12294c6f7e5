package discovery

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A question on an interface we do not publish on is routine (the camera resolving a .local
// name over loopback), and a malformed packet is anyone's to send: neither may reach the log
// as a warning, one per packet. pion's other warnings must.
func TestPionLogLevels(t *testing.T) {
	var buf bytes.Buffer
	log := pionLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}.NewLogger("mdns")
	log.Warnf("[%s] no interface for %d", "camerad", 1)
	log.Warnf("[%s] failed to parse mDNS packet %v", "camerad", "insufficient data for base length type")
	log.Warnf("[%s] failed to send mDNS packet on interface %d: %v", "camerad", 2, "boom")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 log lines, got %q", buf.String())
	}
	if !strings.Contains(lines[0], "level=DEBUG") || !strings.Contains(lines[0], "no interface for 1") {
		t.Errorf("question on an unpublished interface logged as %q, want debug", lines[0])
	}
	if !strings.Contains(lines[1], "level=DEBUG") || !strings.Contains(lines[1], "failed to parse mDNS packet") {
		t.Errorf("malformed packet logged as %q, want debug", lines[1])
	}
	if !strings.Contains(lines[2], "level=WARN") || !strings.Contains(lines[2], "lib=pion/mdns") {
		t.Errorf("other pion warning logged as %q, want a warning tagged lib=pion/mdns", lines[2])
	}
}
