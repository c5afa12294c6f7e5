// Package clipsrc is camerad's stand-in camera: it loops a short H.264 clip (Annex-B) in real
// time, as if an encoder produced it live. Each frame is copied once into a pooled access
// unit, stamped with a PTS and a capture time that advance continuously across the loop
// point, and given a capture-time SEI so that clients can measure latency.
package clipsrc

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/camerad/camerad/encoder"
)

// maxFPS bounds the frame rate accepted from the caller or the SPS: beyond it a VUI is more
// likely wrong than a camera fast.
const maxFPS = 1000

// Source replays a parsed clip. It is safe to call RequestKeyframe from any goroutine while
// Run is going; Run itself must not be called twice at the same time.
type Source struct {
	clip     clip
	fps      float64
	pool     *encoder.Pool
	clock    clock
	keyframe atomic.Bool // a viewer asked for an IDR as soon as possible
}

// New parses data (an Annex-B H.264 stream) into access units. data is kept, not copied, and
// must not be modified afterwards. fps is the replay rate; 0 takes it from the SPS's VUI
// timing info. The first access unit must be a keyframe with SPS and PPS, since every loop
// starts there.
func New(data []byte, fps float64, pool *encoder.Pool) (*Source, error) {
	if pool == nil {
		return nil, errors.New("clipsrc: nil pool")
	}
	c, err := parseClip(data)
	if err != nil {
		return nil, fmt.Errorf("clipsrc: %w", err)
	}
	if fps == 0 {
		fps = c.sps.FrameRate
		if fps == 0 {
			return nil, errors.New("clipsrc: no frame rate given and the SPS has no VUI timing info")
		}
	}
	if !(fps > 0 && fps <= maxFPS) || math.IsNaN(fps) {
		return nil, fmt.Errorf("clipsrc: frame rate %g out of range (0, %d]", fps, maxFPS)
	}
	return &Source{clip: c, fps: fps, pool: pool, clock: newSystemClock()}, nil
}

// FPS is the replay frame rate.
func (s *Source) FPS() float64 { return s.fps }

// Frames is the number of access units in one pass of the clip.
func (s *Source) Frames() int { return len(s.clip.frames) }

// Size is the picture size from the clip's first SPS.
func (s *Source) Size() (width, height int) { return s.clip.sps.Width, s.clip.sps.Height }

// Duration is the length of one pass of the clip.
func (s *Source) Duration() time.Duration { return s.tick(int64(len(s.clip.frames))) }

// RequestKeyframe makes the next frame a keyframe by skipping ahead to the clip's next IDR.
// The clip cannot encode a new IDR, but jumping to one is always decodable (an IDR refers to
// nothing before it), so a joining viewer gets a picture within one frame instead of up to a
// GOP. Everyone watching sees the jump, though: see KeyframeSkipsAhead.
func (s *Source) RequestKeyframe() { s.keyframe.Store(true) }

// KeyframeSkipsAhead says that RequestKeyframe skips ahead (encoder.KeyframeSkipper): the
// server asks only for a viewer that is alone, so nobody else's picture jumps.
func (s *Source) KeyframeSkipsAhead() bool { return true }

// tick is the offset of frame n from the start of Run. Computed from n rather than by adding
// a rounded period n times, so that pacing cannot drift: at 29.97 fps the period is not a
// whole number of nanoseconds.
func (s *Source) tick(n int64) time.Duration {
	return time.Duration(math.Round(float64(n) * float64(time.Second) / s.fps))
}

var (
	_ encoder.Source            = (*Source)(nil)
	_ encoder.KeyframeRequester = (*Source)(nil)
)
