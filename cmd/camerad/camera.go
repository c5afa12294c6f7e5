package main

// Camera wiring: find a V4L2 camera, pick how its pictures become H.264 (the camera's own
// encoder, or raw frames through the hardware M2M encoder) and build the source.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/device/uapi"
	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/m2m"
	"github.com/camerad/camerad/encoder/v4l2src"
)

// CameraConfig is what camerad asks of a camera.
type CameraConfig struct {
	Device                           string // "" = auto-detect
	Width, Height, FPS, Bitrate, GOP int
	HFlip, VFlip                     bool
	Rotation                         int              // 0 or 180
	Controls                         map[string]int64 // by device.ControlKey; validated to fit int32
}

// settings are the user's settings for the camera: the orientation, then the controls in name
// order (a map has none, and the log should read the same at every open).
func (c CameraConfig) settings() []device.Setting {
	ss := device.Orientation(c.Rotation, c.HFlip, c.VFlip)
	for _, k := range slices.Sorted(maps.Keys(c.Controls)) {
		ss = append(ss, device.Setting{Field: "controls." + k, Key: k, Value: int32(c.Controls[k])})
	}
	return ss
}

// listCameras prints every V4L2 node with its formats, sizes, rates and controls, and the
// path camerad would take with it.
func listCameras(w io.Writer) error {
	infos, err := device.ListCameras()
	if err != nil {
		return fmt.Errorf("list cameras: %w", err)
	}
	if len(infos) == 0 {
		fmt.Fprintln(w, "no V4L2 devices found (/dev/video*)")
		return nil
	}
	for _, info := range infos {
		info.Print(w)
	}
	if enc := findEncoder(infos); enc != "" {
		fmt.Fprintf(w, "hardware H.264 encoder: %s\n", enc)
	} else {
		fmt.Fprintln(w, "hardware H.264 encoder: none (raw-only cameras cannot be used)")
	}
	return nil
}

// findEncoder returns the M2M encoder node: bcm2835-codec's encoder at /dev/video11.
func findEncoder(infos []device.CameraInfo) string {
	for _, info := range infos {
		if info.Path == m2m.DefaultPath && info.IsM2M() {
			return info.Path
		}
	}
	return ""
}

// openCamera returns the camera source, or (nil, "", nil) in auto mode when no usable camera
// exists; a configured device that cannot be used is an error.
func openCamera(cfg CameraConfig, pool *encoder.Pool, log *slog.Logger) (encoder.Source, string, error) {
	var infos []device.CameraInfo
	var err error
	if cfg.Device != "" {
		info, ierr := device.Inspect(uapi.Kernel{}, cfg.Device)
		if ierr != nil {
			return nil, "", fmt.Errorf("inspect %s: %w", cfg.Device, ierr)
		}
		infos = []device.CameraInfo{info}
		// The encoder is looked up separately: the configured node is only the camera.
		if encInfo, eerr := device.Inspect(uapi.Kernel{}, m2m.DefaultPath); eerr == nil {
			infos = append(infos, encInfo)
		}
	} else if infos, err = device.ListCameras(); err != nil {
		log.Info("no camera: cannot list V4L2 devices", "err", err)
		return nil, "", nil
	}
	encPath := findEncoder(infos)
	for _, info := range infos {
		if cfg.Device != "" && info.Path != cfg.Device {
			continue
		}
		path, pixfmt := info.Choose(encPath != "")
		if path == device.PathNone {
			if cfg.Device != "" {
				return nil, "", fmt.Errorf("%s (%s) is not usable: %s", info.Path, info.Card, whyUnusable(info, encPath))
			}
			// A camera the user plugged in and sees unused deserves a line at the default
			// level; the Pi's other video nodes (ISP, codec) are no cameras and are noise.
			level := slog.LevelDebug
			if info.IsCamera() {
				level = slog.LevelInfo
			}
			log.Log(context.Background(), level, "camera skipped", "device", info.Path, "card", info.Card,
				"why", whyUnusable(info, encPath))
			continue
		}
		return buildCamera(cfg, info, path, pixfmt, encPath, pool, log)
	}
	if cfg.Device != "" {
		return nil, "", errors.New(cfg.Device + ": not found")
	}
	return nil, "", nil
}

func whyUnusable(info device.CameraInfo, encPath string) string {
	switch {
	case !info.IsCamera():
		return "not a video capture device"
	case encPath == "":
		return "offers no H.264 and there is no hardware encoder for its raw formats"
	default:
		return "offers neither H.264 nor YUV420/NV12/YUYV"
	}
}

// deviceConfig is how the camera is opened on either path. The user's settings go to the
// camera itself: with raw+M2M, the encoder's controls are camerad's own.
func deviceConfig(cfg CameraConfig, info device.CameraInfo, pixfmt uint32, log *slog.Logger) device.Config {
	return device.Config{
		Path:     info.Path,
		Want:     device.Format{PixelFormat: pixfmt, Width: cfg.Width, Height: cfg.Height, FPS: float64(cfg.FPS)},
		Settings: cfg.settings(),
		Log:      log.With("source", "camera"),
	}
}

func buildCamera(cfg CameraConfig, info device.CameraInfo, path device.Path, pixfmt uint32, encPath string,
	pool *encoder.Pool, log *slog.Logger) (encoder.Source, string, error) {
	dcfg := deviceConfig(cfg, info, pixfmt, log)
	desc := fmt.Sprintf("%s (%s) %s %dx%d@%d", info.Path, info.Card, uapi.FourCCString(pixfmt), cfg.Width, cfg.Height, cfg.FPS)
	switch path {
	case device.PathPassthrough:
		// The camera encodes: bitrate and GOP are its controls.
		dcfg.Controls = device.EncoderControls(cfg.Bitrate, cfg.GOP, -1, 0)
		src := &v4l2src.Passthrough{Capture: device.NewCapture(dcfg), Pool: pool, Log: dcfg.Log}
		return src, desc + " passthrough", nil
	default:
		src := &v4l2src.M2M{
			Camera: device.NewCapture(dcfg),
			Pool:   pool,
			Log:    dcfg.Log,
			Encoder: m2m.Config{Path: encPath, FPS: cfg.FPS, Bitrate: cfg.Bitrate, IPeriod: cfg.GOP,
				Profile: uapi.H264ProfileHigh, LevelIDC: 40},
		}
		return src, desc + " raw → hardware encoder " + encPath, nil
	}
}
