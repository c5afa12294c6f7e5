package main

// Interim camera wiring until the device package lands: no camera is ever found, so auto
// mode serves the test source. The device engineer replaces this file.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/camerad/camerad/encoder"
)

// CameraConfig is what camerad asks of a camera.
type CameraConfig struct {
	Device                           string // "" = auto-detect
	Width, Height, FPS, Bitrate, GOP int
}

func openCamera(cfg CameraConfig, _ *encoder.Pool, _ *slog.Logger) (encoder.Source, string, error) {
	if cfg.Device != "" {
		return nil, "", fmt.Errorf("%s: camera support is not built in yet", cfg.Device)
	}
	return nil, "", nil
}

func listCameras(w io.Writer) error {
	return errors.New("camera support is not built in yet")
}
