package v4l2src

import (
	"context"
	"log/slog"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/encoder"
)

// Passthrough is the source for cameras that encode H.264 themselves (the legacy Pi camera
// through bcm2835-v4l2, UVC cameras with H.264): frames go from the driver's buffer into a
// pooled access unit with one copy.
type Passthrough struct {
	Capture *device.Capture
	Pool    *encoder.Pool
	Log     *slog.Logger
}

// Run implements encoder.Source; device.Capture reopens the camera after faults.
func (s *Passthrough) Run(ctx context.Context, publish encoder.Publish) error {
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	p := &packager{pool: s.Pool, log: log}
	return s.Capture.Run(ctx, func(f device.Frame) error {
		if au := p.build(f.Data, f.Timestamp); au != nil {
			publish(au)
		}
		return nil
	})
}

// RequestKeyframe implements encoder.KeyframeRequester through the camera's
// FORCE_KEY_FRAME control (ignored by cameras without it).
func (s *Passthrough) RequestKeyframe() { s.Capture.ForceKeyframe() }
