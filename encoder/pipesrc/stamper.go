package pipesrc

import "time"

// stamper turns arrival times into PTS values. Without a frame rate the arrival time is the
// PTS. With one, PTS advance by exactly one period per unit from an anchor, which removes the
// jitter of pipe reads, and are re-anchored to arrival whenever they drift further than
// tolerance from it (the child's clock differs from the nominal rate, or it stalled). Either
// way PTS only increase, including across child restarts.
type stamper struct {
	fps    float64
	anchor time.Duration // arrival time the current run of periods is counted from
	n      int64         // units since anchor
	last   time.Duration // last PTS handed out
	have   bool          // anchored since the last reset
	any    bool          // last is valid
}

// reset forgets the anchor, keeping monotonicity: used when a new child starts.
func (s *stamper) reset() { s.have = false }

func (s *stamper) tolerance() time.Duration {
	return max(4*time.Duration(float64(time.Second)/s.fps), 100*time.Millisecond)
}

// stamp returns the PTS of a unit that arrived at the monotonic time arrival.
func (s *stamper) stamp(arrival time.Duration) time.Duration {
	pts := arrival
	if s.fps > 0 {
		if s.have {
			pts = s.anchor + time.Duration(float64(s.n)*float64(time.Second)/s.fps)
			if d := pts - arrival; d > s.tolerance() || -d > s.tolerance() {
				s.have = false
				pts = arrival
			}
		}
		if !s.have {
			s.anchor, s.n, s.have = arrival, 0, true
		}
		s.n++
	}
	if s.any && pts <= s.last {
		pts = s.last + time.Microsecond
	}
	s.last, s.any = pts, true
	return pts
}
