// Package testsrc is camerad's built-in camera for machines without one (a laptop, CI, the
// qemu image test): a pure-Go H.264 encoder that draws a live test card - colour bars, a
// sweeping bar, the wall-clock capture time and a frame counter - and codes it as
// Constrained Baseline with CAVLC. No cgo, no ffmpeg, no file.
//
// The encoder is deliberately simple and exact. The card is drawn at a resolution of one
// value per 4x4 pixel block; every macroblock that changes is coded Intra16x16 with DC
// prediction and only DC coefficients (which reconstruct to exactly such blocks), and every
// other macroblock of a P picture is P_Skip. A flat macroblock costs about one byte, so at
// 1280x720 an IDR is about 15 kB and a P picture 1 to 2 kB: some 400 kbit/s at 30 fps.
//
// Every access unit carries its capture time in the SEI described in encoder/h264
// (h264.CaptureTimeUUID, a big-endian int64 count of Unix microseconds), so a client can
// measure glass-to-glass latency; the same time is printed in the picture.
package testsrc

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

// The interfaces the RTSP server and cmd/camerad use.
var (
	_ encoder.Source            = (*Source)(nil)
	_ encoder.KeyframeRequester = (*Source)(nil)
)

// Source is the test source. Run (or Encode, for tests and benchmarks) produces the
// stream; RequestKeyframe may be called from any goroutine.
type Source struct {
	cfg  Config
	pool *encoder.Pool
	lay  layout

	keyframe atomic.Bool // a viewer asked for an IDR

	mu       sync.Mutex // serialises Encode: the stream state below is sequential
	enc      *sliceEncoder
	cur      picture // the picture being coded
	prev     picture // the previous one, to find what changed
	txt      cardText
	sinceIDR int
	sps, pps []byte // the parameter set NAL units, written once
	nal      []byte // scratch for emulation prevention
	sizeHint [2]int // last P and IDR access unit sizes, for the pool
}

// New validates cfg and returns a source drawing into buffers from pool. Errors name the
// offending Config field.
func New(cfg Config, pool *encoder.Pool) (*Source, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, fmt.Errorf("testsrc: nil pool")
	}
	g := geometry{width: cfg.Width, height: cfg.Height, mbW: (cfg.Width + 15) / 16, mbH: (cfg.Height + 15) / 16}
	idc, ok := pickLevel(g.mbW, g.mbH, cfg.FPS)
	if !ok {
		return nil, fmt.Errorf("testsrc: %dx%d at FPS %d exceeds every H.264 level", cfg.Width, cfg.Height, cfg.FPS)
	}
	g.levelIDC = idc
	s := &Source{
		cfg:  cfg,
		pool: pool,
		lay:  newLayout(cfg.Width, cfg.Height, cfg.FPS),
		enc:  newSliceEncoder(g),
		cur:  newPicture(g.mbW, g.mbH),
		prev: newPicture(g.mbW, g.mbH),
	}
	var w bitWriter
	writeSPS(&w, g, cfg.FPS)
	s.sps = h264.AppendEmulationPrevention(nil, w.bytes())
	writePPS(&w)
	s.pps = h264.AppendEmulationPrevention(nil, w.bytes())
	return s, nil
}

// Config returns the effective configuration (defaults filled in).
func (s *Source) Config() Config { return s.cfg }

// RequestKeyframe makes the next encoded frame an IDR (with SPS and PPS in front); the GOP
// count restarts there.
func (s *Source) RequestKeyframe() { s.keyframe.Store(true) }

// Encode codes the next picture of the stream: the test card for frame number frameIndex,
// stamped with captured (drawn in the picture, and carried in a keyframe's capture-time SEI). It is an
// IDR when forceIDR is set, a keyframe was requested, the GOP is complete, or it is the first
// picture. Calls are sequential: each one codes the next picture of one stream, whatever
// frameIndex says. The caller owns the returned unit's reference; its PTS is frameIndex
// frame periods.
func (s *Source) Encode(frameIndex int, captured time.Time, forceIDR bool) *encoder.AccessUnit {
	s.mu.Lock()
	defer s.mu.Unlock()

	idr := s.keyframe.Swap(false) || forceIDR || !s.enc.started || s.sinceIDR >= s.cfg.GOP
	if idr {
		s.sinceIDR = 0
	}
	s.sinceIDR++

	s.cur, s.prev = s.prev, s.cur
	s.lay.render(&s.cur, &s.txt, frameIndex, captured)
	slice := s.enc.encode(&s.cur, &s.prev, idr)

	kind := 0
	if idr {
		kind = 1
	}
	// A quarter more than last time, so that a slightly larger picture does not outgrow the
	// pooled buffer and allocate.
	au := s.pool.Get(s.sizeHint[kind] + s.sizeHint[kind]/4)
	if idr {
		au.AppendNALU(s.sps)
		au.AppendNALU(s.pps)
		s.nal = h264.AppendCaptureTimeSEI(s.nal[:0], captured)
		au.AppendNALU(s.nal)
	}
	s.nal = h264.AppendEmulationPrevention(s.nal[:0], slice)
	au.AppendNALU(s.nal)
	s.sizeHint[kind] = au.Size()

	au.Keyframe = idr
	au.Captured = captured
	au.PTS = time.Duration(frameIndex) * time.Second / time.Duration(s.cfg.FPS)
	return au
}

// Run produces frames at the configured rate until ctx ends, then returns nil. Frame numbers
// count from 0 at the start of Run; PTS is the monotonic time since then. When the machine
// falls behind, ticks are dropped rather than queued, so the picture stays current.
func (s *Source) Run(ctx context.Context, publish encoder.Publish) error {
	period := time.Second / time.Duration(s.cfg.FPS)
	s.cfg.Logger.Info("test source running",
		"width", s.cfg.Width, "height", s.cfg.Height, "fps", s.cfg.FPS, "gop", s.cfg.GOP)
	start := time.Now() // before the ticker, so that tick k is never before slot k
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	defer s.cfg.Logger.Debug("test source stopped")
	for n := 0; ; n++ {
		if ctx.Err() != nil {
			return nil
		}
		// Stamp each frame with its slot on the frame grid, not with the instant this
		// goroutine got to run: scheduling jitter in PTS puts frames closer together than a
		// period, which players and muxers reject (ffmpeg: "non monotonically increasing
		// dts"). A late tick skips whole slots, so PTS stays the time since start.
		if slot := int(time.Since(start) / period); slot > n {
			n = slot
		}
		// The capture time is slot n on today's wall clock: now, less how late this frame is
		// past its slot. It moves on the same grid as the PTS (so RTP time and SEI time agree),
		// and it follows a stepped wall clock (NTP after boot) instead of keeping the offset
		// the clock had at start.
		late := time.Since(start) - time.Duration(n)*period
		au := s.Encode(n, time.Now().Add(-late), false)
		publish(au)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}
