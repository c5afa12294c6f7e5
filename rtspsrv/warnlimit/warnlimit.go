// Package warnlimit keeps a warning that a client can trigger at will (a refused login, a
// refused viewer) from becoming a flood of log lines on the camera's SD card: it reaches the
// log at most once per interval, with how many were held back since the last one. The RTSP
// server, the ONVIF services and the web page use it.
package warnlimit

import (
	"sync"
	"time"
)

// Limiter lets one kind of warning through at most once per Interval. The zero value lets
// every warning through; it is safe for concurrent use.
type Limiter struct {
	Interval time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// Allow reports whether to log now and, if so, how many were held back before this one. A
// now before the last warning (a clock set back) lets the warning through.
func (l *Limiter) Allow(now time.Time) (ok bool, skipped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.Interval && now.Sub(l.last) >= 0 {
		l.skipped++
		return false, 0
	}
	l.last, skipped, l.skipped = now, l.skipped, 0
	return true, skipped
}
