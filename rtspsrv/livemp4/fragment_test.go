package livemp4

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/testsrc"
)

// testParameterSets returns a real SPS and PPS, the test source's.
func testParameterSets(t *testing.T) (sps, pps []byte) {
	t.Helper()
	src, err := testsrc.New(testsrc.Config{Width: 320, Height: 240}, encoder.NewPool())
	if err != nil {
		t.Fatal(err)
	}
	au := src.Encode(0, time.Now(), true)
	defer au.Release()
	nalus := au.NALUs()
	return bytes.Clone(nalus[0]), bytes.Clone(nalus[1])
}

// TestInitSegment: mediacommon reads back one 90 kHz H.264 track with our parameter sets.
func TestInitSegment(t *testing.T) {
	sps, pps := testParameterSets(t)
	seg, err := initSegment(sps, pps)
	if err != nil {
		t.Fatal(err)
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(seg)); err != nil {
		t.Fatalf("initialisation segment does not parse: %v", err)
	}
	if len(init.Tracks) != 1 || init.Tracks[0].ID != trackID || init.Tracks[0].TimeScale != timescale {
		t.Fatalf("tracks: %+v", init.Tracks)
	}
	c, ok := init.Tracks[0].Codec.(*codecs.H264)
	if !ok || !bytes.Equal(c.SPS, sps) || !bytes.Equal(c.PPS, pps) {
		t.Fatalf("codec: %#v", init.Tracks[0].Codec)
	}
}

// TestInitSegmentHighProfile: for the High profiles avcC goes on after the PPS with the chroma
// format and bit depths (ISO/IEC 14496-15 §5.3.3.1.2); for the others it ends with the PPS.
func TestInitSegmentHighProfile(t *testing.T) {
	// x264's, High profile 4:2:0 8-bit, 640x360.
	highSPS := []byte{0x67, 0x64, 0x00, 0x1e, 0xac, 0xb2, 0x01, 0x40, 0x5f, 0xf2, 0xe0, 0x22, 0x00, 0x00,
		0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x78, 0x1e, 0x2c, 0x5c, 0x90}
	highPPS := []byte{0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0}
	baseSPS, basePPS := testParameterSets(t)
	for _, tc := range []struct {
		name     string
		sps, pps []byte
		tail     []byte
	}{
		{"high", highSPS, highPPS, append(bytes.Clone(highPPS), 0xfc|1, 0xf8, 0xf8, 0)},
		{"baseline", baseSPS, basePPS, basePPS},
	} {
		seg, err := initSegment(tc.sps, tc.pps)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var init fmp4.Init
		if err := init.Unmarshal(bytes.NewReader(seg)); err != nil {
			t.Fatalf("%s: initialisation segment does not parse: %v", tc.name, err)
		}
		at := bytes.Index(seg, []byte("avcC")) - 4
		if at < 0 {
			t.Fatalf("%s: no avcC", tc.name)
		}
		avcC := seg[at : at+int(binary.BigEndian.Uint32(seg[at:]))]
		if !bytes.HasSuffix(avcC, tc.tail) {
			t.Errorf("%s: avcC ends % x, want % x", tc.name, avcC[max(0, len(avcC)-len(tc.tail)):], tc.tail)
		}
	}
}

// TestFragment: a fragment is one moof+mdat that an independent reader (mediacommon) takes
// apart into the sample we meant: its sequence number, decode time, duration, sync flag, and
// the slices and SEI length-prefixed, without parameter sets or delimiters.
func TestFragment(t *testing.T) {
	aud := []byte{0x09, 0xf0}
	sps, pps := testParameterSets(t)
	sei := []byte{0x06, 0x05, 0x01, 0xaa, 0x80}
	idr := bytes.Repeat([]byte{0x65, 0x88, 0x84}, 700)
	p := bytes.Repeat([]byte{0x41, 0x9a}, 50)
	var fr fragment
	for _, tc := range []struct {
		name     string
		seq      uint32
		dt       uint64
		duration uint32
		keyframe bool
		nalus    [][]byte
		want     [][]byte
	}{
		{"keyframe", 1, 0, 3000, true, [][]byte{aud, sps, pps, sei, idr}, [][]byte{sei, idr}},
		{"P frame", 2, 1 << 33, 3003, false, [][]byte{aud, p}, [][]byte{p}},
		{"empty NAL unit", 3, 6006, 3000, false, [][]byte{{}, p}, [][]byte{p}},
	} {
		fr.build(tc.seq, tc.dt, tc.duration, tc.keyframe, tc.nalus)
		var raw []byte
		for _, b := range fr.iov {
			raw = append(raw, b...)
		}
		var parts fmp4.Parts
		if err := parts.Unmarshal(raw); err != nil {
			t.Fatalf("%s: does not parse: %v", tc.name, err)
		}
		if len(parts) != 1 || len(parts[0].Tracks) != 1 || len(parts[0].Tracks[0].Samples) != 1 {
			t.Fatalf("%s: want one part, one track, one sample: %+v", tc.name, parts)
		}
		part, track := parts[0], parts[0].Tracks[0]
		s := track.Samples[0]
		var want []byte
		for _, n := range tc.want {
			want = append(want, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
			want = append(want, n...)
		}
		if part.SequenceNumber != tc.seq || track.ID != trackID || track.BaseTime != tc.dt ||
			s.Duration != tc.duration || s.IsNonSyncSample == tc.keyframe || !bytes.Equal(s.Payload, want) {
			t.Fatalf("%s: sequence %d, track %d, base time %d, duration %d, non-sync %v, %d payload bytes (want %d)",
				tc.name, part.SequenceNumber, track.ID, track.BaseTime, s.Duration, s.IsNonSyncSample, len(s.Payload), len(want))
		}
	}
}

// TestFragmentAllocations: laying out a frame's fragment reuses the view's buffers: nothing
// is allocated per frame once they have grown, and the NAL units are referenced, not copied.
func TestFragmentAllocations(t *testing.T) {
	sps, pps := testParameterSets(t)
	idr := bytes.Repeat([]byte{0x65, 0x88}, 5000)
	nalus := [][]byte{sps, pps, idr}
	var fr fragment
	fr.build(1, 0, 3000, true, nalus)
	if allocs := testing.AllocsPerRun(100, func() { fr.build(2, 3000, 3000, true, nalus) }); allocs != 0 {
		t.Fatalf("%v allocations per fragment", allocs)
	}
	if last := fr.iov[len(fr.iov)-1]; &last[0] != &idr[0] {
		t.Fatal("the slice was copied into the fragment instead of referenced")
	}
}
