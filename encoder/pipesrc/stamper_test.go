package pipesrc

import (
	"testing"
	"time"
)

func TestStamperArrival(t *testing.T) {
	var s stamper
	arrivals := []time.Duration{10 * time.Second, 10*time.Second + 30*time.Millisecond, 10*time.Second + 30*time.Millisecond, 10*time.Second + 20*time.Millisecond}
	var last time.Duration
	for i, a := range arrivals {
		pts := s.stamp(a)
		if i < 2 && pts != a {
			t.Errorf("unit %d PTS %v, want arrival %v", i, pts, a)
		}
		if i > 0 && pts <= last {
			t.Errorf("unit %d PTS %v not after %v", i, pts, last)
		}
		last = pts
	}
}

// TestStamperFPS: with a frame rate, bursty arrivals get evenly spaced PTS; a long stall
// re-anchors to arrival; PTS never go back, even across a reset.
func TestStamperFPS(t *testing.T) {
	s := newStamper(25)
	base := 100 * time.Second
	jitter := []time.Duration{0, 5, -3, 12, 0, 9, -8, 1}
	for i, j := range jitter {
		arrival := base + time.Duration(i)*40*time.Millisecond + j*time.Millisecond
		if pts := s.stamp(arrival); pts != base+time.Duration(i)*40*time.Millisecond {
			t.Fatalf("unit %d PTS %v, want %v", i, pts, base+time.Duration(i)*40*time.Millisecond)
		}
	}
	stalled := base + 10*time.Second
	if pts := s.stamp(stalled); pts != stalled {
		t.Errorf("after a stall PTS %v, want re-anchored to %v", pts, stalled)
	}
	if pts := s.stamp(stalled + 40*time.Millisecond); pts != stalled+40*time.Millisecond {
		t.Errorf("after re-anchoring PTS %v", pts)
	}
	s.reset()
	if pts := s.stamp(stalled); pts <= stalled+40*time.Millisecond {
		t.Errorf("PTS went back after reset: %v", pts)
	}
}

// TestStamperFollowsInputRate: when the input runs at another rate than the configured one
// (a 25 fps pipe with -fps 30; rpicam-vid writes no timing of its own), PTS settle on the
// input's rate within seconds and are then evenly spaced: no jump every few frames.
func TestStamperFollowsInputRate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		configured float64
		input      float64
		burst      int // units read together
	}{
		{"25 fps input, 30 configured", 30, 25, 1},
		{"15 fps input, 30 configured", 30, 15, 1},
		{"5 fps input, 30 configured", 30, 5, 1},
		{"60 fps input, 30 configured", 30, 60, 1},
		{"25 fps input read 4 units at a time", 30, 25, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStamper(tc.configured)
			period := time.Duration(float64(time.Second) / tc.input)
			jitter := []time.Duration{0, 3, -2, 1, -3, 2} // ms
			base := 50 * time.Second
			settled := base + 8*time.Second
			var last time.Duration
			uneven := 0
			for i := range int(20 * tc.input) {
				// A burst arrives when its last unit is made.
				made := (i/tc.burst + 1) * tc.burst
				arrival := base + time.Duration(made)*period + jitter[i%len(jitter)]*time.Millisecond
				pts := s.stamp(arrival)
				if arrival > settled {
					if step := pts - last; step < period-period/100 || step > period+period/100 {
						uneven++
						if uneven <= 3 {
							t.Errorf("unit %d: PTS step %v, want %v", i, step, period)
						}
					}
				}
				last = pts
			}
			if uneven > 0 {
				t.Errorf("%d uneven PTS steps after settling", uneven)
			}
		})
	}
}

// TestStamperKeepsRateOverPause: a pause in the input (a child that stalls, then sends what
// it kept) re-anchors PTS but does not change their spacing.
func TestStamperKeepsRateOverPause(t *testing.T) {
	s := newStamper(25)
	period := 40 * time.Millisecond
	at := 10 * time.Second
	for range 50 {
		s.stamp(at)
		at += period
	}
	at += 3 * time.Second // paused
	for range 10 {        // then sends what it held back at once
		s.stamp(at)
	}
	for range 50 {
		at += period
		s.stamp(at)
	}
	if got := s.framePeriod(); got < period-period/100 || got > period+period/100 {
		t.Errorf("period after a pause %v, want %v", got, period)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	var got []time.Duration
	for range 6 {
		got = append(got, b.after(0, false))
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
	if d := b.after(healthyRun, false); d != 100*time.Millisecond {
		t.Errorf("after a healthy run delay %v, want the minimum", d)
	}
	b.after(0, false)
	b.after(0, false)
	// A short child that published pictures (a command playing a short file) is healthy too:
	// its restarts must not drift apart.
	for i := range 3 {
		if d := b.after(4*time.Second, true); d != 100*time.Millisecond {
			t.Errorf("restart %d after a short run that published: delay %v, want the minimum", i, d)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	tb := newTailBuffer(8)
	_, _ = tb.Write([]byte("hello "))
	_, _ = tb.Write([]byte("world"))
	if got := tb.String(); got != "lo world" {
		t.Errorf("tail = %q, want %q", got, "lo world")
	}
	_, _ = tb.Write([]byte("0123456789abc"))
	if got := tb.String(); got != "56789abc" {
		t.Errorf("tail = %q", got)
	}
}
