package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
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

// Orientation and controls set for a source that is no camera are reported once at start,
// naming them; for a pipe, with where they belong instead.
func TestOpenSourceWarnsOfIgnoredCameraSettings(t *testing.T) {
	noCamera := func(t *testing.T) {
		if ps, _ := filepath.Glob("/dev/video*"); len(ps) > 0 {
			t.Skip("this machine has V4L2 devices: auto may find a camera")
		}
	}
	for _, tc := range []struct {
		name, source string
		edit         func(*Config)
		want         []string // in the one warning; nil: none
		before       func(*testing.T)
	}{
		{"test source, hflip", "testsrc", func(c *Config) { c.HFlip = true },
			[]string{`msg="camera settings are ignored: this source is not a camera"`, "settings=hflip "}, nil},
		{"clip, rotation and controls", "clip", func(c *Config) { c.Rotation, c.Controls = 180, map[string]int64{"brightness": 1} },
			[]string{"settings=rotation,controls "}, nil},
		{"pipe, vflip", "pipe:true", func(c *Config) { c.VFlip = true },
			[]string{"settings=vflip ", "--vflip", "rpicam-vid"}, nil},
		{"auto without a camera", "auto", func(c *Config) { c.Controls = map[string]int64{"gain": 5} },
			[]string{`msg="camera settings are ignored: no camera found, the test source serves instead"`, "settings=controls "}, noCamera},
		{"test source, nothing set", "testsrc", func(c *Config) { c.Controls = map[string]int64{} }, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			var buf bytes.Buffer
			cfg := DefaultConfig()
			cfg.Source = tc.source
			tc.edit(&cfg)
			src, _, err := openSource(cfg, encoder.NewPool(), slog.New(slog.NewTextHandler(&buf, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := src.(interface{ Close() error }); ok {
				c.Close()
			}
			n := strings.Count(buf.String(), "camera settings are ignored")
			if tc.want == nil {
				if n != 0 {
					t.Errorf("warned with nothing set:\n%s", buf.String())
				}
				return
			}
			if n != 1 {
				t.Fatalf("%d warnings, want one:\n%s", n, buf.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log lacks %s:\n%s", w, buf.String())
				}
			}
		})
	}
}
