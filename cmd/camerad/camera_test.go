package main

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/device/uapi"
	"github.com/camerad/camerad/encoder"
)

// TestCameraSettings: the orientation comes first, then the controls in name order, each
// named by its config field for the log.
func TestCameraSettings(t *testing.T) {
	cfg := CameraConfig{Rotation: 180, HFlip: true,
		Controls: map[string]int64{"zoom_absolute": 3, "brightness": -7, "auto_exposure": 1}}
	want := []device.Setting{
		{ID: uapi.CIDHFlip, Key: "horizontal_flip", Value: 0},
		{Field: "rotation", ID: uapi.CIDVFlip, Key: "vertical_flip", Value: 1},
		{Field: "controls.auto_exposure", Key: "auto_exposure", Value: 1},
		{Field: "controls.brightness", Key: "brightness", Value: -7},
		{Field: "controls.zoom_absolute", Key: "zoom_absolute", Value: 3},
	}
	if got := cfg.settings(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("settings:\n got %+v\nwant %+v", got, want)
	}
	// Both paths open the camera with them (raw+M2M: the camera, not the encoder).
	dcfg := deviceConfig(cfg, device.CameraInfo{Path: "/dev/video0"}, uapi.PixFmtYUYV, slog.New(slog.DiscardHandler))
	if fmt.Sprint(dcfg.Settings) != fmt.Sprint(want) || dcfg.Controls != nil {
		t.Errorf("camera opened with settings %+v and controls %+v, want %+v and none", dcfg.Settings, dcfg.Controls, want)
	}
}

// TestAwaitedCameraKeepsSettings: a configured camera that is waited for gets the same
// settings when it appears as one that was there at start.
func TestAwaitedCameraKeepsSettings(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Source = "/dev/video-camerad-test-absent"
	cfg.VFlip, cfg.Controls = true, map[string]int64{"brightness": 60}
	src, _, err := openSource(cfg, encoder.NewPool(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cam, ok := src.(*awaitedCamera)
	if !ok {
		t.Fatalf("source %T, want *awaitedCamera", src)
	}
	got := fmt.Sprint(cam.cfg.settings())
	want := fmt.Sprint(append(device.Orientation(0, false, true),
		device.Setting{Field: "controls.brightness", Key: "brightness", Value: 60}))
	if got != want {
		t.Errorf("awaited camera's settings %s, want %s", got, want)
	}
}
