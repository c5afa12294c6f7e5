package h264depay

import (
	"bytes"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"

	"github.com/camerad/camerad/encoder/h264"
)

type pkt struct {
	payload []byte
	ts      uint32
	marker  bool
	gap     bool
}

func collect(pkts []pkt) ([]AU, *Depacketizer) {
	var aus []AU
	d := &Depacketizer{OnAU: func(a *AU) { aus = append(aus, *a) }}
	for _, p := range pkts {
		d.Push(p.payload, p.ts, p.marker, p.gap, time.Unix(1, 0))
	}
	return aus, d
}

func fu(t h264.NALType, start, end bool, data ...byte) []byte {
	h := byte(t)
	if start {
		h |= 0x80
	}
	if end {
		h |= 0x40
	}
	return append([]byte{0x60 | byte(h264.NALFUA), h}, data...)
}

func stapA(nalus ...[]byte) []byte {
	out := []byte{0x78}
	for _, n := range nalus {
		out = append(out, byte(len(n)>>8), byte(len(n)))
		out = append(out, n...)
	}
	return out
}

var (
	sps   = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda}
	pps   = []byte{0x68, 0xce, 0x3c, 0x80}
	slice = []byte{0x41, 0x9a, 0x00}
)

func TestAccessUnitBoundariesAndIDR(t *testing.T) {
	capture := time.UnixMicro(1_700_000_000_123_456)
	sei := h264.AppendCaptureTimeSEI(nil, capture)
	aus, d := collect([]pkt{
		{payload: stapA(sps, pps, sei), ts: 1000},
		{payload: fu(h264.NALIDR, true, false, 1, 2), ts: 1000},
		{payload: fu(h264.NALIDR, false, false, 3), ts: 1000},
		{payload: fu(h264.NALIDR, false, true, 4), ts: 1000, marker: true},
		{payload: slice, ts: 4000, marker: true},
		// No marker: closed by the next timestamp.
		{payload: slice, ts: 7000},
		{payload: slice, ts: 10000, marker: true},
	})
	if len(aus) != 4 {
		t.Fatalf("got %d access units, want 4", len(aus))
	}
	if !aus[0].IsCompleteIDR() || !aus[0].Has(h264.NALSPS) || !aus[0].Has(h264.NALPPS) || aus[0].Packets != 4 {
		t.Errorf("first unit = %+v, want complete IDR with SPS/PPS in 4 packets", aus[0])
	}
	if !aus[0].HasCaptureTime || !aus[0].CaptureTime.Equal(capture) {
		t.Errorf("capture time = %v (%v), want %v", aus[0].CaptureTime, aus[0].HasCaptureTime, capture)
	}
	if aus[1].IsCompleteIDR() || !aus[1].Has(h264.NALSlice) {
		t.Errorf("second unit = %+v, want a non-IDR slice", aus[1])
	}
	if aus[2].EndedByMarker || d.MarkerMissing != 1 {
		t.Errorf("unit without marker: EndedByMarker=%v MarkerMissing=%d, want false/1", aus[2].EndedByMarker, d.MarkerMissing)
	}
	if d.MarkerEarly != 0 || d.Malformed != 0 {
		t.Errorf("MarkerEarly=%d Malformed=%d, want 0", d.MarkerEarly, d.Malformed)
	}
}

func TestLossDamagesTheUnit(t *testing.T) {
	aus, d := collect([]pkt{
		{payload: fu(h264.NALIDR, true, false, 1), ts: 1000},
		// the middle fragment was lost
		{payload: fu(h264.NALIDR, false, true, 3), ts: 1000, marker: true, gap: true},
		// a fragment whose start never came
		{payload: fu(h264.NALSlice, false, true, 3), ts: 4000, marker: true},
		// a unit whose marker packet was lost: no marker finding, since loss explains it
		{payload: slice, ts: 7000},
		{payload: slice, ts: 10000, gap: true, marker: true},
	})
	if len(aus) != 4 {
		t.Fatalf("got %d units, want 4", len(aus))
	}
	for i, a := range aus {
		wantDamaged := i != 2
		if a.Damaged != wantDamaged {
			t.Errorf("unit %d Damaged=%v, want %v", i, a.Damaged, wantDamaged)
		}
	}
	if aus[0].IsCompleteIDR() {
		t.Error("an IDR with a lost fragment counted as complete")
	}
	if d.MarkerMissing != 0 {
		t.Errorf("MarkerMissing=%d, want 0 when the gap explains it", d.MarkerMissing)
	}
}

func TestMarkerBeforeEndOfUnit(t *testing.T) {
	_, d := collect([]pkt{
		{payload: slice, ts: 1000, marker: true},
		{payload: slice, ts: 1000, marker: true},
	})
	if d.MarkerEarly != 1 {
		t.Errorf("MarkerEarly=%d, want 1", d.MarkerEarly)
	}
}

func TestMalformedPayloadsDoNotPanic(t *testing.T) {
	_, d := collect([]pkt{
		{payload: nil, ts: 1},
		{payload: []byte{0x78, 0x00}, ts: 1},
		{payload: []byte{0x78, 0x00, 0x09, 0x41}, ts: 1},
		{payload: []byte{0x7c}, ts: 1, marker: true},
	})
	if d.Malformed != 4 {
		t.Errorf("Malformed=%d, want 4", d.Malformed)
	}
}

// TestAgainstIndependentPacketizer feeds units packetized by gortsplib (an independent RFC
// 6184 implementation) and expects the same units back.
func TestAgainstIndependentPacketizer(t *testing.T) {
	enc := &rtph264.Encoder{PayloadType: 96, PayloadMaxSize: 200, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	big := append([]byte{0x65}, bytes.Repeat([]byte{0xab}, 1000)...)
	capture := time.UnixMicro(1_700_000_000_000_000)
	units := [][][]byte{
		{sps, pps, h264.AppendCaptureTimeSEI(nil, capture), big},
		{slice},
		{append([]byte{0x41}, bytes.Repeat([]byte{1}, 450)...)},
	}
	var aus []AU
	d := &Depacketizer{OnAU: func(a *AU) { aus = append(aus, *a) }}
	for i, u := range units {
		pkts, err := enc.Encode(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			d.Push(p.Payload, uint32(i*3000), p.Marker, false, time.Now())
		}
	}
	if len(aus) != len(units) {
		t.Fatalf("got %d units, want %d", len(aus), len(units))
	}
	if !aus[0].IsCompleteIDR() || !aus[0].HasCaptureTime || aus[0].Packets < 6 {
		t.Errorf("first unit %+v: want complete IDR with capture time over >= 6 packets", aus[0])
	}
	if aus[2].Damaged || aus[2].Packets != 3 {
		t.Errorf("third unit %+v: want 3 undamaged packets", aus[2])
	}
	if d.MarkerMissing+d.MarkerEarly+d.Malformed+d.Unsupported != 0 {
		t.Errorf("findings on a clean stream: %+v", d)
	}
}

func BenchmarkPush(b *testing.B) {
	d := &Depacketizer{OnAU: func(*AU) {}}
	p1 := fu(h264.NALIDR, true, false, make([]byte, 1200)...)
	p2 := fu(h264.NALIDR, false, true, make([]byte, 1200)...)
	now := time.Now()
	b.ReportAllocs()
	for i := range b.N {
		ts := uint32(i * 3000)
		d.Push(p1, ts, false, false, now)
		d.Push(p2, ts, true, false, now)
	}
}
