package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/camerad/camerad/encoder"
)

// width and height set for a source with its own picture size are reported, not silently
// dropped; left at their defaults they are not worth a word.
func TestOpenSourceWarnsOfIgnoredSize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		width  int
		source string
		warn   bool
	}{
		{"clip, size set", 640, "clip", true},
		{"clip, default size", DefaultConfig().Width, "clip", false},
		{"test source, size set", 640, "testsrc", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := DefaultConfig()
			cfg.Source, cfg.Width = tc.source, tc.width
			src, _, err := openSource(cfg, encoder.NewPool(), slog.New(slog.NewTextHandler(&buf, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := src.(interface{ Close() error }); ok {
				c.Close()
			}
			if got := strings.Contains(buf.String(), "width and height are ignored"); got != tc.warn {
				t.Errorf("warned %v, want %v; log:\n%s", got, tc.warn, buf.String())
			}
		})
	}
}
