package rtspsrv

import (
	"sync/atomic"
	"testing"
)

// countingRequester counts keyframe requests, as a source that makes new keyframes.
type countingRequester struct{ n atomic.Int64 }

func (c *countingRequester) RequestKeyframe() { c.n.Add(1) }

// countingSkipper is a countingRequester that makes keyframes by skipping ahead (a file).
type countingSkipper struct{ countingRequester }

func (c *countingSkipper) KeyframeSkipsAhead() bool { return true }

// TestKeyframeRequestPolicy: a source that makes keyframes is asked at every PLAY; one that
// can only skip ahead in its material (a file) only when the joiner is the only one playing,
// since everyone would see the jump.
func TestKeyframeRequestPolicy(t *testing.T) {
	enc := &countingRequester{}
	file := &countingSkipper{}
	for _, tc := range []struct {
		name string
		n    *atomic.Int64
		s    *Stream
		want []int64 // requests after each step: start, start, stop, stop, start
	}{
		{"encoder", &enc.n, NewStream(StreamConfig{Keyframes: enc}), []int64{1, 2, 2, 2, 3}},
		{"file", &file.n, NewStream(StreamConfig{Keyframes: file}), []int64{1, 1, 1, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := []func(){tc.s.startPlaying, tc.s.startPlaying, tc.s.stopPlaying, tc.s.stopPlaying, tc.s.startPlaying}
			for i, step := range steps {
				step()
				if got := tc.n.Load(); got != tc.want[i] {
					t.Fatalf("after step %d: %d keyframe requests, want %d", i+1, got, tc.want[i])
				}
			}
		})
	}
}

// TestJoinDoesNotMakeOthersSkip: with the clip source (which makes a keyframe by jumping to
// the clip's next IDR), viewers joining mid-GOP do not make an existing viewer's picture
// jump: its keyframes keep the clip's own spacing.
func TestJoinDoesNotMakeOthersSkip(t *testing.T) {
	ts := startServer(t, Config{})
	_, u, _, _ := ts.playUDP(t)
	_ = u.rtp.SetReadBuffer(4 << 20) // frames wait here while a joiner sets up
	frames := frameReader(t, u)
	untilKeyframe := func() int { // frames from the last keyframe to the next one
		for n := 1; ; n++ {
			if frames() {
				return n
			}
		}
	}
	untilKeyframe()
	gop := untilKeyframe() // the clip's own spacing, with nobody joining
	for i := range 3 {
		for range gop/3 + i { // somewhere mid-GOP for the first viewer
			if frames() {
				t.Fatal("keyframe earlier than the clip's spacing")
			}
		}
		c, _, id, _ := ts.playUDP(t)
		if n := untilKeyframe() + gop/3 + i; n != gop {
			t.Fatalf("join %d: the first viewer's keyframes came %d frames apart, not the clip's %d: its picture jumped", i, n, gop)
		}
		c.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
	}
}

// frameReader returns a function that reads u until the next frame (a new RTP timestamp)
// begins and reports whether it is a keyframe.
func frameReader(t *testing.T, u *udpClient) func() bool {
	var lastTS uint32
	started := false
	return func() bool {
		for {
			p, _ := u.readRTP(t)
			if started && p.Timestamp == lastTS {
				continue
			}
			started, lastTS = true, p.Timestamp
			return startsKeyframe(p)
		}
	}
}

// TestTinyRingStillServes: a ring configured too small to let any viewer lag is enlarged, so
// that viewers are not moved to the next keyframe on every frame.
func TestTinyRingStillServes(t *testing.T) {
	for _, frames := range []int{1, 2} {
		s := NewStream(StreamConfig{RingFrames: frames})
		if len(s.ring) < minRingFrames || s.cfg.MaxLagFrames < 1 || s.cfg.MaxLagFrames > len(s.ring)-2 {
			t.Errorf("RingFrames %d: ring of %d with MaxLagFrames %d; want a ring of at least %d that allows a lag of 1 or more",
				frames, len(s.ring), s.cfg.MaxLagFrames, minRingFrames)
		}
	}
}
