package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/clipsrc"
	"github.com/camerad/camerad/encoder/pipesrc"
	"github.com/camerad/camerad/encoder/testsrc"
)

// sourceKind is where frames come from.
type sourceKind int

const (
	sourceAuto    sourceKind = iota // a camera if one is found, else the test source
	sourceTestsrc                   // the pure-Go test pattern
	sourceClip                      // the embedded clip
	sourceFile                      // an Annex-B file, looped
	sourcePipe                      // Annex-B from a command's stdout
	sourceStdin                     // Annex-B from our stdin
	sourceDevice                    // a V4L2 device
)

type sourceSpec struct {
	kind sourceKind
	arg  string // path, command or device
}

// encodesToSettings reports whether the source's bitrate and GOP are the settings': the test
// source and cameras encode to them; the clip, files, pipes and stdin bring their own.
func (s sourceSpec) encodesToSettings() bool {
	switch s.kind {
	case sourceAuto, sourceTestsrc, sourceDevice:
		return true
	}
	return false
}

func parseSourceSpec(s string) (sourceSpec, error) {
	switch {
	case s == "auto":
		return sourceSpec{kind: sourceAuto}, nil
	case s == "testsrc":
		return sourceSpec{kind: sourceTestsrc}, nil
	case s == "clip":
		return sourceSpec{kind: sourceClip}, nil
	case s == "stdin", s == "-":
		return sourceSpec{kind: sourceStdin}, nil
	case strings.HasPrefix(s, "file:") && len(s) > len("file:"):
		return sourceSpec{kind: sourceFile, arg: s[len("file:"):]}, nil
	case strings.HasPrefix(s, "pipe:") && strings.TrimSpace(s[len("pipe:"):]) != "":
		return sourceSpec{kind: sourcePipe, arg: strings.TrimSpace(s[len("pipe:"):])}, nil
	case strings.HasPrefix(s, "/dev/"):
		return sourceSpec{kind: sourceDevice, arg: s}, nil
	}
	return sourceSpec{}, fmt.Errorf("%q is not one of auto, testsrc, clip, file:<path>, pipe:<command>, stdin, /dev/videoN", s)
}

// openSource builds the configured source and says in a few words what it is.
func openSource(cfg Config, pool *encoder.Pool, log *slog.Logger) (encoder.Source, string, error) {
	spec, err := parseSourceSpec(cfg.Source)
	if err != nil {
		return nil, "", fmt.Errorf("source: %w", err)
	}
	switch spec.kind {
	case sourceClip, sourceFile, sourcePipe, sourceStdin:
		if d := DefaultConfig(); cfg.Width != d.Width || cfg.Height != d.Height {
			log.Warn("width and height are ignored: this source brings its own picture size",
				"source", cfg.Source, "width", cfg.Width, "height", cfg.Height)
		}
	}
	switch spec.kind {
	case sourceTestsrc, sourceClip, sourceFile, sourcePipe, sourceStdin:
		warnCameraSettingsIgnored(cfg, spec.kind, log)
	}
	switch spec.kind {
	case sourceAuto, sourceDevice:
		camCfg := CameraConfig{
			Device: spec.arg, Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS, Bitrate: cfg.Bitrate, GOP: cfg.GOP,
			HFlip: cfg.HFlip, VFlip: cfg.VFlip, Rotation: cfg.Rotation, Controls: cfg.Controls,
		}
		src, desc, err := openCamera(camCfg, pool, log)
		if spec.kind == sourceDevice && cameraAbsent(err) {
			// Not plugged in (yet): serve, and wait for it, rather than exit.
			return &awaitedCamera{cfg: camCfg, pool: pool, log: log,
				backoff: device.Backoff{Min: time.Second, Max: 30 * time.Second}}, spec.arg + " (waiting for it)", nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("camera: %w", err)
		}
		if src != nil {
			return src, desc, nil
		}
		log.Info("no camera found; serving the built-in test source")
		warnCameraSettingsIgnored(cfg, spec.kind, log)
		fallthrough
	case sourceTestsrc:
		src, err := testsrc.New(testsrc.Config{Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS, GOP: cfg.GOP, Logger: log.With("source", "testsrc")}, pool)
		if err != nil {
			return nil, "", fmt.Errorf("test source: %w", err)
		}
		return src, fmt.Sprintf("test source %dx%d@%d", cfg.Width, cfg.Height, cfg.FPS), nil
	case sourceClip:
		src, err := clipsrc.NewDefault(pool)
		if err != nil {
			return nil, "", fmt.Errorf("embedded clip: %w", err)
		}
		w, h := src.Size()
		return src, fmt.Sprintf("embedded clip %dx%d@%g", w, h, src.FPS()), nil
	case sourceFile:
		data, err := os.ReadFile(spec.arg)
		if err != nil {
			return nil, "", fmt.Errorf("source file: %w", err)
		}
		src, err := clipsrc.New(data, 0, pool)
		if err != nil {
			// The file's SPS may carry no frame rate; the configured one is the next best.
			src, err = clipsrc.New(data, float64(cfg.FPS), pool)
		}
		if err != nil {
			return nil, "", fmt.Errorf("source file %s: %w", spec.arg, err)
		}
		return src, fmt.Sprintf("file %s looped at %g fps", spec.arg, src.FPS()), nil
	case sourcePipe, sourceStdin:
		var command []string
		if spec.kind == sourcePipe {
			command = []string{"/bin/sh", "-c", spec.arg}
		}
		src, err := pipesrc.New(pipesrc.Config{Command: command, FPS: float64(cfg.FPS)}, pool, log)
		if err != nil {
			return nil, "", fmt.Errorf("pipe source: %w", err)
		}
		if command == nil {
			return src, "Annex-B H.264 from stdin", nil
		}
		return src, "Annex-B H.264 from: " + spec.arg, nil
	}
	return nil, "", errors.New("source: unhandled kind")
}

// warnCameraSettingsIgnored says once, at start, that the orientation and controls set are
// for cameras and this source is none: otherwise the user looks in vain for their effect.
func warnCameraSettingsIgnored(cfg Config, kind sourceKind, log *slog.Logger) {
	var set []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"hflip", cfg.HFlip}, {"vflip", cfg.VFlip}, {"rotation", cfg.Rotation != 0}, {"controls", len(cfg.Controls) > 0}} {
		if f.set {
			set = append(set, f.name)
		}
	}
	if len(set) == 0 {
		return
	}
	msg := "camera settings are ignored: this source is not a camera"
	args := []any{"settings", strings.Join(set, ","), "source", cfg.Source}
	switch kind {
	case sourceAuto:
		msg = "camera settings are ignored: no camera found, the test source serves instead"
	case sourcePipe:
		args = append(args, "hint", "pass --hflip, --vflip or --rotation 180 (and --brightness, --contrast ...) to rpicam-vid")
	}
	log.Warn(msg, args...)
}
