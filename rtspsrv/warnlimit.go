package rtspsrv

import (
	"sync"
	"time"
)

// warnLimiter lets a warning that a client can trigger at will reach the log at most once per
// interval, with how many were held back since the last one: a flood of refused requests must
// not become a flood of log lines on the camera's SD card.
type warnLimiter struct {
	interval time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// allow reports whether to log now and, if so, how many were held back before this one.
func (l *warnLimiter) allow(now time.Time) (ok bool, skipped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.skipped++
		return false, 0
	}
	l.last, skipped, l.skipped = now, l.skipped, 0
	return true, skipped
}
