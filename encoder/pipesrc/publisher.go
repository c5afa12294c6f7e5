package pipesrc

import (
	"bytes"
	"log/slog"
	"math"
	"time"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

// publisher turns the access units of one input (one child run) into pooled units: the one
// copy, the parameter sets and a fresh capture-time SEI in front of every keyframe, and
// nothing before the first decodable keyframe.
type publisher struct {
	pool    *encoder.Pool
	log     *slog.Logger
	stamper *stamper

	waitKey  bool   // drop units until a keyframe with known parameter sets
	sps, pps []byte // last parameter sets seen, repeated on keyframes that lack them
	spsInfo  h264.SPS
	order    h264.DisplayOrder // where B-frames are shown
	dropped  int64             // units dropped while waiting for a keyframe
	sei      [64]byte

	lastKey     time.Duration // arrival of the last keyframe published
	sinceKey    int           // units published since it
	warnedNoKey bool
	warnedHEVC  bool
	lastAt      time.Duration // arrival of the last unit
	notedPeriod time.Duration // the frame period last logged
}

// rateNoteChange is the relative change in the input's frame period that is logged again.
const rateNoteChange = 0.05

// noKeyframeWarning is how long a stream may go without an IDR before the publisher says
// that viewers who join are waiting: open-GOP encoders send I-frames that are not IDRs, and
// camerad starts every viewer at an IDR. It counts in units as well as time (10 s worth at
// 30 fps when the rate is unknown), so that a stall is not taken for a missing keyframe.
const noKeyframeWarning = 10 * time.Second

// stallNote is the gap in the input after which the publisher says that it stalled.
const stallNote = 2 * time.Second

func newPublisher(pool *encoder.Pool, log *slog.Logger, st *stamper) *publisher {
	return &publisher{pool: pool, log: log, stamper: st, waitKey: true}
}

// unitsIn is how many units the input sends in d at its frame rate (30 fps if unknown).
func (p *publisher) unitsIn(d time.Duration) int {
	period := p.stamper.framePeriod()
	if period <= 0 {
		period = time.Second / 30
	}
	return int(d / period)
}

// resync makes the publisher wait for the next keyframe: a unit was lost, and the pictures
// after it refer to it.
func (p *publisher) resync() { p.waitKey = true }

// noteRate logs the input's frame rate when the stamper moves to one that differs by more
// than rateNoteChange from the last one noted (at first, the configured or the SPS's one,
// which is not logged): a pipe that runs at another rate than -fps says is worth knowing about.
func (p *publisher) noteRate(period time.Duration) {
	switch {
	case period <= 0:
		return
	case p.notedPeriod == 0:
		p.notedPeriod = period
		return
	case math.Abs(float64(period-p.notedPeriod)) <= rateNoteChange*float64(p.notedPeriod):
		return
	}
	p.log.Info("pipe source: timestamps follow the input's measured frame rate",
		"fps", fpsOf(period), "was", fpsOf(p.notedPeriod))
	p.notedPeriod = period
}

// pictureIn reports whether nalus hold a slice a decoder can take, and whether they held
// slices that were all corrupt.
func pictureIn(nalus [][]byte) (picture, corrupt bool) {
	for _, n := range nalus {
		if h264.TypeOf(n).IsVCL() {
			if n[0]&0x80 == 0 {
				return true, false
			}
			corrupt = true
		}
	}
	return false, corrupt
}

// fpsOf is the frame rate of period, to two decimals.
func fpsOf(period time.Duration) float64 {
	return math.Round(float64(time.Second)/float64(period)*100) / 100
}

func (p *publisher) publish(u unit, publish encoder.Publish) {
	if p.waitKey && !p.warnedHEVC && len(u.nalus) > 0 && h264.IsHEVCVPS(u.nalus[0]) {
		p.warnedHEVC = true // else all it would hear of is a missing keyframe, 10 s on
		p.log.Error("pipe source: the input is H.265/HEVC, and camerad serves H.264 " +
			"(rpicam-vid --codec h264; ffmpeg -c:v libx264 -f h264)")
	}
	if picture, corrupt := pictureIn(u.nalus); !picture {
		// Nothing a decoder could show goes out as a frame; and when its slices were corrupt
		// (forbidden_zero_bit set) the pictures after it may refer to the lost one.
		p.dropped++
		p.waitKey = p.waitKey || corrupt
		return
	}
	key := h264.IsKeyframe(u.nalus)
	if gap := u.at.mono - p.lastAt; p.lastAt > 0 && gap > stallNote {
		p.log.Warn("pipe source: the input stalled; resumed", "gap", gap.Round(time.Millisecond))
	}
	p.lastAt = u.at.mono
	if p.waitKey && !key {
		p.dropped++
		return
	}
	var hasSPS, hasPPS bool
	for _, n := range u.nalus {
		switch h264.TypeOf(n) {
		case h264.NALSPS:
			hasSPS = true
			if !bytes.Equal(n, p.sps) {
				info, err := h264.ParseSPS(n)
				if err != nil {
					p.log.Warn("pipe source: unreadable SPS; waiting for the next keyframe", "err", err)
					p.sps, p.waitKey = p.sps[:0], true
					p.dropped++
					return
				}
				p.sps, p.spsInfo = append(p.sps[:0], n...), info
				p.stamper.useStreamRate(info.FrameRate)
			}
		case h264.NALPPS:
			hasPPS = true
			p.pps = append(p.pps[:0], n...)
		}
	}
	if key && (len(p.sps) == 0 || len(p.pps) == 0) {
		p.dropped++ // a keyframe nobody can decode without parameter sets
		return
	}
	if p.waitKey {
		p.waitKey = false
		if p.dropped > 0 {
			p.log.Debug("pipe source: started at a keyframe", "dropped_units", p.dropped)
		}
	}
	if key {
		p.lastKey, p.sinceKey = u.at.mono, 0
	} else if p.sinceKey++; !p.warnedNoKey && u.at.mono-p.lastKey > noKeyframeWarning && p.sinceKey > p.unitsIn(noKeyframeWarning) {
		p.warnedNoKey = true
		p.log.Warn("pipe source: no IDR keyframe for a while; viewers who join wait for one. "+
			"Have the encoder send IDRs at intervals (closed GOP: x264 open-gop=0; rpicam-vid --intra)",
			"since", noKeyframeWarning)
	}

	// The stamper spaces units in the order they come, which is decode order; each is shown
	// later by as many periods as DisplayOrder says (B-frames), and RTP carries display times.
	pts := p.stamper.stamp(u.at.mono)
	period := p.stamper.framePeriod()
	if shown := p.order.Next(u.nalus, p.spsInfo); shown > 0 {
		pts += time.Duration(shown) * period
	}
	p.noteRate(period)
	captured := p.stamper.captured(pts, u.at)
	sei := h264.AppendCaptureTimeSEI(p.sei[:0], captured)
	size := len(sei)
	for _, n := range u.nalus {
		size += len(n)
	}
	if key {
		size += len(p.sps) + len(p.pps)
	}

	au := p.pool.Get(size)
	inserted := false
	for _, n := range u.nalus {
		t := h264.TypeOf(n)
		if n[0]&0x80 != 0 {
			continue // forbidden_zero_bit: corrupt, and decoders reject it anyway
		}
		if t == h264.NALSEI {
			if _, old := h264.ParseCaptureTimeSEI(n); old {
				continue // a camerad stream piped into camerad: the SEI is restamped
			}
		}
		if !inserted && t.IsVCL() {
			if key && !hasSPS {
				au.AppendNALU(p.sps)
			}
			if key && !hasPPS {
				au.AppendNALU(p.pps)
			}
			if key {
				au.AppendNALU(sei)
			}
			inserted = true
		}
		au.AppendNALU(n)
	}
	au.PTS, au.Captured, au.Keyframe = pts, captured, key
	publish(au)
}
