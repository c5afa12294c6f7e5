package pipesrc

import "time"

// stamper turns arrival times into PTS values. Without a frame period the arrival time is the
// PTS. With one, PTS advance by exactly one period per unit from an anchor, which removes the
// jitter of pipe reads, and are re-anchored to arrival whenever they drift further than
// tolerance from it (the child stalled, or its rate is not the period's). Either way PTS only
// increase, including across child restarts.
//
// The period is not taken on trust: it starts as the configured frame rate's, becomes the
// stream's own when its SPS carries timing (see useStreamRate), and at every re-anchor becomes
// the rate the input was measured to run at. A pipe's real rate must win: rpicam-vid writes
// no timing into its SPS, and a 25 fps pipe stamped at a configured 30 would jump by a
// tolerance every twenty frames.
type stamper struct {
	period time.Duration // 0: arrival times are the PTS
	anchor time.Duration // arrival time the current run of periods is counted from
	n      int64         // units since anchor
	last   time.Duration // last PTS handed out
	have   bool          // anchored since the last reset
	any    bool          // last is valid

	// recent are the arrival times of the last units since the input last paused, oldest
	// first from next: the measured period is the slope of the line that fits them best
	// (least squares), which neither jitter nor bursts of units read together throw far off.
	recent [rateWindow]time.Duration
	next   int // where the next arrival goes in recent
	count  int // arrivals in recent, up to rateWindow

	// wallOffset is the wall clock (Unix time) minus CLOCK_MONOTONIC that capture times are
	// PTS plus (see captured). It is the stamper's, not a child's: it must outlive restarts
	// as the PTS time line does.
	wallOffset time.Duration
}

const (
	// rateWindow is how many recent arrivals the period is measured over (about two seconds
	// at 30 fps): with ±10 ms of jitter, or units read four at a time, the fit is within 1%.
	rateWindow = 64
	// rateMinArrivals is how many arrivals a measurement needs.
	rateMinArrivals = 16
	// inputPause is a gap after which the input is taken to have paused, not to be slow:
	// arrivals before it say nothing of the rate after it (1 fps is the slowest rate).
	inputPause = time.Second
)

// newStamper returns a stamper that starts at fps (0: arrival times until the stream says).
func newStamper(fps float64) *stamper {
	s := &stamper{}
	if fps > 0 {
		s.period = time.Duration(float64(time.Second) / fps)
	}
	return s
}

// reset forgets the anchor and the measured rate (a new child may run at another), keeping
// the period until it is measured again and keeping PTS monotonic.
func (s *stamper) reset() { s.have, s.count = false, 0 }

// captured is the wall-clock capture time of a unit stamped pts, given at, a reading of both
// clocks at its arrival. The two clocks are read apart, so their difference wobbles by
// microseconds from reading to reading: the offset is kept until it moves by more (the wall
// clock was set), so that capture times keep the order and spacing of the PTS. Taken anew
// for each child, the wobble would move capture times back as easily as forth across a
// restart, while PTS moves on by as little as a unit's.
func (s *stamper) captured(pts time.Duration, at instant) time.Time {
	if d := time.Duration(at.wall.UnixNano()) - at.mono - s.wallOffset; s.wallOffset == 0 || d.Abs() > time.Millisecond {
		s.wallOffset += d
	}
	return time.Unix(0, int64(pts+s.wallOffset))
}

// useStreamRate makes fps, the rate in the stream's SPS, the period until it is measured.
func (s *stamper) useStreamRate(fps float64) {
	if period := time.Duration(float64(time.Second) / fps); fps > 0 && fps <= 1000 && period != s.period {
		s.period, s.have = period, false
	}
}

// framePeriod is the current period, 0 when there is none.
func (s *stamper) framePeriod() time.Duration { return s.period }

func (s *stamper) tolerance() time.Duration {
	return max(4*s.period, 100*time.Millisecond)
}

// stamp returns the PTS of a unit that arrived at the monotonic time arrival.
func (s *stamper) stamp(arrival time.Duration) time.Duration {
	if s.count > 0 && arrival-s.recent[(s.next+rateWindow-1)%rateWindow] > inputPause {
		s.count = 0 // the input paused: what came before says nothing of its rate now
	}
	pts := arrival
	if s.period > 0 {
		if s.have {
			pts = s.anchor + time.Duration(s.n)*s.period
			if d := pts - arrival; d > s.tolerance() || -d > s.tolerance() {
				s.have = false
				pts = arrival
				// Measured up to the unit before this one, which may be late after a stall.
				if m := s.measuredPeriod(); m >= time.Millisecond { // not a burst read at once
					s.period = m
				}
			}
		}
		if !s.have {
			s.anchor, s.n, s.have = arrival, 0, true
		}
		s.n++
	}
	s.recent[s.next] = arrival
	s.next = (s.next + 1) % rateWindow
	s.count = min(s.count+1, rateWindow)
	if s.any && pts <= s.last {
		pts = s.last + time.Microsecond
	}
	s.last, s.any = pts, true
	return pts
}

// measuredPeriod is the period the input ran at over its recent arrivals: the least-squares
// slope of their times against their index; 0 when too few units have come since it paused.
func (s *stamper) measuredPeriod() time.Duration {
	if s.count < rateMinArrivals {
		return 0
	}
	first := s.next + rateWindow - s.count
	origin := s.recent[first%rateWindow] // keeps the sums small
	meanI := float64(s.count-1) / 2
	var meanA float64
	for i := range s.count {
		meanA += float64(s.recent[(first+i)%rateWindow] - origin)
	}
	meanA /= float64(s.count)
	var cov, varI float64
	for i := range s.count {
		di := float64(i) - meanI
		cov += di * (float64(s.recent[(first+i)%rateWindow]-origin) - meanA)
		varI += di * di
	}
	return time.Duration(cov / varI)
}
