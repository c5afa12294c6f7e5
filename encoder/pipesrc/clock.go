package pipesrc

import (
	"time"

	"golang.org/x/sys/unix"
)

// instant is one reading of both clocks a frame carries: the monotonic one for PTS and the
// wall clock for Captured and the capture-time SEI.
type instant struct {
	mono time.Duration
	wall time.Time
}

// systemNow reads CLOCK_MONOTONIC, the clock V4L2 stamps camera buffers with, so that a pipe's
// PTS values live on the same time line as every other camerad source.
func systemNow() instant {
	wall := time.Now()
	var ts unix.Timespec
	// clock_gettime(CLOCK_MONOTONIC) only fails for an invalid clock id or pointer, neither
	// of which can happen here.
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return instant{mono: time.Duration(ts.Nano()), wall: wall}
}
