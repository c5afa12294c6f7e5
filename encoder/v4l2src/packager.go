// Package v4l2src provides the camera sources: passthrough of a camera's own H.264, and raw
// camera frames encoded by a V4L2 M2M encoder. Both turn each coded frame into one pooled
// access unit with a single copy from the driver's buffer.
package v4l2src

import (
	"bytes"
	"log/slog"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

// packager turns an Annex-B frame in a driver buffer into an access unit: SPS and PPS in
// front of every IDR (from the frame or, when the driver left them out, from the last ones
// seen) and camerad's capture-time SEI, then the frame's other NAL units.
type packager struct {
	pool     *encoder.Pool
	log      *slog.Logger
	sps, pps []byte
	sei      [64]byte

	// Timestamps (see stamp): last is the latest PTS handed out, offset what is added to the
	// driver's since its clock last went back.
	last, offset time.Duration
	warnedClock  bool
}

// build copies frame into a new access unit; nil when the frame holds no picture. A buffer
// of parameter sets alone (some encoders send the headers first, on their own) is kept for
// the next IDR, not sent as a frame of its own with a timestamp of its own.
func (p *packager) build(frame []byte, ts time.Duration) *encoder.AccessUnit {
	var hasIDR, hasSPS, hasPPS, hasPicture bool
	h264.ForEachNALU(frame, func(n []byte) {
		switch h264.TypeOf(n) {
		case h264.NALIDR:
			hasIDR = true
		case h264.NALSPS:
			hasSPS = true
			p.remember(&p.sps, n)
		case h264.NALPPS:
			hasPPS = true
			p.remember(&p.pps, n)
		}
		hasPicture = hasPicture || h264.TypeOf(n).IsVCL()
	})
	if !hasPicture {
		return nil
	}
	pts := p.stamp(ts)
	au := p.pool.Get(len(frame) + len(p.sps) + len(p.pps) + len(p.sei))
	au.PTS, au.Keyframe, au.Captured = pts, hasIDR, wallClock(pts)
	if hasIDR {
		// Parameter sets first; from the frame if it has them, else the cached ones.
		h264.ForEachNALU(frame, func(n []byte) {
			if t := h264.TypeOf(n); t == h264.NALSPS || t == h264.NALPPS {
				au.AppendNALU(n)
			}
		})
		if !hasSPS {
			au.AppendNALU(p.sps)
		}
		if !hasPPS {
			au.AppendNALU(p.pps)
		}
	}
	if hasIDR {
		au.AppendNALU(h264.AppendCaptureTimeSEI(p.sei[:0], au.Captured))
	}
	h264.ForEachNALU(frame, func(n []byte) {
		switch t := h264.TypeOf(n); {
		case hasIDR && (t == h264.NALSPS || t == h264.NALPPS):
		case t == h264.NALAUD: // an SEI above would follow it; RTP needs no delimiters
		default:
			au.AppendNALU(n)
		}
	})
	return au
}

// stamp turns a driver timestamp into the frame's PTS. V4L2 timestamps are capture times on
// CLOCK_MONOTONIC, but a driver may leave them zero, repeat one, or restart its clock; RTP
// timestamps taken from those would stand still or leap by hours. Such a frame gets its
// arrival time (on the same clock), and later ones the driver's times shifted to continue
// from it, so their spacing is kept. Small steps back are left alone: B-frames in decode order.
func (p *packager) stamp(ts time.Duration) time.Duration {
	pts := ts + p.offset
	if ts > 0 && pts != p.last && pts > p.last-time.Second {
		p.last = max(p.last, pts)
		return pts
	}
	if !p.warnedClock {
		p.warnedClock = true
		p.log.Warn("the camera's timestamps are zero, repeated or going back; using arrival times",
			"timestamp", ts, "last", p.last)
	}
	pts = max(monotonicNow(), p.last+time.Microsecond)
	if ts > 0 {
		p.offset = pts - ts
	}
	p.last = pts
	return pts
}

// monotonicNow is CLOCK_MONOTONIC, the clock of V4L2 timestamps.
func monotonicNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// remember keeps a parameter set; a changed SPS (new size after a reopen) is logged, and the
// RTSP server picks it up from the next keyframe for new viewers' SDP.
func (p *packager) remember(dst *[]byte, n []byte) {
	if bytes.Equal(*dst, n) {
		return
	}
	if dst == &p.sps && *dst != nil {
		if s, err := h264.ParseSPS(n); err == nil {
			p.log.Info("H.264 sequence parameters changed", "size", [2]int{s.Width, s.Height}, "profile-level-id", s.ProfileLevelID())
		}
	}
	*dst = append((*dst)[:0], n...)
}

// wallClock converts a CLOCK_MONOTONIC capture time into wall-clock time.
func wallClock(pts time.Duration) time.Time {
	var ts unix.Timespec
	now := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil || pts <= 0 {
		return now
	}
	age := time.Duration(ts.Nano()) - pts
	if age < 0 || age > time.Minute {
		return now // a driver timestamp from another clock: do not invent a latency
	}
	return now.Add(-age)
}
