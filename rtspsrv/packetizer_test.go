package rtspsrv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/clipsrc"
	"github.com/camerad/camerad/encoder/h264"
)

// nalu makes a NAL unit of the given header byte and total length with a recognisable body.
func testNALU(header byte, length int) []byte {
	n := make([]byte, length)
	n[0] = header
	for i := 1; i < length; i++ {
		n[i] = byte(i * 7)
	}
	return n
}

// newAU copies nalus into a pooled access unit.
func testAU(pool *encoder.Pool, keyframe bool, nalus ...[]byte) *encoder.AccessUnit {
	size := 0
	for _, n := range nalus {
		size += len(n)
	}
	au := pool.Get(size)
	for _, n := range nalus {
		au.AppendNALU(n)
	}
	au.Keyframe = keyframe
	return au
}

// packetizeAU runs the packetizer on one unit with maxPayload bytes per packet.
func packetizeAU(t *testing.T, maxPayload int, sps, pps []byte, keyframe bool, nalus ...[]byte) (*frame, func()) {
	t.Helper()
	pool := encoder.NewPool()
	au := testAU(pool, keyframe, nalus...)
	f := &frame{au: au, keyframe: keyframe || h264.IsKeyframe(au.NALUs())}
	p := packetizer{maxPayload: maxPayload}
	p.packetize(f, sps, pps)
	return f, func() {
		au.Release()
		if pool.Outstanding() != 0 {
			t.Errorf("access unit not returned")
		}
	}
}

// depacketize reassembles a frame's packets with pion's depacketizer (an independent RFC 6184
// implementation) into NAL units.
func depacketize(t *testing.T, f *frame) [][]byte {
	t.Helper()
	d := &codecs.H264Packet{IsAVC: true}
	var out [][]byte
	for i := range f.packets {
		payload := append(slices.Clone(f.packets[i].prefix), f.packets[i].payload...)
		b, err := d.Unmarshal(payload)
		if err != nil {
			t.Fatalf("packet %d: pion cannot depacketize: %v", i, err)
		}
		for len(b) > 0 {
			n := binary.BigEndian.Uint32(b)
			out = append(out, b[4:4+n])
			b = b[4+n:]
		}
	}
	return out
}

func TestPacketizerFUABoundaries(t *testing.T) {
	const maxPayload = 100
	const chunk = maxPayload - 2 // FU indicator and header
	cases := []struct {
		name      string
		length    int // NAL unit bytes, header included
		fragments int // 0: sent whole
	}{
		{"one byte", 1, 0},
		{"one under", maxPayload - 1, 0},
		{"exactly max", maxPayload, 0},
		{"one over", maxPayload + 1, 2},
		{"two full fragments", 1 + 2*chunk, 2},
		{"two full and one byte", 2 + 2*chunk, 3},
		{"large", 20000, (20000 - 1 + chunk - 1) / chunk},
	}
	for _, tc := range cases {
		for _, hdr := range []byte{0x65, 0x41, 0x01, 0x25} { // IDR and non-IDR with each NRI
			t.Run(fmt.Sprintf("%s/%02x", tc.name, hdr), func(t *testing.T) {
				n := testNALU(hdr, tc.length)
				f, done := packetizeAU(t, maxPayload, nil, nil, false, n)
				defer done()
				if tc.fragments == 0 {
					if len(f.packets) != 1 || len(f.packets[0].prefix) != 0 || !bytes.Equal(f.packets[0].payload, n) {
						t.Fatalf("want one single-NAL packet, got %d packets", len(f.packets))
					}
				} else {
					if len(f.packets) != tc.fragments {
						t.Fatalf("%d fragments, want %d", len(f.packets), tc.fragments)
					}
					var body []byte
					for i, p := range f.packets {
						if len(p.prefix) != 2 {
							t.Fatalf("fragment %d: prefix %x, want FU indicator and header", i, p.prefix)
						}
						ind, fu := p.prefix[0], p.prefix[1]
						if ind != hdr&0xe0|28 {
							t.Errorf("fragment %d: indicator %#x, want F/NRI of %#x with type 28", i, ind, hdr)
						}
						if start := fu&0x80 != 0; start != (i == 0) {
							t.Errorf("fragment %d: S=%v", i, start)
						}
						if end := fu&0x40 != 0; end != (i == len(f.packets)-1) {
							t.Errorf("fragment %d: E=%v", i, end)
						}
						if fu&0x20 != 0 || fu&0x1f != hdr&0x1f {
							t.Errorf("fragment %d: FU header %#x, want R=0 and type %d", i, fu, hdr&0x1f)
						}
						if p.size() > maxPayload || len(p.payload) == 0 {
							t.Errorf("fragment %d: %d bytes, limit %d", i, p.size(), maxPayload)
						}
						if i < len(f.packets)-1 && p.size() != maxPayload {
							t.Errorf("fragment %d: %d bytes, want full %d", i, p.size(), maxPayload)
						}
						body = append(body, p.payload...)
					}
					if !bytes.Equal(body, n[1:]) {
						t.Errorf("fragments do not concatenate to the NAL unit body")
					}
				}
				for i, p := range f.packets {
					if p.marker != (i == len(f.packets)-1) {
						t.Errorf("packet %d: marker %v", i, p.marker)
					}
				}
				got := depacketize(t, f)
				if len(got) != 1 || !bytes.Equal(got[0], n) {
					t.Errorf("depacketized %d units; want the original back", len(got))
				}
			})
		}
	}
}

func TestPacketizerParameterSets(t *testing.T) {
	sps := []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	cachedSPS := []byte{0x67, 0x42, 0xc0, 0x1f, 0x99}
	cachedPPS := []byte{0x28, 0xce, 0x01} // NRI 1: the aggregate takes the larger NRI
	aud := []byte{0x09, 0xf0}
	sei := testNALU(0x06, 20)
	idr := testNALU(0x65, 50)
	pslice := testNALU(0x41, 50)
	filler := testNALU(0x0c, 30)
	stap := func(nalus ...[]byte) []byte {
		out := []byte{24}
		for _, n := range nalus {
			out[0] = max(out[0]&0x60, n[0]&0x60) | 24
			out = append(out, byte(len(n)>>8), byte(len(n)))
			out = append(out, n...)
		}
		return out
	}
	bigIDR := testNALU(0x65, 2500)
	bigP := testNALU(0x41, 1500)
	fua := func(n []byte, maxPayload int) [][]byte {
		var out [][]byte
		body := n[1:]
		for first := true; len(body) > 0; first = false {
			size := min(maxPayload-2, len(body))
			hdr := n[0] & 0x1f
			if first {
				hdr |= 0x80
			}
			if size == len(body) {
				hdr |= 0x40
			}
			out = append(out, append([]byte{n[0]&0xe0 | 28, hdr}, body[:size]...))
			body = body[size:]
		}
		return out
	}
	cases := []struct {
		name       string
		keyframe   bool
		cache      [2][]byte
		nalus      [][]byte
		maxPayload int
		want       [][]byte // payloads (prefix+payload) in order
	}{
		{"small keyframe in one aggregate, AUD dropped", true, [2][]byte{cachedSPS, cachedPPS},
			[][]byte{aud, sps, pps, sei, idr}, 1000, [][]byte{stap(sps, pps, sei, idr)}},
		{"large keyframe: parameter sets and SEI aggregated, slice fragmented", true, [2][]byte{cachedSPS, cachedPPS},
			[][]byte{sps, pps, sei, bigIDR}, 1000, append([][]byte{stap(sps, pps, sei)}, fua(bigIDR, 1000)...)},
		{"keyframe without parameter sets gets the cached ones", true, [2][]byte{cachedSPS, cachedPPS},
			[][]byte{idr}, 1000, [][]byte{stap(cachedSPS, cachedPPS, idr)}},
		{"keyframe flag from the slice type alone", false, [2][]byte{cachedSPS, cachedPPS},
			[][]byte{sei, idr}, 1000, [][]byte{stap(cachedSPS, cachedPPS, sei, idr)}},
		{"inline SPS with cached PPS", true, [2][]byte{cachedSPS, cachedPPS},
			[][]byte{sps, bigIDR}, 1000, append([][]byte{stap(sps, cachedPPS)}, fua(bigIDR, 1000)...)},
		{"keyframe and nothing cached", true, [2][]byte{},
			[][]byte{idr}, 1000, [][]byte{idr}},
		{"P frame gets no parameter sets", false, [2][]byte{cachedSPS, cachedPPS},
			[][]byte{aud, pslice, filler}, 1000, [][]byte{pslice}},
		{"SEI and a small slice share a packet", false, [2][]byte{cachedSPS, cachedPPS},
			[][]byte{sei, pslice}, 1000, [][]byte{stap(sei, pslice)}},
		{"SEI before a large slice goes alone", false, [2][]byte{cachedSPS, cachedPPS},
			[][]byte{sei, bigP}, 1000, append([][]byte{sei}, fua(bigP, 1000)...)},
		{"a slice ends an aggregate: the next slice is not copied into one", false, [2][]byte{},
			[][]byte{sei, pslice, pslice}, 1000, [][]byte{stap(sei, pslice), pslice}},
		{"parameter sets too large to aggregate", true, [2][]byte{},
			[][]byte{sps, pps, idr[:10]}, len(sps) + len(pps) + 4, [][]byte{sps, pps, idr[:10]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, done := packetizeAU(t, tc.maxPayload, tc.cache[0], tc.cache[1], tc.keyframe, tc.nalus...)
			defer done()
			var got [][]byte
			for _, p := range f.packets {
				got = append(got, append(slices.Clone(p.prefix), p.payload...))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d packets, want %d: %x", len(got), len(tc.want), got)
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("packet %d = %x, want %x", i, got[i], tc.want[i])
				}
				if f.packets[i].marker != (i == len(got)-1) {
					t.Errorf("packet %d marker %v", i, f.packets[i].marker)
				}
			}
		})
	}
}

// TestPacketizerZeroCopy proves that packet payloads alias the access unit: writing into the
// unit's buffer shows through every packet, FU-A fragments included.
func TestPacketizerZeroCopy(t *testing.T) {
	big := testNALU(0x65, 5000)
	f, done := packetizeAU(t, DefaultMaxPacketSize-rtpHeaderLen, nil, nil, true, big)
	defer done()
	for _, n := range f.au.NALUs() {
		for i := 1; i < len(n); i++ {
			n[i] ^= 0xff
		}
	}
	for i, p := range f.packets {
		for j, b := range p.payload {
			if b != byte((1+j+i*(DefaultMaxPacketSize-rtpHeaderLen-2))*7)^0xff {
				t.Fatalf("packet %d byte %d did not follow the unit's buffer: payload was copied", i, j)
			}
		}
	}
}

// TestPacketizerAggregateZeroCopy: a slice that ends a STAP-A is the packet's payload, in the
// unit's buffer; only the small units before it are copied into the aggregate's header.
func TestPacketizerAggregateZeroCopy(t *testing.T) {
	sei, slice := testNALU(0x06, 30), testNALU(0x41, 200)
	f, done := packetizeAU(t, DefaultMaxPacketSize-rtpHeaderLen, nil, nil, false, sei, slice)
	defer done()
	if len(f.packets) != 1 {
		t.Fatalf("%d packets, want one STAP-A", len(f.packets))
	}
	inUnit := f.au.NALUs()[1]
	if p := f.packets[0].payload; len(p) != len(inUnit) || &p[0] != &inUnit[0] {
		t.Fatal("the aggregated slice was copied out of the access unit")
	}
	if got, want := len(f.packets[0].prefix), 1+2+len(sei)+2; got != want {
		t.Errorf("aggregate header %d bytes, want %d", got, want)
	}
}

// clipAccessUnits splits the embedded clip into access units (H.264 7.4.1.2.3 boundaries).
func clipAccessUnits(t testing.TB) [][][]byte {
	t.Helper()
	var aus [][][]byte
	var cur [][]byte
	sawVCL := false
	for _, n := range h264.SplitAnnexB(clipsrc.Default()) {
		if h264.StartsAccessUnit(n, sawVCL) {
			aus, cur, sawVCL = append(aus, cur), nil, false
		}
		cur = append(cur, n)
		if h264.TypeOf(n).IsVCL() {
			sawVCL = true
		}
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	if len(aus) < 30 {
		t.Fatalf("clip split into only %d access units", len(aus))
	}
	return aus
}

// TestStreamAccessUnitsRoundTrip publishes the clip's access units into a Stream and reads them
// as one viewer: the RTP packets, reassembled by pion's depacketizer and grouped by the marker
// bit, give back exactly each unit's NAL units (parameter sets first, AUDs dropped), with
// consecutive sequence numbers, one timestamp per unit advancing with the PTS, and the first
// unit a keyframe. Every unit goes back to its pool at the end.
func TestStreamAccessUnitsRoundTrip(t *testing.T) {
	aus := clipAccessUnits(t)
	pool := encoder.NewPool()
	st := NewStream(StreamConfig{})
	v := &viewer{ssrc: 0x11223344, seq: 65530, anchorTS: 4294967000} // both wrap during the test
	st.join(&v.cur)
	d := &codecs.H264Packet{IsAVC: true}
	var (
		cur        [][]byte
		units      [][][]byte
		stamps     []uint32
		lastSeq    uint16
		havePacket bool
	)
	const period = time.Second / 30
	for i, nalus := range aus {
		au := testAU(pool, h264.IsKeyframe(nalus), nalus...)
		au.PTS = time.Duration(i) * period
		st.Publish(au)
		for f := st.nextFrame(&v.cur); f != nil; f = st.nextFrame(&v.cur) {
			iov := v.buildPackets(f, -1)
			for j := range f.packets {
				raw := slices.Concat(iov[3*j], iov[3*j+1], iov[3*j+2])
				var p rtp.Packet
				if err := p.Unmarshal(raw); err != nil {
					t.Fatalf("unit %d packet %d: %v", i, j, err)
				}
				if p.Version != 2 || p.PayloadType != 96 || p.SSRC != v.ssrc {
					t.Fatalf("RTP header %+v", p.Header)
				}
				if havePacket && p.SequenceNumber != lastSeq+1 {
					t.Fatalf("sequence jumped from %d to %d", lastSeq, p.SequenceNumber)
				}
				lastSeq, havePacket = p.SequenceNumber, true
				b, err := d.Unmarshal(p.Payload)
				if err != nil {
					t.Fatalf("depacketize: %v", err)
				}
				for len(b) > 0 {
					n := binary.BigEndian.Uint32(b)
					cur, b = append(cur, slices.Clone(b[4:4+n])), b[4+n:]
				}
				if p.Marker {
					units, stamps, cur = append(units, cur), append(stamps, p.Timestamp), nil
				}
			}
			f.release()
		}
	}
	st.Close()
	if pool.Outstanding() != 0 {
		t.Errorf("%d access units not released", pool.Outstanding())
	}
	if len(units) != len(aus) {
		t.Fatalf("viewer got %d units, want %d", len(units), len(aus))
	}
	for i, got := range units {
		var want [][]byte
		if h264.IsKeyframe(aus[i]) {
			want = append(want, findNALU(aus[i], h264.NALSPS), findNALU(aus[i], h264.NALPPS))
		}
		for _, n := range aus[i] {
			switch h264.TypeOf(n) {
			case h264.NALSPS, h264.NALPPS, h264.NALAUD, h264.NALFiller:
				continue
			}
			want = append(want, n)
		}
		if len(got) != len(want) {
			t.Fatalf("unit %d: %d NAL units, want %d", i, len(got), len(want))
		}
		for j := range got {
			if !bytes.Equal(got[j], want[j]) {
				t.Fatalf("unit %d NAL %d (type %v) differs after the round trip", i, j, h264.TypeOf(want[j]))
			}
		}
		if i == 0 && h264.TypeOf(got[0]) != h264.NALSPS {
			t.Errorf("first unit starts with %v, want SPS", h264.TypeOf(got[0]))
		}
		if i > 0 && stamps[i]-stamps[i-1] != 3000 {
			t.Errorf("unit %d: timestamp advanced by %d, want 3000 (1/30 s at 90 kHz)", i, stamps[i]-stamps[i-1])
		}
	}
	if stamps[0] != 4294967000 {
		t.Errorf("first timestamp %d, want the anchor", stamps[0])
	}
}

// TestJoinStartsAtNextKeyframe: a viewer that joins never gets a non-IDR frame first, and the
// keyframe published right after it joined (the one PLAY asked the source for) is its first.
func TestJoinStartsAtNextKeyframe(t *testing.T) {
	pool := encoder.NewPool()
	st := NewStream(StreamConfig{})
	defer st.Close()
	sps := clipParameterSets(t)
	publish := func(key bool) {
		if key {
			st.Publish(testAU(pool, true, sps.SPS, sps.PPS, testNALU(0x65, 40)))
		} else {
			st.Publish(testAU(pool, false, testNALU(0x41, 40)))
		}
	}
	publish(true)
	publish(false)
	var c cursor
	st.join(&c)
	if f := st.nextFrame(&c); f != nil {
		t.Fatalf("got frame %d from before the join", f.number)
	}
	publish(false)
	if f := st.nextFrame(&c); f != nil {
		t.Fatalf("got non-IDR frame %d first", f.number)
	}
	publish(true) // the requested keyframe, published before the sender looks
	publish(false)
	for i, wantKey := range []bool{true, false} {
		f := st.nextFrame(&c)
		if f == nil || f.keyframe != wantKey {
			t.Fatalf("frame %d after join: %v, want keyframe=%v", i, f, wantKey)
		}
		f.release()
	}
	if f := st.nextFrame(&c); f != nil {
		t.Fatalf("extra frame %d", f.number)
	}
}

// TestJoinKeyframeOverwritten: a viewer that joined before a keyframe but looks only after the
// ring has wrapped past it must not start on the frame now in the keyframe's slot; it waits
// for the next keyframe.
func TestJoinKeyframeOverwritten(t *testing.T) {
	pool := encoder.NewPool()
	const ring = 4
	st := NewStream(StreamConfig{RingFrames: ring})
	defer st.Close()
	sps := clipParameterSets(t)
	var c cursor
	st.join(&c)
	st.Publish(testAU(pool, true, sps.SPS, sps.PPS, testNALU(0x65, 40)))
	for range ring + 1 { // the keyframe's slot now holds a P frame
		st.Publish(testAU(pool, false, testNALU(0x41, 40)))
	}
	if f := st.nextFrame(&c); f != nil {
		t.Fatalf("got frame %d (keyframe=%v) after the ring wrapped past the keyframe", f.number, f.keyframe)
	}
	st.Publish(testAU(pool, true, sps.SPS, sps.PPS, testNALU(0x65, 40)))
	f := st.nextFrame(&c)
	if f == nil || !f.keyframe {
		t.Fatalf("after the next keyframe: %v, want it", f)
	}
	f.release()
}

func TestRTPTicks(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0},
		{33333333, 3000}, // 1/30 s rounded to whole ns, as sources stamp it
		{66666667, 6000},
		{time.Second, 90000},
		{11111, 1}, // 0.99999 tick
		{5555, 0},  // 0.49995 tick
		{48*time.Hour + 33333333, 48*3600*90000 + 3000}, // would overflow as d*90000 ns
		{365 * 24 * time.Hour, 365 * 24 * 3600 * 90000},
	} {
		if got := RTPTicks(tc.d); got != tc.want {
			t.Errorf("RTPTicks(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	// A viewer playing for two days still advances by one frame period per frame.
	v := &viewer{anchorTS: 100}
	f := &frame{pts: time.Hour}
	first := v.rtpTime(f)
	f.pts = time.Hour + 48*time.Hour
	a := v.rtpTime(f)
	f.pts += 33333333
	if b := v.rtpTime(f); b-a != 3000 || first != 100 {
		t.Errorf("after 48 h: step %d (first %d), want 3000 from the anchor 100", b-a, first)
	}
}
