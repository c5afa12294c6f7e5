package pipesrc

import (
	"bytes"
	"context"
	"errors"
	"io"
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
	st := &stamper{}
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
