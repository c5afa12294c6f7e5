package stats

import "time"

// Jitter is the RFC 3550 (6.4.1) interarrival jitter estimate, in RTP clock units.
type Jitter struct {
	clockRate   float64
	started     bool
	lastArrival time.Time
	lastTS      uint32
	j           float64
}

// NewJitter returns an estimator for a stream with the given clock rate (90000 for video).
func NewJitter(clockRate int) Jitter { return Jitter{clockRate: float64(clockRate)} }

// Push records a packet's arrival time and RTP timestamp. Packets of one frame share a
// timestamp; their spread is part of what jitter measures, as in the RFC.
func (j *Jitter) Push(arrival time.Time, ts uint32) {
	if !j.started {
		j.started, j.lastArrival, j.lastTS = true, arrival, ts
		return
	}
	arrivalDelta := arrival.Sub(j.lastArrival).Seconds() * j.clockRate
	tsDelta := float64(int32(ts - j.lastTS))
	d := arrivalDelta - tsDelta
	if d < 0 {
		d = -d
	}
	j.j += (d - j.j) / 16
	j.lastArrival, j.lastTS = arrival, ts
}

// Units is the current estimate in clock units (what an RTCP receiver report carries).
func (j *Jitter) Units() uint32 { return uint32(j.j) }

// Duration is the current estimate as time.
func (j *Jitter) Duration() time.Duration {
	if j.clockRate == 0 {
		return 0
	}
	return time.Duration(j.j / j.clockRate * float64(time.Second))
}
