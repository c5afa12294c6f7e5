package clipsrc

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// instant is one reading of both clocks a frame carries: the monotonic one for PTS and the
// wall clock for Captured and the capture-time SEI.
type instant struct {
	mono time.Duration
	wall time.Time
}

// clock is what Run needs from time; tests substitute a virtual clock so that pacing and
// looping are checked by PTS values without sleeping.
type clock interface {
	now() instant
	// sleepUntil waits until the monotonic clock reaches t or ctx ends (then ctx.Err()).
	sleepUntil(ctx context.Context, t time.Duration) error
}

// systemClock reads CLOCK_MONOTONIC, the clock V4L2 stamps camera buffers with, so a clip's
// PTS values live on the same time line as a real camera's.
type systemClock struct {
	timer *time.Timer
}

func newSystemClock() *systemClock {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &systemClock{timer: t}
}

func (c *systemClock) now() instant {
	wall := time.Now()
	return instant{mono: monotonicNow(), wall: wall}
}

func (c *systemClock) sleepUntil(ctx context.Context, t time.Duration) error {
	d := t - monotonicNow()
	if d <= 0 {
		return ctx.Err()
	}
	// One reused timer: since Go 1.23 Reset needs no draining, and steady-state pacing then
	// allocates nothing.
	c.timer.Reset(d)
	select {
	case <-ctx.Done():
		c.timer.Stop()
		return ctx.Err()
	case <-c.timer.C:
		return nil
	}
}

func monotonicNow() time.Duration {
	var ts unix.Timespec
	// clock_gettime(CLOCK_MONOTONIC) only fails for an invalid clock id or pointer, neither
	// of which can happen here.
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}
