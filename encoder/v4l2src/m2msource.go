package v4l2src

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/m2m"
)

// RawCapture is what M2M needs from a camera: raw frames until ctx ends (device.Capture).
type RawCapture interface {
	Run(ctx context.Context, fn func(device.Frame) error) error
}

// M2M encodes raw camera frames with a V4L2 memory-to-memory encoder. The encoder is opened
// on the first frame with the camera's negotiated format, reopened (with backoff) after a
// fault or when the camera comes back with another format; meanwhile frames are dropped, so
// the camera keeps streaming and the RTSP sessions simply wait.
type M2M struct {
	Camera RawCapture
	// Encoder is the template; size, input format and stride come from the camera.
	Encoder m2m.Config
	Pool    *encoder.Pool
	Log     *slog.Logger
	// Backoff between encoder reopen attempts (default 200ms doubling to 5s).
	Backoff device.Backoff

	forceKey atomic.Bool
}

// RequestKeyframe implements encoder.KeyframeRequester.
func (s *M2M) RequestKeyframe() { s.forceKey.Store(true) }

// encoderRun is one open encoder with its drain goroutine.
type encoderRun struct {
	enc    *m2m.Encoder
	format device.Format
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done closes
	fault  error // what made the camera goroutine stop it (a rejected frame)
	coded  atomic.Int64
}

// why is the fault that ended the run.
func (r *encoderRun) why() error {
	if r.fault != nil {
		return r.fault
	}
	return r.err
}

func (r *encoderRun) failed() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *encoderRun) stop() {
	r.cancel()
	<-r.done
	if err := r.enc.Close(); err != nil {
		_ = err // a vanished encoder cannot be closed cleanly; its fd and mappings are released anyway
	}
}

// Run implements encoder.Source.
func (s *M2M) Run(ctx context.Context, publish encoder.Publish) error {
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	bo := s.Backoff
	if bo.Min <= 0 {
		bo = device.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	}
	bo.Max = max(bo.Max, bo.Min)
	var (
		mu      sync.Mutex // publish from the drain goroutine only; packager is its state
		p       = &packager{pool: s.Pool, log: log}
		run     *encoderRun
		retryAt time.Time
		wait    = bo.Min
	)
	defer func() {
		if run != nil {
			run.stop()
		}
	}()
	start := func(f device.Format) error {
		cfg := s.Encoder
		cfg.Width, cfg.Height, cfg.InputFormat, cfg.BytesPerLine = f.Width, f.Height, f.PixelFormat, f.BytesPerLine
		if cfg.FPS == 0 {
			cfg.FPS = int(f.FPS + 0.5)
		}
		if cfg.Log == nil {
			cfg.Log = log
		}
		enc, err := m2m.Open(cfg)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithCancel(ctx)
		r := &encoderRun{enc: enc, format: f, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(r.done)
			r.err = enc.Drain(rctx, func(c m2m.Coded) error {
				r.coded.Add(1)
				mu.Lock()
				defer mu.Unlock()
				if au := p.build(c.Data, c.Timestamp); au != nil {
					publish(au)
				}
				return nil
			})
		}()
		run = r
		log.Info("hardware encoder started", "encoder", cfg.Path, "input", f.String())
		return nil
	}
	return s.Camera.Run(ctx, func(f device.Frame) error {
		if run != nil && (run.failed() || run.format != f.Format) {
			if run.failed() {
				// Reopened after a backoff that starts over only once an encoder has coded
				// frames: one that faults at once would otherwise be reopened every frame.
				if run.coded.Load() > 0 {
					wait = bo.Min
				}
				log.Warn("hardware encoder fault; reopening", "err", run.why(), "in", wait)
				retryAt = time.Now().Add(wait)
				wait = min(2*wait, bo.Max)
			}
			run.stop()
			run = nil
		}
		if run == nil {
			if time.Now().Before(retryAt) {
				return nil // dropped while the encoder is away
			}
			if err := start(f.Format); err != nil {
				if errors.Is(err, m2m.ErrNotEncoder) {
					return fmt.Errorf("raw camera path: %w", err)
				}
				log.Warn("hardware encoder unavailable", "err", err, "retry", wait)
				retryAt = time.Now().Add(wait)
				wait = min(2*wait, bo.Max)
				return nil
			}
			run.enc.RequestKeyframe() // a fresh encoder starts with an IDR anyway; be explicit
		}
		if s.forceKey.Swap(false) {
			run.enc.RequestKeyframe()
		}
		if err := run.enc.Submit(f.Data, f.Timestamp); err != nil {
			run.fault = fmt.Errorf("a frame was rejected: %w", err)
			run.cancel() // the next frame finds it failed, and reopens it after the backoff
		}
		return nil
	})
}
