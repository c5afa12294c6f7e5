package h264

import (
	"os"
	"testing"
)

// testdata/bframes.h264 is 24 frames of testsrc2 at 160x96, 30 fps, made by x264 with
// B-frames and B-pyramid, two closed GOPs of 12, SPS/PPS before each IDR, no SEI:
//
//	ffmpeg -fflags +bitexact -f lavfi -i testsrc2=size=160x96:rate=30 -frames:v 24 \
//	  -c:v libx264 -threads 1 -profile:v high -bf 3 -g 12 \
//	  -x264-params scenecut=0:open-gop=0:repeat-headers=1 \
//	  -bsf:v filter_units=remove_types=6 -f h264 bframes.h264
//
// bframesShown is where each frame, in decode order, is shown within its GOP: read from the
// same encode muxed into Matroska, whose packets carry presentation times.
var bframesShown = []int{0, 4, 2, 1, 3, 8, 6, 5, 7, 11, 9, 10, 0, 1, 5, 3, 2, 4, 7, 6, 11, 9, 8, 10}

// accessUnits splits an Annex-B stream into access units.
func accessUnits(t *testing.T, path string) [][][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var units [][][]byte
	var cur [][]byte
	sawVCL := false
	ForEachNALU(data, func(n []byte) {
		if StartsAccessUnit(n, sawVCL) {
			units, cur, sawVCL = append(units, cur), nil, false
		}
		cur = append(cur, n)
		sawVCL = sawVCL || TypeOf(n).IsVCL()
	})
	return append(units, cur)
}

func TestParseSPSBFrames(t *testing.T) {
	units := accessUnits(t, "testdata/bframes.h264")
	s, err := ParseSPS(units[0][0])
	if err != nil {
		t.Fatal(err)
	}
	if s.POCType != 0 || s.MaxNumReorderFrames != 2 || s.FrameRate != 30 || !s.FrameMBsOnly || s.Width != 160 || s.Height != 96 {
		t.Errorf("ParseSPS = %+v; want POC type 0, 2 reorder frames, 30 fps, 160x96 progressive", s)
	}
}

// TestDisplayOrderBFrames: each unit moves to where the encoder shows it, plus the declared
// reorder delay of 2 frames, so that no unit is shown before it is decoded.
func TestDisplayOrderBFrames(t *testing.T) {
	units := accessUnits(t, "testdata/bframes.h264")
	if len(units) != len(bframesShown) {
		t.Fatalf("%d access units, want %d", len(units), len(bframesShown))
	}
	var o DisplayOrder
	var sps SPS
	for i, u := range units {
		if TypeOf(u[0]) == NALSPS {
			var err error
			if sps, err = ParseSPS(u[0]); err != nil {
				t.Fatal(err)
			}
		}
		decoded := i % 12
		if got, want := o.Next(u, sps), bframesShown[i]-decoded+2; got != want {
			t.Errorf("unit %d (decoded %d of its GOP, shown %d): offset %d, want %d", i, decoded, bframesShown[i], got, want)
		}
	}
}

// TestDisplayOrderLearnsDelay: without max_num_reorder_frames in the VUI, the delay is learnt
// from the first frame shown earlier than it is decoded, and kept.
func TestDisplayOrderLearnsDelay(t *testing.T) {
	units := accessUnits(t, "testdata/bframes.h264")
	sps, err := ParseSPS(units[0][0])
	if err != nil {
		t.Fatal(err)
	}
	sps.MaxNumReorderFrames = -1
	var o DisplayOrder
	var got []int
	for _, u := range units {
		got = append(got, o.Next(u, sps))
	}
	// Decode order 0 4 2 1 3: by unit 3 (shown 1, decoded 3) the delay is 2.
	for i := 3; i < len(units); i++ {
		if want := bframesShown[i] - i%12 + 2; got[i] != want {
			t.Errorf("unit %d: offset %d, want %d", i, got[i], want)
		}
	}
}

// TestDisplayOrderNoReordering: the default clip (baseline, POC type 2) and a POC type 0
// stream without B-frames keep decode order: every offset is 0.
func TestDisplayOrderNoReordering(t *testing.T) {
	units := accessUnits(t, "../clipsrc/clip.h264")
	var o DisplayOrder
	var sps SPS
	for i, u := range units {
		if TypeOf(u[0]) == NALSPS {
			sps, _ = ParseSPS(u[0])
		}
		if got := o.Next(u, sps); got != 0 {
			t.Fatalf("clip unit %d: offset %d, want 0", i, got)
		}
	}
}

// FuzzDisplayOrder feeds arbitrary streams through DisplayOrder, with the SPS each carries or
// the B-frame clip's: it never panics, and no unit moves further than a decoded picture buffer
// allows, whatever the bytes.
func FuzzDisplayOrder(f *testing.F) {
	clip, err := os.ReadFile("testdata/bframes.h264")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(clip)
	f.Add(clip[:len(clip)/3])
	f.Add([]byte{0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0xff})
	clipSPS, err := ParseSPS(SplitAnnexB(clip)[0])
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sps := clipSPS
		var o DisplayOrder
		var cur [][]byte
		sawVCL := false
		next := func() {
			if got := o.Next(cur, sps); got < 0 || got > 3*maxReorder {
				t.Fatalf("offset %d frames", got)
			}
			cur, sawVCL = nil, false
		}
		ForEachNALU(data, func(n []byte) {
			if StartsAccessUnit(n, sawVCL) {
				next()
			}
			if TypeOf(n) == NALSPS {
				if s, err := ParseSPS(n); err == nil {
					sps = s
				}
			}
			cur = append(cur, n)
			sawVCL = sawVCL || TypeOf(n).IsVCL()
		})
		next()
	})
}
