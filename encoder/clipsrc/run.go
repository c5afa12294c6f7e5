package clipsrc

import (
	"context"
	"log/slog"
	"time"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

// maxLag is how far behind its schedule Run may fall (a suspended laptop, a stopped process)
// before it stops catching up frame by frame and moves its schedule instead: bursting out a
// minute of frames at once would only flood every viewer's queue.
const maxLag = time.Second

// Run publishes one access unit per frame period until ctx ends, looping the clip. Frame n is
// due at start + n/fps on the monotonic clock and carries that instant as its PTS (and the
// matching wall time as Captured and, in a keyframe, in its SEI), moved to its display time
// in a clip with B-frames, so timestamps advance by exactly one period at the loop point as
// anywhere else. It returns nil when ctx ends.
func (s *Source) Run(ctx context.Context, publish encoder.Publish) error {
	start := s.clock.now()
	var (
		shift     time.Duration // schedule moves after stalls
		sei       [64]byte      // capture-time SEI scratch (34 bytes at most with emulation prevention)
		pos       int           // index into the clip
		lastShown time.Duration // the latest display time handed out (PTS)
	)
	for n := int64(0); ; n++ {
		due := start.mono + shift + s.tick(n)
		if err := s.clock.sleepUntil(ctx, due); err != nil {
			return nil
		}
		if lag := s.clock.now().mono - due; lag > maxLag {
			slog.Warn("clip source fell behind its schedule; skipping ahead", "lag", lag)
			shift += lag
			due += lag
		}
		jumped := false
		if s.keyframe.Swap(false) {
			next := s.nextKeyframe(pos)
			jumped = next != pos
			pos = next
		}
		f := &s.clip.frames[pos]
		// Units go out in decode order, one per period; each carries the time it is shown,
		// which for a B-frame clip is later than its turn (RTP timestamps are display times).
		pts := start.mono + shift + s.tick(n+int64(f.shown))
		if jumped && n > 0 && pts <= lastShown {
			// In a B-frame clip, units already sent may be shown after the keyframe jumped
			// to: move the schedule on, so that no display time repeats or goes back for
			// the viewers already watching. The stream pauses for those frames instead.
			move := lastShown - pts + s.tick(1)
			shift += move
			pts += move
		}
		lastShown = max(lastShown, pts)
		captured := start.wall.Add(pts - start.mono)

		au := s.pool.Get(f.size + len(sei))
		seiNALU := h264.AppendCaptureTimeSEI(sei[:0], captured)
		inserted := false
		for _, nalu := range f.nalus {
			// The SEI goes after any AUD and parameter sets and before the first slice,
			// where H.264 7.4.1.2.3 allows SEI in an access unit.
			if !inserted && f.keyframe && h264.TypeOf(nalu).IsVCL() {
				au.AppendNALU(seiNALU)
				inserted = true
			}
			au.AppendNALU(nalu)
		}
		au.PTS, au.Captured, au.Keyframe = pts, captured, f.keyframe
		publish(au)

		if pos++; pos == len(s.clip.frames) {
			pos = 0
		}
	}
}

// nextKeyframe returns pos if it is a keyframe, else the index of the next one, wrapping to
// the start of the clip (which New guarantees is a keyframe).
func (s *Source) nextKeyframe(pos int) int {
	for i := pos; i < len(s.clip.frames); i++ {
		if s.clip.frames[i].keyframe {
			return i
		}
	}
	return 0
}
