package h264

import (
	"bytes"
	"testing"
	"time"
)

func TestCaptureTimeSEIRoundTrip(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC),
		time.UnixMicro(0),        // all-zero timestamp: needs emulation prevention
		time.UnixMicro(1),        // 00 00 00 00 00 00 00 01
		time.UnixMicro(0x030000), // 00 00 .. 03 00 00
		time.UnixMicro(-1),       // before 1970: ff..ff
		time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, ts := range times {
		nalu := AppendCaptureTimeSEI(nil, ts)
		if TypeOf(nalu) != NALSEI {
			t.Fatalf("%v: NAL type %v", ts, TypeOf(nalu))
		}
		if bytes.Contains(nalu, []byte{0, 0, 0}) || bytes.Contains(nalu, []byte{0, 0, 1}) || bytes.Contains(nalu, []byte{0, 0, 2}) {
			t.Errorf("%v: SEI %x contains a start code or forbidden sequence", ts, nalu)
		}
		if nalu[len(nalu)-1] != 0x80 {
			t.Errorf("%v: SEI %x does not end with rbsp_stop_one_bit", ts, nalu)
		}
		got, ok := ParseCaptureTimeSEI(nalu)
		if !ok || !got.Equal(ts.Truncate(time.Microsecond)) {
			t.Errorf("%v: round trip = %v, %v", ts, got, ok)
		}
		// It must survive Annex-B framing intact.
		units := SplitAnnexB(AppendAnnexB(nil, []byte{0x67, 0x42}, nalu, []byte{0x65, 0x88}))
		if len(units) != 3 || !bytes.Equal(units[1], nalu) {
			t.Errorf("%v: SEI does not survive Annex-B framing", ts)
		}
	}
	// Appending keeps dst.
	if b := AppendCaptureTimeSEI([]byte{1, 2}, times[0]); !bytes.HasPrefix(b, []byte{1, 2, 0x06}) {
		t.Errorf("AppendCaptureTimeSEI does not append: %x", b)
	}
}

func TestParseCaptureTimeSEIRejects(t *testing.T) {
	good := AppendCaptureTimeSEI(nil, time.Unix(1700000000, 0))
	otherUUID := bytes.Clone(good)
	otherUUID[5] ^= 0xff
	otherPayload := bytes.Clone(good)
	otherPayload[1] = 4 // user_data_registered_itu_t_t35
	otherSize := bytes.Clone(good)
	otherSize[2] = 23
	tests := map[string][]byte{
		"empty":         nil,
		"IDR":           append([]byte{0x65}, good[1:]...),
		"truncated":     good[:20],
		"other UUID":    otherUUID,
		"other payload": otherPayload,
		"other size":    otherSize,
		"x264 version":  append([]byte{0x06, 0x05, 0x10}, make([]byte, 40)...),
	}
	for name, nalu := range tests {
		if ts, ok := ParseCaptureTimeSEI(nalu); ok {
			t.Errorf("%s: accepted as capture time %v", name, ts)
		}
	}
}

func TestEmulationPrevention(t *testing.T) {
	tests := []struct{ rbsp, wire []byte }{
		{[]byte{1, 2, 3}, []byte{1, 2, 3}},
		{[]byte{0, 0, 0}, []byte{0, 0, 3, 0}},
		{[]byte{0, 0, 1}, []byte{0, 0, 3, 1}},
		{[]byte{0, 0, 2}, []byte{0, 0, 3, 2}},
		{[]byte{0, 0, 3}, []byte{0, 0, 3, 3}},
		{[]byte{0, 0, 4}, []byte{0, 0, 4}},
		{[]byte{0, 0, 0, 0, 0}, []byte{0, 0, 3, 0, 0, 3, 0}},
		{[]byte{0, 0}, []byte{0, 0}},
	}
	for _, tt := range tests {
		if got := AppendEmulationPrevention(nil, tt.rbsp); !bytes.Equal(got, tt.wire) {
			t.Errorf("AppendEmulationPrevention(%x) = %x, want %x", tt.rbsp, got, tt.wire)
		}
		if got := RemoveEmulationPrevention(nil, tt.wire); !bytes.Equal(got, tt.rbsp) {
			t.Errorf("RemoveEmulationPrevention(%x) = %x, want %x", tt.wire, got, tt.rbsp)
		}
	}
}

func FuzzEmulationPrevention(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 3})
	f.Fuzz(func(t *testing.T, rbsp []byte) {
		wire := AppendEmulationPrevention(nil, rbsp)
		for _, bad := range [][]byte{{0, 0, 0}, {0, 0, 1}, {0, 0, 2}} {
			if bytes.Contains(wire, bad) {
				t.Fatalf("%x -> %x contains %x", rbsp, wire, bad)
			}
		}
		if back := RemoveEmulationPrevention(nil, wire); !bytes.Equal(back, rbsp) {
			t.Fatalf("%x -> %x -> %x", rbsp, wire, back)
		}
	})
}

func FuzzParseCaptureTimeSEI(f *testing.F) {
	f.Add(AppendCaptureTimeSEI(nil, time.UnixMicro(0)))
	f.Add(AppendCaptureTimeSEI(nil, time.UnixMicro(1700000000000000)))
	f.Fuzz(func(t *testing.T, nalu []byte) {
		ts, ok := ParseCaptureTimeSEI(nalu)
		if !ok {
			return
		}
		if again, ok := ParseCaptureTimeSEI(AppendCaptureTimeSEI(nil, ts)); !ok || !again.Equal(ts) {
			t.Fatalf("accepted %x as %v, but its re-encoding parses as %v, %v", nalu, ts, again, ok)
		}
	})
}
