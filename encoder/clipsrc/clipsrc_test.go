package clipsrc

import (
	"bytes"
	"context"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// virtualClock advances only when Run sleeps, so a test can play minutes of clip in
// microseconds and check the schedule through PTS values alone. jumps adds extra time at the
// given sleep count, to simulate a stalled process.
type virtualClock struct {
	mu     sync.Mutex
	t      instant
	sleeps int
	jumps  map[int]time.Duration
}

func newVirtualClock() *virtualClock {
	return &virtualClock{t: instant{mono: 1000 * time.Hour, wall: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
}

func (c *virtualClock) now() instant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *virtualClock) sleepUntil(ctx context.Context, t time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := t - c.t.mono; d > 0 {
		c.t.mono += d
		c.t.wall = c.t.wall.Add(d)
	}
	if j := c.jumps[c.sleeps]; j > 0 {
		c.t.mono += j
		c.t.wall = c.t.wall.Add(j)
	}
	c.sleeps++
	return ctx.Err()
}

// collect runs s until it has published n units and returns them (still referenced).
func collect(t *testing.T, s *Source, n int) []*encoder.AccessUnit {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []*encoder.AccessUnit
	err := s.Run(ctx, func(au *encoder.AccessUnit) {
		got = append(got, au)
		if len(got) == n {
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
	if len(got) != n {
		t.Fatalf("published %d units, want %d", len(got), n)
	}
	return got
}

func releaseAll(units []*encoder.AccessUnit) {
	for _, au := range units {
		au.Release()
	}
}

func newVirtual(t *testing.T, data []byte, fps float64) (*Source, *encoder.Pool, *virtualClock) {
	t.Helper()
	pool := encoder.NewPool()
	s, err := New(data, fps, pool)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	vc := newVirtualClock()
	s.clock = vc
	return s, pool, vc
}

func TestDefaultClipParses(t *testing.T) {
	s, err := NewDefault(encoder.NewPool())
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Frames(); got != 120 {
		t.Errorf("frames = %d, want 120 (4 s at 30 fps, see scripts/make-clip.sh)", got)
	}
	if got := s.FPS(); got != 30 {
		t.Errorf("fps from SPS VUI = %v, want 30", got)
	}
	if w, h := s.Size(); w != 640 || h != 360 {
		t.Errorf("size = %dx%d, want 640x360", w, h)
	}
	if got := s.Duration(); got != 4*time.Second {
		t.Errorf("duration = %v, want 4s", got)
	}
	if p := s.clip.sps.ProfileLevelID(); p != "42c01e" {
		t.Errorf("profile-level-id = %s, want 42c01e (constrained baseline 3.0)", p)
	}
	for i, f := range s.clip.frames {
		if want := i%30 == 0; f.keyframe != want {
			t.Errorf("frame %d keyframe = %v, want %v (fixed GOP of 30)", i, f.keyframe, want)
		}
		var types []h264.NALType
		for _, n := range f.nalus {
			types = append(types, h264.TypeOf(n))
		}
		want := []h264.NALType{h264.NALSlice}
		if f.keyframe {
			want = []h264.NALType{h264.NALSPS, h264.NALPPS, h264.NALIDR}
		}
		if !equalTypes(types, want) {
			t.Errorf("frame %d NAL types = %v, want %v", i, types, want)
		}
	}
}

func equalTypes(a, b []h264.NALType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRunLoopsSeamlessly plays the clip two and a half times on a virtual clock and checks
// that PTS and capture time step by exactly one frame period everywhere, including where the
// clip wraps, and that each unit is the right clip frame with a correct capture-time SEI.
func TestRunLoopsSeamlessly(t *testing.T) {
	s, pool, vc := newVirtual(t, Default(), 0)
	start := vc.now()
	const n = 300
	units := collect(t, s, n)
	defer func() {
		releaseAll(units)
		if got := pool.Outstanding(); got != 0 {
			t.Errorf("pool outstanding after release = %d, want 0", got)
		}
	}()

	for i, au := range units {
		wantPTS := start.mono + time.Duration(math.Round(float64(i)*1e9/30))
		if au.PTS != wantPTS {
			t.Fatalf("unit %d PTS = %v, want %v", i, au.PTS, wantPTS)
		}
		if i > 0 {
			if d := au.PTS - units[i-1].PTS; d < 33333333 || d > 33333334 {
				t.Fatalf("unit %d: PTS step %v, want one frame period", i, d)
			}
		}
		if off := au.Captured.Sub(start.wall); off != au.PTS-start.mono {
			t.Fatalf("unit %d: Captured offset %v != PTS offset %v", i, off, au.PTS-start.mono)
		}
		frame := s.clip.frames[i%len(s.clip.frames)]
		if au.Keyframe != frame.keyframe || au.Keyframe != (i%30 == 0) {
			t.Fatalf("unit %d keyframe = %v, want %v", i, au.Keyframe, i%30 == 0)
		}

		nalus := au.NALUs()
		seiAt := -1
		var payload [][]byte
		for j, nalu := range nalus {
			if ts, ok := h264.ParseCaptureTimeSEI(nalu); ok {
				if seiAt >= 0 {
					t.Fatalf("unit %d: two capture-time SEIs", i)
				}
				seiAt = j
				if !ts.Equal(au.Captured.Truncate(time.Microsecond)) {
					t.Fatalf("unit %d: SEI time %v, want %v", i, ts, au.Captured)
				}
				continue
			}
			payload = append(payload, nalu)
		}
		switch {
		case !au.Keyframe && seiAt >= 0:
			t.Fatalf("unit %d: capture-time SEI in a non-keyframe; it belongs in keyframes only", i)
		case au.Keyframe && (seiAt < 0 || !h264.TypeOf(nalus[seiAt+1]).IsVCL() || (seiAt > 0 && h264.TypeOf(nalus[seiAt-1]).IsVCL())):
			t.Fatalf("unit %d: capture-time SEI at %d is not right before the keyframe's first slice", i, seiAt)
		}
		if len(payload) != len(frame.nalus) {
			t.Fatalf("unit %d: %d NAL units besides the SEI, want %d", i, len(payload), len(frame.nalus))
		}
		for j := range payload {
			if !bytes.Equal(payload[j], frame.nalus[j]) {
				t.Fatalf("unit %d NAL %d differs from clip frame %d", i, j, i%len(s.clip.frames))
			}
		}
	}
	if got := pool.Outstanding(); got != n {
		t.Errorf("pool outstanding while held = %d, want %d", got, n)
	}
}

// TestRunRealClock runs a few frames on the system clock: the schedule, not the sleeps,
// decides PTS, so even here the steps are exact.
func TestRunRealClock(t *testing.T) {
	pool := encoder.NewPool()
	s, err := New(Default(), 0, pool)
	if err != nil {
		t.Fatal(err)
	}
	before := monotonicNow()
	units := collect(t, s, 5)
	defer releaseAll(units)
	if units[0].PTS < before {
		t.Errorf("first PTS %v is before Run started (%v): not CLOCK_MONOTONIC?", units[0].PTS, before)
	}
	for i := 1; i < len(units); i++ {
		want := s.tick(int64(i)) - s.tick(int64(i-1))
		if d := units[i].PTS - units[i-1].PTS; d != want {
			t.Errorf("unit %d: PTS step %v, want %v", i, d, want)
		}
	}
}

func TestRequestKeyframeSkipsToNextIDR(t *testing.T) {
	s, pool, _ := newVirtual(t, Default(), 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var units []*encoder.AccessUnit
	if err := s.Run(ctx, func(au *encoder.AccessUnit) {
		units = append(units, au)
		switch len(units) {
		case 5:
			s.RequestKeyframe() // like a viewer joining after frame 4
		case 8:
			cancel()
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		releaseAll(units)
		if pool.Outstanding() != 0 {
			t.Errorf("outstanding = %d", pool.Outstanding())
		}
	}()
	if !units[5].Keyframe {
		t.Fatalf("unit after RequestKeyframe is not a keyframe")
	}
	// Clip frame 30 is the next IDR; the units after it follow it in order.
	want := s.clip.frames[31].nalus[0]
	if got := units[6].NALUs()[0]; !bytes.Equal(got, want) {
		t.Errorf("unit 6 is not clip frame 31")
	}
	if d := units[5].PTS - units[4].PTS; d < 33333333 || d > 33333334 {
		t.Errorf("PTS step at the skip = %v, want one frame period", d)
	}
}

func TestRunMovesScheduleAfterStall(t *testing.T) {
	s, pool, vc := newVirtual(t, Default(), 25)
	vc.jumps = map[int]time.Duration{10: 5 * time.Second}
	units := collect(t, s, 20)
	defer func() {
		releaseAll(units)
		if pool.Outstanding() != 0 {
			t.Errorf("outstanding = %d", pool.Outstanding())
		}
	}()
	for i := 1; i < len(units); i++ {
		d := units[i].PTS - units[i-1].PTS
		switch {
		case i == 10:
			// The stall shows as one forward jump, not a burst of 125 catch-up frames.
			if d < 5*time.Second {
				t.Errorf("unit %d: PTS step %v across a 5 s stall", i, d)
			}
		case d != 40*time.Millisecond:
			t.Errorf("unit %d: PTS step %v, want 40ms (fps given as 25 overrides the VUI)", i, d)
		}
	}
}

func TestKeyframeGetsParameterSets(t *testing.T) {
	// Rebuild the clip with SPS/PPS only in front of the first IDR, as encoders without
	// repeat-headers write it.
	src, err := parseClip(Default())
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte
	for i, f := range src.frames {
		for _, n := range f.nalus {
			if i > 0 && (h264.TypeOf(n) == h264.NALSPS || h264.TypeOf(n) == h264.NALPPS) {
				continue
			}
			stream = h264.AppendAnnexB(stream, n)
		}
	}
	c, err := parseClip(stream)
	if err != nil {
		t.Fatal(err)
	}
	f := c.frames[60]
	if !f.keyframe || len(f.nalus) != 3 || h264.TypeOf(f.nalus[0]) != h264.NALSPS || h264.TypeOf(f.nalus[1]) != h264.NALPPS {
		t.Fatalf("keyframe 60 without own parameter sets was not given them: %d NALUs", len(f.nalus))
	}
}

// noVUISPS is a constrained baseline 3.0 SPS for 320x240 without VUI, so without a frame rate
// (made with encoder/h264's test SPS writer).
var noVUISPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0x95, 0xa0, 0x50, 0x7e, 0x40}

func TestNewErrors(t *testing.T) {
	clip, err := parseClip(Default())
	if err != nil {
		t.Fatal(err)
	}
	var fromP []byte // starts at frame 1, a P frame
	for _, f := range clip.frames[1:] {
		fromP = h264.AppendAnnexB(fromP, f.nalus...)
	}
	idr := clip.frames[0].nalus[2]
	pps := clip.frames[0].nalus[1]
	noVUI := h264.AppendAnnexB(nil, noVUISPS, pps, idr)

	// The start of an x265 stream: VPS, SPS, PPS, then an IDR slice (NAL types 32, 33, 34, 19).
	hevc := h264.AppendAnnexB(nil, []byte{0x40, 0x01, 0x0c, 0x01, 0xff, 0xff}, []byte{0x42, 0x01, 0x01, 0x01, 0x60},
		[]byte{0x44, 0x01, 0xc1, 0x72}, []byte{0x26, 0x01, 0xaf, 0x06, 0xb8})
	mp4 := append([]byte{0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'}, bytes.Repeat([]byte{0x11}, 500)...)

	tests := []struct {
		name string
		data []byte
		fps  float64
		want string // what the error must say, when it has something to advise
	}{
		{"H.265", hevc, 30, "H.265/HEVC"},
		{"MP4", mp4, 30, "for an MP4"},
		{"empty", nil, 30, ""},
		{"garbage", bytes.Repeat([]byte("not h264 "), 1000), 30, ""},
		{"starts with P frame", fromP, 30, ""},
		{"IDR without parameter sets", h264.AppendAnnexB(nil, idr), 30, ""},
		{"no VUI and no fps", noVUI, 0, ""},
		{"negative fps", Default(), -1, ""},
		{"NaN fps", Default(), math.NaN(), ""},
		{"absurd fps", Default(), 1e6, ""},
		{"broken SPS", h264.AppendAnnexB(nil, []byte{0x67, 0x42}, pps, idr), 30, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.data, tt.fps, encoder.NewPool())
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if tt.want == "" && strings.Contains(err.Error(), "H.265") {
				t.Errorf("an H.264 problem taken for H.265: %v", err)
			}
		})
	}
	if s, err := New(noVUI, 15, encoder.NewPool()); err != nil || s.FPS() != 15 {
		t.Errorf("no VUI with fps=15: %v", err)
	}
	if _, err := New(Default(), 30, nil); err == nil {
		t.Error("nil pool accepted")
	}
}

// BenchmarkRunFrame measures the per-frame cost of Run (copy into the pooled unit and SEI)
// with a virtual clock; steady state should allocate nothing.
func BenchmarkRunFrame(b *testing.B) {
	pool := encoder.NewPool()
	s, err := New(Default(), 0, pool)
	if err != nil {
		b.Fatal(err)
	}
	s.clock = newVirtualClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(Default()) / s.Frames()))
	b.ResetTimer()
	_ = s.Run(ctx, func(au *encoder.AccessUnit) {
		au.Release()
		if n++; n == b.N {
			cancel()
		}
	})
}

// TestRunBFramesInDisplayTime: a clip with B-frames (encoder/h264/testdata/bframes.h264, two
// GOPs of 12) goes out in decode order, one unit per period, and each unit carries the time
// it is shown: where the encoder placed it in its GOP, plus the 2 frames of reorder delay its
// SPS declares. Sorted, the PTS are one period apart across the loop point too, and no unit is
// shown before its turn to be sent.
//
// bframesShown is where each unit, in decode order, is shown within its GOP (as in
// encoder/h264's test).
var bframesShown = []int{0, 4, 2, 1, 3, 8, 6, 5, 7, 11, 9, 10, 0, 1, 5, 3, 2, 4, 7, 6, 11, 9, 8, 10}

func TestRunBFramesInDisplayTime(t *testing.T) {
	data, err := os.ReadFile("../h264/testdata/bframes.h264")
	if err != nil {
		t.Fatal(err)
	}
	s, _, vc := newVirtual(t, data, 0)
	start := vc.now()
	const loops = 3
	units := collect(t, s, loops*24)
	defer releaseAll(units)
	period := time.Second / 30
	var pts []time.Duration
	for i, au := range units {
		due := time.Duration(math.Round(float64(i) * float64(time.Second) / 30))
		if au.PTS < start.mono+due {
			t.Fatalf("unit %d shown at %v, before its turn %v", i, au.PTS-start.mono, due)
		}
		if off := au.Captured.Sub(start.wall); off != au.PTS-start.mono {
			t.Fatalf("unit %d: Captured offset %v != PTS offset %v", i, off, au.PTS-start.mono)
		}
		shown := 12*(i/12) + bframesShown[i%24] + 2
		if want := time.Duration(math.Round(float64(shown) * float64(time.Second) / 30)); au.PTS-start.mono != want {
			t.Fatalf("unit %d shown at %v, want %v (frame %d of the display order)", i, au.PTS-start.mono, want, shown)
		}
		pts = append(pts, au.PTS)
	}
	slices.Sort(pts)
	for i := 1; i < len(pts); i++ {
		if d := pts[i] - pts[i-1]; d < period-time.Microsecond || d > period+time.Microsecond {
			t.Fatalf("display times %d and %d are %v apart, want one period", i-1, i, d)
		}
	}
}

// TestRequestKeyframeBFramesKeepsDisplayOrder: in a B-frame clip, a jump to the next IDR
// (a viewer joining) must not give a display time that repeats or goes back for the viewers
// already watching: units sent before the jump may be shown after the IDR would have been,
// so the schedule moves on instead.
func TestRequestKeyframeBFramesKeepsDisplayOrder(t *testing.T) {
	data, err := os.ReadFile("../h264/testdata/bframes.h264")
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{2, 5, 7, 10} { // decode positions in the first GOP
		s, _, _ := newVirtual(t, data, 0)
		ctx, cancel := context.WithCancel(context.Background())
		var units []*encoder.AccessUnit
		if err := s.Run(ctx, func(au *encoder.AccessUnit) {
			units = append(units, au)
			switch len(units) {
			case at:
				s.RequestKeyframe()
			case at + 30:
				cancel()
			}
		}); err != nil {
			t.Fatal(err)
		}
		cancel()
		if !units[at].Keyframe {
			t.Fatalf("jump after unit %d: the next unit is not a keyframe", at)
		}
		for i := range at {
			if units[i].PTS >= units[at].PTS {
				t.Errorf("jump after unit %d: unit %d is shown at %v, not before the keyframe at %v", at, i, units[i].PTS, units[at].PTS)
			}
		}
		pts := make([]time.Duration, len(units))
		for i, au := range units {
			pts[i] = au.PTS
		}
		slices.Sort(pts)
		for i := 1; i < len(pts); i++ {
			if pts[i] == pts[i-1] {
				t.Errorf("jump after unit %d: display time %v given twice", at, pts[i])
			}
		}
		releaseAll(units)
	}
}
