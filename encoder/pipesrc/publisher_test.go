package pipesrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/clipsrc"
	"github.com/camerad/camerad/encoder/h264"
)

// pumpStdin runs a stdin source over data and returns what it published.
func pumpStdin(t testing.TB, data []byte) ([]*encoder.AccessUnit, *encoder.Pool) {
	t.Helper()
	pool := encoder.NewPool()
	src, err := New(Config{Stdin: bytes.NewReader(data)}, pool, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	var units []*encoder.AccessUnit
	if err := src.Run(context.Background(), func(au *encoder.AccessUnit) { units = append(units, au) }); !errors.Is(err, io.EOF) {
		t.Fatalf("Run = %v, want io.EOF", err)
	}
	return units, pool
}

func types(au *encoder.AccessUnit) []h264.NALType {
	var ts []h264.NALType
	for _, n := range au.NALUs() {
		ts = append(ts, h264.TypeOf(n))
	}
	return ts
}

// TestPublisherRepeatsParameterSets: a stream with SPS/PPS only before its first IDR (what
// encoders write without repeat-headers) still gives every keyframe unit SPS, PPS, SEI, IDR.
func TestPublisherRepeatsParameterSets(t *testing.T) {
	nalus := h264.SplitAnnexB(clipsrc.Default())
	var in []byte
	for i, n := range nalus {
		if i > 2 && (h264.TypeOf(n) == h264.NALSPS || h264.TypeOf(n) == h264.NALPPS) {
			continue
		}
		in = h264.AppendAnnexB(in, n)
	}
	units, pool := pumpStdin(t, in)
	if len(units) != 120 {
		t.Fatalf("%d units, want 120", len(units))
	}
	want := []h264.NALType{h264.NALSPS, h264.NALPPS, h264.NALSEI, h264.NALIDR}
	for i, au := range units {
		if i%30 == 0 && !equalTypes(types(au), want) {
			t.Errorf("keyframe unit %d = %v, want %v", i, types(au), want)
		}
		if i%30 == 0 && !bytes.Equal(au.NALUs()[0], nalus[0]) {
			t.Errorf("keyframe unit %d carries a different SPS", i)
		}
		au.Release()
	}
	if pool.Outstanding() != 0 {
		t.Errorf("outstanding = %d", pool.Outstanding())
	}
}

// TestPublisherStartsAtKeyframe: joining a stream mid-GOP (as when camerad starts reading a
// camera that is already running) publishes nothing before the next IDR.
func TestPublisherStartsAtKeyframe(t *testing.T) {
	units, pool := pumpStdin(t, h264.AppendAnnexB(nil, h264.SplitAnnexB(clipsrc.Default())[5:]...))
	// The clip without its first 3 frames (SPS, PPS, IDR, P, P): GOPs 2 to 4 remain.
	if len(units) != 90 {
		t.Fatalf("%d units, want 90 (from the second keyframe on)", len(units))
	}
	if !units[0].Keyframe {
		t.Error("first published unit is not a keyframe")
	}
	for _, au := range units {
		au.Release()
	}
	if pool.Outstanding() != 0 {
		t.Errorf("outstanding = %d", pool.Outstanding())
	}
}

// TestPublisherRestampsCameradSEI: a camerad stream piped back in keeps one capture-time SEI
// per keyframe, the new one.
func TestPublisherRestampsCameradSEI(t *testing.T) {
	first, _ := pumpStdin(t, clipsrc.Default())
	var again []byte
	for _, au := range first {
		again = h264.AppendAnnexB(again, au.NALUs()...)
		au.Release()
	}
	units, _ := pumpStdin(t, again)
	for i, au := range units {
		n := 0
		for _, nalu := range au.NALUs() {
			if ts, ok := h264.ParseCaptureTimeSEI(nalu); ok {
				n++
				if !ts.Equal(au.Captured.Truncate(time.Microsecond)) {
					t.Fatalf("unit %d: SEI time %v is not this run's capture time %v", i, ts, au.Captured)
				}
			}
		}
		if want := map[bool]int{true: 1}[au.Keyframe]; n != want {
			t.Fatalf("unit %d (keyframe %v) has %d capture-time SEIs, want %d", i, au.Keyframe, n, want)
		}
		au.Release()
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

// BenchmarkPump measures the pipe path (framing, the one copy, SEI) per access unit, reading
// the default clip from memory.
func BenchmarkPump(b *testing.B) {
	clip := clipsrc.Default()
	pool := encoder.NewPool()
	src, err := New(Config{Stdin: bytes.NewReader(nil)}, pool, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	st := newStamper(0)
	frames := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(clip)))
	for b.Loop() {
		err := src.pump(context.Background(), bytes.NewReader(clip), st, func(au *encoder.AccessUnit) {
			frames++
			au.Release()
		})
		if !errors.Is(err, io.EOF) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
}

// publishOnePerPeriod splits data into access units and hands them to p as if one arrived
// every period from base; it returns what p published.
func publishOnePerPeriod(p *publisher, data []byte, base instant, period time.Duration) []*encoder.AccessUnit {
	var got []*encoder.AccessUnit
	var cur [][]byte
	sawVCL := false
	next := func() {
		at := instant{mono: base.mono + time.Duration(len(got))*period, wall: base.wall.Add(time.Duration(len(got)) * period)}
		p.publish(unit{nalus: cur, at: at}, func(au *encoder.AccessUnit) { got = append(got, au) })
		cur, sawVCL = nil, false
	}
	h264.ForEachNALU(data, func(n []byte) {
		if h264.StartsAccessUnit(n, sawVCL) && len(cur) > 0 {
			next()
		}
		cur = append(cur, n)
		sawVCL = sawVCL || h264.TypeOf(n).IsVCL()
	})
	next()
	return got
}

// TestPublisherBFramesInDisplayTime: units of a B-frame stream (encoder/h264/testdata, two
// GOPs of 12) arriving one per period in decode order are stamped with the time each is shown:
// where the encoder placed it in its GOP, plus the 2 frames of reorder delay its SPS declares.
func TestPublisherBFramesInDisplayTime(t *testing.T) {
	data, err := os.ReadFile("../h264/testdata/bframes.h264")
	if err != nil {
		t.Fatal(err)
	}
	// Where each unit, in decode order, is shown within its GOP (as in encoder/h264's test).
	shownInGOP := []int{0, 4, 2, 1, 3, 8, 6, 5, 7, 11, 9, 10, 0, 1, 5, 3, 2, 4, 7, 6, 11, 9, 8, 10}
	const fps = 30
	period := time.Second / fps
	pool := encoder.NewPool()
	base := instant{mono: time.Hour, wall: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	got := publishOnePerPeriod(newPublisher(pool, discardLog(), newStamper(fps)), data, base, period)
	if len(got) != len(shownInGOP) {
		t.Fatalf("%d units published, want %d", len(got), len(shownInGOP))
	}
	for i, au := range got {
		shown := 12*(i/12) + shownInGOP[i] + 2
		// Within a microsecond: the stamper's float arithmetic may round a nanosecond off,
		// and an RTP tick is 11 µs.
		if want := base.mono + time.Duration(math.Round(float64(shown)*float64(time.Second)/fps)); (au.PTS - want).Abs() > time.Microsecond {
			t.Errorf("unit %d PTS %v, want %v (frame %d of the display order)", i, au.PTS-base.mono, want-base.mono, shown)
		}
		if off := au.Captured.Sub(base.wall); off != au.PTS-base.mono {
			t.Errorf("unit %d: Captured offset %v != PTS offset %v", i, off, au.PTS-base.mono)
		}
		au.Release()
	}
}

// newLoggedPublisher is a publisher at 30 fps whose log the test reads, with the clip's first
// keyframe unit (SPS, PPS, IDR) and one of its P slices to feed it.
func newLoggedPublisher() (p *publisher, logs *bytes.Buffer, pool *encoder.Pool, idr, slice [][]byte) {
	logs = &bytes.Buffer{}
	pool = encoder.NewPool()
	p = newPublisher(pool, slog.New(slog.NewTextHandler(logs, nil)), newStamper(30))
	nalus := h264.SplitAnnexB(clipsrc.Default())
	return p, logs, pool, [][]byte{nalus[0], nalus[1], nalus[2]}, [][]byte{nalus[3]}
}

// TestPublisherWarnsWithoutKeyframes: a stream that goes on for more than 10 s after its IDR
// with no other (an open-GOP encoder) gets one warning saying why new viewers see nothing.
func TestPublisherWarnsWithoutKeyframes(t *testing.T) {
	p, logs, pool, idr, slice := newLoggedPublisher()
	release := func(au *encoder.AccessUnit) { au.Release() }
	for i := 0; i <= 12*30; i++ { // 12 s at 30 fps
		u := unit{nalus: slice, at: instant{mono: time.Duration(i) * time.Second / 30}}
		if i == 0 {
			u.nalus = idr
		}
		p.publish(u, release)
		if i == 9*30 && strings.Contains(logs.String(), "no IDR") {
			t.Fatalf("warned after 9 s:\n%s", logs.String())
		}
	}
	if n := strings.Count(logs.String(), "no IDR keyframe"); n != 1 {
		t.Errorf("%d warnings about missing keyframes, want 1:\n%s", n, logs.String())
	}
	if pool.Outstanding() != 0 {
		t.Errorf("outstanding = %d", pool.Outstanding())
	}
}

// TestPublisherStallIsNoMissingKeyframe: an input that stops for 12 s and resumes (a stalled
// feeder) is said to have stalled, not to lack keyframes: few units came in that time.
func TestPublisherStallIsNoMissingKeyframe(t *testing.T) {
	p, logs, pool, idr, slice := newLoggedPublisher()
	release := func(au *encoder.AccessUnit) { au.Release() }
	at := func(i int) time.Duration { return time.Duration(i) * time.Second / 30 }
	p.publish(unit{nalus: idr, at: instant{mono: at(1)}}, release)
	for i := 2; i < 30; i++ {
		p.publish(unit{nalus: slice, at: instant{mono: at(i)}}, release)
	}
	for i := 30 + 12*30; i < 60+12*30; i++ { // 12 s later
		p.publish(unit{nalus: slice, at: instant{mono: at(i)}}, release)
	}
	if strings.Contains(logs.String(), "no IDR") {
		t.Errorf("a stall was taken for missing keyframes:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "input stalled"); n != 1 {
		t.Errorf("%d notes of the stall, want 1:\n%s", n, logs.String())
	}
	if pool.Outstanding() != 0 {
		t.Errorf("outstanding = %d", pool.Outstanding())
	}
}

// TestPublisherTakesStreamRate: a stream whose SPS carries timing (the clip: 30 fps) is
// stamped at that rate from its first unit, whatever -fps says (25 here).
func TestPublisherTakesStreamRate(t *testing.T) {
	const streamFPS = 30
	period := time.Second / streamFPS
	base := instant{mono: time.Hour, wall: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	got := publishOnePerPeriod(newPublisher(encoder.NewPool(), discardLog(), newStamper(25)), clipsrc.Default(), base, period)
	if len(got) < 60 {
		t.Fatalf("%d units published, want the clip's 120", len(got))
	}
	for i := 1; i < len(got); i++ {
		if step := got[i].PTS - got[i-1].PTS; (step - period).Abs() > time.Microsecond {
			t.Errorf("unit %d: PTS step %v, want the SPS's %v", i, step, period)
		}
	}
	for _, au := range got {
		au.Release()
	}
}

// TestPublisherSaysHEVC: an H.265 input gets an error saying so, not only, 10 s on, a
// warning about missing keyframes.
func TestPublisherSaysHEVC(t *testing.T) {
	// An x265 stream's start: VPS, SPS, PPS, IDR slice (NAL types 32, 33, 34, 19), twice.
	var hevc []byte
	for range 2 {
		hevc = h264.AppendAnnexB(hevc, []byte{0x40, 0x01, 0x0c, 0x01, 0xff, 0xff}, []byte{0x42, 0x01, 0x01, 0x01, 0x60},
			[]byte{0x44, 0x01, 0xc1, 0x72}, []byte{0x26, 0x01, 0xaf, 0x06, 0xb8})
	}
	var logs bytes.Buffer
	src, err := New(Config{Stdin: bytes.NewReader(hevc)}, encoder.NewPool(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	published := 0
	_ = src.Run(context.Background(), func(au *encoder.AccessUnit) { published++; au.Release() })
	if published != 0 || strings.Count(logs.String(), "H.265/HEVC") != 1 {
		t.Errorf("%d units published; want none and one error naming H.265:\n%s", published, logs.String())
	}
}

// TestPublisherDropsCorruptPicture: a unit whose only slice is corrupt (forbidden_zero_bit
// set) is not published as a unit of no NAL units, and the stream resumes at the next
// keyframe, since the pictures after the lost one refer to it.
func TestPublisherDropsCorruptPicture(t *testing.T) {
	frames := clipFrames(t)
	const corrupt = 4 // a P-frame of one slice in the clip's first GOP
	if len(frames[corrupt]) != 1 || h264.IsKeyframe(frames[corrupt]) {
		t.Fatalf("clip unit %d is not a one-slice P-frame", corrupt)
	}
	next := corrupt + 1
	for !h264.IsKeyframe(frames[next]) {
		next++
	}
	var in []byte
	for i, f := range frames {
		for _, n := range f {
			if i == corrupt {
				n = append([]byte{n[0] | 0x80}, n[1:]...)
			}
			in = h264.AppendAnnexB(in, n)
		}
	}
	got, pool := pumpStdin(t, in)
	defer func() {
		for _, au := range got {
			au.Release()
		}
		if n := pool.Outstanding(); n != 0 {
			t.Errorf("%d units outstanding", n)
		}
	}()
	for i, au := range got {
		if len(au.NALUs()) == 0 {
			t.Fatalf("unit %d published with no NAL units", i)
		}
	}
	if want := len(frames) - (next - corrupt); len(got) != want {
		t.Fatalf("%d units published, want %d: all but the corrupt one and those up to the next keyframe", len(got), want)
	}
	if !got[corrupt].Keyframe {
		t.Errorf("after the corrupt picture the stream resumed with a non-keyframe")
	}
}
