package testsrc

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string // "" when valid
	}{
		{Config{}, ""},
		{Config{Width: 640, Height: 480, FPS: 15, GOP: 45}, ""},
		{Config{Width: 1278, Height: 718}, ""},
		{Config{Width: MinSize, Height: MinSize, FPS: MaxFPS, GOP: 1}, ""},
		{Config{Width: 1281}, "Width"},
		{Config{Width: -2}, "Width"},
		{Config{Width: 8}, "Width"},
		{Config{Width: MaxSize + 2}, "Width"},
		{Config{Height: 719}, "Height"},
		{Config{Height: 10}, "Height"},
		{Config{FPS: -1}, "FPS"},
		{Config{FPS: MaxFPS + 1}, "FPS"},
		{Config{GOP: -5}, "GOP"},
		{Config{GOP: MaxGOP + 1}, "GOP"},
		{Config{Width: 4096, Height: 4096}, "exceeds every H.264 level"},
		{Config{Width: 1920, Height: 1080, FPS: 120}, ""},
	} {
		_, err := New(tc.cfg, encoder.NewPool())
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("New(%+v): %v", tc.cfg, err)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("New(%+v) = %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New with a nil pool succeeded")
	}
}

func TestDefaults(t *testing.T) {
	s, err := New(Config{}, encoder.NewPool())
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	if c.Width != 1280 || c.Height != 720 || c.FPS != 30 || c.GOP != 30 {
		t.Errorf("defaults = %dx%d %d fps GOP %d, want 1280x720 30 fps GOP 30", c.Width, c.Height, c.FPS, c.GOP)
	}
	if c := (Config{FPS: 25}).withDefaults(); c.GOP != 25 {
		t.Errorf("GOP defaults to %d with FPS 25, want 25", c.GOP)
	}
}

// TestSPSParsesBack checks the SPS with the lead's parser: size (cropping included),
// Constrained Baseline, level and frame rate.
func TestSPSParsesBack(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		level uint8
	}{
		{Config{}, 31},
		{Config{Width: 640, Height: 480, FPS: 30}, 30},
		{Config{Width: 1920, Height: 1080, FPS: 30}, 40},
		{Config{Width: 1278, Height: 718, FPS: 25}, 31},
		{Config{Width: 176, Height: 144, FPS: 15}, 20},
		{Config{Width: 18, Height: 16, FPS: 1}, 20},
		{Config{Width: 352, Height: 576, FPS: 25}, 21},
	} {
		s, err := New(tc.cfg, encoder.NewPool())
		if err != nil {
			t.Fatal(err)
		}
		au := s.Encode(0, frameTime(0), false)
		sps, err := h264.ParseSPS(au.NALUs()[0])
		au.Release()
		if err != nil {
			t.Fatalf("%+v: %v", tc.cfg, err)
		}
		c := s.Config()
		if sps.Width != c.Width || sps.Height != c.Height {
			t.Errorf("%+v: SPS size %dx%d", tc.cfg, sps.Width, sps.Height)
		}
		if sps.ProfileIDC != 66 || sps.ConstraintFlags&0x40 == 0 || sps.LevelIDC != tc.level {
			t.Errorf("%+v: SPS profile-level-id %s, want Constrained Baseline (42c0..) level %d", tc.cfg, sps.ProfileLevelID(), tc.level)
		}
		if sps.FrameRate != float64(c.FPS) {
			t.Errorf("%+v: SPS frame rate %v", tc.cfg, sps.FrameRate)
		}
	}
}

func naluTypes(au *encoder.AccessUnit) []h264.NALType {
	var ts []h264.NALType
	for _, n := range au.NALUs() {
		ts = append(ts, h264.TypeOf(n))
	}
	return ts
}

func equalTypes(a []h264.NALType, b ...h264.NALType) bool {
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

// TestAccessUnits checks what every unit carries: SPS and PPS before each IDR, the capture
// time SEI before the slice, the keyframe flag, the GOP cadence and PTS.
func TestAccessUnits(t *testing.T) {
	pool := encoder.NewPool()
	s, err := New(Config{Width: 320, Height: 240, FPS: 30, GOP: 10}, pool)
	if err != nil {
		t.Fatal(err)
	}
	for n := range 25 {
		captured := frameTime(n).Add(123 * time.Nanosecond) // below the SEI's resolution
		au := s.Encode(n, captured, false)
		wantIDR := n%10 == 0
		types := naluTypes(au)
		switch {
		case wantIDR && !equalTypes(types, h264.NALSPS, h264.NALPPS, h264.NALSEI, h264.NALIDR):
			t.Errorf("frame %d: NAL units %v, want SPS PPS SEI IDR", n, types)
		case !wantIDR && !equalTypes(types, h264.NALSlice):
			t.Errorf("frame %d: NAL units %v, want non-IDR alone", n, types)
		}
		if au.Keyframe != wantIDR || h264.IsKeyframe(au.NALUs()) != wantIDR {
			t.Errorf("frame %d: Keyframe %v, want %v", n, au.Keyframe, wantIDR)
		}
		if wantIDR {
			sei := au.NALUs()[len(au.NALUs())-2]
			ts, ok := h264.ParseCaptureTimeSEI(sei)
			if !ok || !ts.Equal(captured.Truncate(time.Microsecond)) {
				t.Errorf("frame %d: capture-time SEI %v %v, want %v", n, ts, ok, captured)
			}
		}
		if !au.Captured.Equal(captured) || au.PTS != time.Duration(n)*time.Second/30 {
			t.Errorf("frame %d: Captured %v PTS %v", n, au.Captured, au.PTS)
		}
		au.Release()
	}
	if pool.Outstanding() != 0 || pool.DoubleReleases() != 0 {
		t.Errorf("pool: %d outstanding, %d double releases", pool.Outstanding(), pool.DoubleReleases())
	}
}

// TestKeyframeOnDemand: a keyframe requested after frame k is the IDR of frame k+1, and the
// GOP restarts there.
func TestKeyframeOnDemand(t *testing.T) {
	s, err := New(Config{Width: 320, Height: 240, GOP: 30}, encoder.NewPool())
	if err != nil {
		t.Fatal(err)
	}
	var keyframes []int
	for n := range 60 {
		au := s.Encode(n, frameTime(n), false)
		if au.Keyframe {
			keyframes = append(keyframes, n)
		}
		au.Release()
		if n == 7 || n == 20 {
			s.RequestKeyframe()
		}
	}
	want := []int{0, 8, 21, 51}
	if len(keyframes) != len(want) {
		t.Fatalf("keyframes at %v, want %v", keyframes, want)
	}
	for i := range want {
		if keyframes[i] != want[i] {
			t.Fatalf("keyframes at %v, want %v", keyframes, want)
		}
	}
	au := s.Encode(60, frameTime(60), true)
	if !au.Keyframe {
		t.Error("forceIDR did not produce an IDR")
	}
	au.Release()
}

// TestRun runs the paced loop briefly: units arrive, the first is a keyframe, PTS grows, a
// keyframe request is honoured, cancelling returns nil, and nothing leaks.
func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	pool := encoder.NewPool()
	s, err := New(Config{Width: 160, Height: 96, FPS: 100, GOP: 1000, Logger: slog.New(slog.DiscardHandler)}, pool)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	units := make(chan *encoder.AccessUnit, 1024)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(au *encoder.AccessUnit) { units <- au }) }()

	var got []*encoder.AccessUnit
	requested := false
	sawRequested := false
	for !sawRequested {
		// A bound on a liveness wait, not a timing assertion: 100 fps should take 50 ms.
		select {
		case au := <-units:
			got = append(got, au)
			if requested && au.Keyframe {
				sawRequested = true
			}
			if len(got) == 3 {
				s.RequestKeyframe()
				requested = true
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d access units in 30 s", len(got))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	close(units)
	for au := range units {
		got = append(got, au)
	}
	if !got[0].Keyframe {
		t.Error("first unit is not a keyframe")
	}
	for i := 1; i < len(got); i++ {
		if got[i].PTS <= got[i-1].PTS {
			t.Errorf("PTS not increasing: %v then %v", got[i-1].PTS, got[i].PTS)
		}
	}
	for _, au := range got {
		au.Release()
	}
	if n := pool.Outstanding(); n != 0 {
		t.Errorf("%d access units not returned to the pool", n)
	}
}

// TestBitrate measures ten seconds of the default stream. The bound is the Wi-Fi
// budget, 2 Mbit/s.
func TestBitrate(t *testing.T) {
	s, err := New(Config{}, encoder.NewPool())
	if err != nil {
		t.Fatal(err)
	}
	var total, idrMax, pMax int
	const seconds = 10
	for n := range seconds * 30 {
		au := s.Encode(n, frameTime(n), false)
		total += au.Size()
		if au.Keyframe {
			idrMax = max(idrMax, au.Size())
		} else {
			pMax = max(pMax, au.Size())
		}
		au.Release()
	}
	rate := float64(total) * 8 / seconds
	t.Logf("1280x720 30 fps GOP 30: %.0f kbit/s, largest IDR %d bytes, largest P %d bytes", rate/1000, idrMax, pMax)
	if rate > 2e6 {
		t.Errorf("bit rate %.0f kbit/s exceeds 2000", rate/1000)
	}
}

// TestEncodeAllocs: steady-state encoding allocates nothing (buffers are reused, the
// access unit comes from the pool).
func TestEncodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items)")
	}
	s, err := New(Config{}, encoder.NewPool())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	encode := func() {
		au := s.Encode(n, frameTime(n), false)
		au.Release()
		n++
	}
	for range 2 * s.cfg.GOP { // warm up: buffers reach their size
		encode()
	}
	if allocs := testing.AllocsPerRun(3*s.cfg.GOP, encode); allocs != 0 {
		t.Errorf("%.1f allocations per frame, want 0", allocs)
	}
}

// TestWriteStream writes ten seconds of the default stream to $TESTSRC_OUT, for playing by
// hand: TESTSRC_OUT=/tmp/testsrc.h264 go test -run TestWriteStream ./encoder/testsrc &&
// ffplay /tmp/testsrc.h264
func TestWriteStream(t *testing.T) {
	out := os.Getenv("TESTSRC_OUT")
	if out == "" {
		t.Skip("set TESTSRC_OUT to a file name to write a sample stream")
	}
	s, err := New(Config{}, encoder.NewPool())
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	start := time.Now()
	for n := range 300 {
		au := s.Encode(n, start.Add(time.Duration(n)*time.Second/30), false)
		b = h264.AppendAnnexB(b, au.NALUs()...)
		au.Release()
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkEncode(b *testing.B) {
	s, err := New(Config{}, encoder.NewPool())
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	b.ReportAllocs()
	bytes := 0
	for n := 0; b.Loop(); n++ {
		au := s.Encode(n, start.Add(time.Duration(n)*time.Second/30), false)
		bytes += au.Size()
		au.Release()
	}
	perFrame := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perFrame*30/1e9*100, "%core@30fps")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/frame")
}

func BenchmarkEncodeIDR(b *testing.B) {
	s, err := New(Config{}, encoder.NewPool())
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		au := s.Encode(n, start.Add(time.Duration(n)*time.Second/30), true)
		au.Release()
	}
}

// FuzzConfig: any configuration New accepts yields a first unit whose SPS parses back to
// the configured size, and a second, predicted one.
func FuzzConfig(f *testing.F) {
	f.Add(1280, 720, 30, 30)
	f.Add(18, 16, 1, 1)
	f.Add(1278, 718, 60, 7)
	f.Add(0, 0, 0, 0)
	f.Fuzz(func(t *testing.T, w, h, fps, gop int) {
		pool := encoder.NewPool()
		s, err := New(Config{Width: w, Height: h, FPS: fps, GOP: gop}, pool)
		if err != nil {
			return
		}
		au := s.Encode(0, frameTime(0), false)
		sps, err := h264.ParseSPS(au.NALUs()[0])
		if err != nil || sps.Width != s.cfg.Width || sps.Height != s.cfg.Height {
			t.Fatalf("%dx%d: SPS %+v, %v", s.cfg.Width, s.cfg.Height, sps, err)
		}
		au.Release()
		au = s.Encode(1, frameTime(1), false)
		au.Release()
		if pool.Outstanding() != 0 {
			t.Fatal("leaked access unit")
		}
	})
}
