package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/encoder"
)

// awaitedCamera is the source for a configured camera that is not there when camerad starts
// (a USB camera still enumerating, or unplugged): camerad serves meanwhile (DESCRIBE answers
// 503 with Retry-After), and the camera's own source takes over once the device appears.
// A device that appears but cannot be used ends Run with the error a start would have given.
type awaitedCamera struct {
	cfg     CameraConfig
	pool    *encoder.Pool
	log     *slog.Logger
	backoff device.Backoff
	inner   atomic.Pointer[encoder.Source]
}

// cameraAbsent reports whether openCamera failed because the device is not there (yet).
func cameraAbsent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO)
}

// Run implements encoder.Source.
func (a *awaitedCamera) Run(ctx context.Context, publish encoder.Publish) error {
	wait := a.backoff.Min
	for {
		src, desc, err := openCamera(a.cfg, a.pool, a.log)
		switch {
		case err == nil:
			a.inner.Store(&src)
			a.log.Info("camera appeared", "kind", desc)
			return src.Run(ctx, publish)
		case !cameraAbsent(err):
			return err
		}
		a.log.Warn("camera not there; waiting for it", "device", a.cfg.Device, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, a.backoff.Max)
	}
}

// RequestKeyframe implements encoder.KeyframeRequester, once the camera is there.
func (a *awaitedCamera) RequestKeyframe() {
	if src := a.inner.Load(); src != nil {
		if kr, ok := (*src).(encoder.KeyframeRequester); ok {
			kr.RequestKeyframe()
		}
	}
}
