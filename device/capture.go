package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/camerad/camerad/device/uapi"
)

// Config says which camera to open and how.
type Config struct {
	Path string
	// Want is the format, size and rate to ask for (FPS 0 keeps the driver's rate).
	Want Format
	// Controls are camerad's own, applied after every open (bitrate, I-period...); one the
	// camera lacks is not worth more than a debug line.
	Controls []Control
	// Settings are the user's (orientation, camera.yml's controls:), applied after Controls
	// so that they can override them; one the camera cannot apply as asked is a warning.
	Settings []Setting
	// Buffers is the number of MMAP buffers (default 4).
	Buffers int
	// StallTimeout is how long the camera may send nothing before it is reopened (default 2s).
	StallTimeout time.Duration
	// MaxErroredBuffers in a row make the camera be reopened (default 8).
	MaxErroredBuffers int
	// Backoff between reopen attempts (default 200ms doubling to 5s).
	Backoff Backoff
	// Sys is the syscall boundary (default uapi.Kernel).
	Sys uapi.Sys
	Log *slog.Logger
}

// Capture streams frames from a camera and keeps doing so across faults: a camera that
// disappears (ENODEV, unplugged), stalls or returns only errored buffers is closed and opened
// again with backoff. It is safe to call ForceKeyframe from any goroutine.
type Capture struct {
	cfg      Config
	forceKey atomic.Bool
	opens    atomic.Int64
	format   atomic.Pointer[Format]
}

// NewCapture returns a Capture for cfg, filling in defaults.
func NewCapture(cfg Config) *Capture {
	if cfg.Buffers <= 0 {
		cfg.Buffers = 4
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 2 * time.Second
	}
	if cfg.MaxErroredBuffers <= 0 {
		cfg.MaxErroredBuffers = 8
	}
	if cfg.Backoff.Min <= 0 {
		cfg.Backoff.Min = 200 * time.Millisecond
	}
	if cfg.Backoff.Max < cfg.Backoff.Min {
		cfg.Backoff.Max = max(5*time.Second, cfg.Backoff.Min)
	}
	if cfg.Sys == nil {
		cfg.Sys = uapi.Kernel{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.Log = cfg.Log.With("camera", cfg.Path)
	return &Capture{cfg: cfg}
}

// ForceKeyframe asks an encoding camera for an IDR as the next frame (applied by the
// streaming goroutine, which owns the fd).
func (c *Capture) ForceKeyframe() { c.forceKey.Store(true) }

// Opens counts successful opens (the first and every reopen).
func (c *Capture) Opens() int64 { return c.opens.Load() }

// Format is the format of the current (or last) session, nil before the first open.
func (c *Capture) Format() *Format { return c.format.Load() }

// Run streams until ctx ends, handing each frame to fn (see Frame for how long its data
// lives). It returns nil when ctx ends and fn's error if fn fails; device faults are retried.
func (c *Capture) Run(ctx context.Context, fn func(Frame) error) error {
	log := c.cfg.Log
	bo := c.cfg.Backoff
	for ctx.Err() == nil {
		delivered := false
		err := c.session(ctx, func(f Frame) error {
			delivered = true
			return fn(f)
		})
		var ferr *frameError
		if errors.As(err, &ferr) {
			return ferr.err
		}
		if ctx.Err() != nil {
			return nil
		}
		if delivered {
			bo.Reset()
		}
		log.Warn("camera fault, reopening", "err", err, "backoff", nextWait(&bo))
		if !bo.Wait(ctx) {
			return nil
		}
	}
	return nil
}

func nextWait(b *Backoff) time.Duration {
	if b.Current() == 0 {
		return b.Min
	}
	return min(2*b.Current(), b.Max)
}

// frameError marks an error that came from the caller's callback, not from the device.
type frameError struct{ err error }

func (e *frameError) Error() string { return e.err.Error() }

// session opens the camera, streams until a fault or ctx end, and releases everything.
func (c *Capture) session(ctx context.Context, fn func(Frame) error) (err error) {
	sys, log := c.cfg.Sys, c.cfg.Log
	fd, err := sys.Open(c.cfg.Path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := sys.Close(fd); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", c.cfg.Path, cerr)
		}
	}()
	if _, err := querycap(sys, fd); err != nil {
		return err
	}
	format, err := negotiate(sys, fd, c.cfg.Want)
	if err != nil {
		return err
	}
	if err := applyControls(sys, fd, c.cfg.Controls, func(ct Control, err error) {
		log.Debug("camera control not applied", "id", fmt.Sprintf("%#x", ct.ID), "value", ct.Value, "err", err)
	}); err != nil {
		return err
	}
	if err := applySettings(sys, fd, c.cfg.Settings, log); err != nil {
		return err
	}
	st, err := startStream(sys, fd, c.cfg.Buffers, format)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.close(); cerr != nil && err == nil && ctx.Err() == nil {
			log.Debug("closing stream", "err", cerr)
		}
	}()
	c.format.Store(&format)
	c.opens.Add(1)
	log.Info("camera streaming", "format", format.String(), "buffers", len(st.bufs))

	stall := int(c.cfg.StallTimeout / pollSlice)
	return st.run(ctx, limits{
		stallSlices: max(stall, 1),
		maxErrored:  c.cfg.MaxErroredBuffers,
		beforeEachFrame: func() error {
			if !c.forceKey.Swap(false) {
				return nil
			}
			if _, err := SetControl(sys, fd, uapi.CIDVideoForceKeyFrame, 1); err != nil {
				if uapi.IsGone(err) {
					return err
				}
				log.Debug("camera cannot force a keyframe", "err", err)
			}
			return nil
		},
	}, func(f Frame) error {
		if err := fn(f); err != nil {
			return &frameError{err}
		}
		return nil
	})
}
