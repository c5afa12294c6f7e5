package rtspsrv

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/pion/rtcp"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

// TestResumeKeepsOneClock: after PAUSE and PLAY the RTP clock runs on as if there had been no
// pause, so that sender reports map RTP time to wall-clock time as before (RFC 3550 §5.1);
// the resume's RTP-Info gives where the clock stood at the PLAY, and no packet precedes it.
func TestResumeKeepsOneClock(t *testing.T) {
	const period = time.Second / 30
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	at := func(pts time.Duration) *frame { return &frame{pts: pts, captured: t0.Add(pts)} }

	v := &viewer{anchorTS: 4_000_000_000} // near the wrap, as a random anchor may be
	_, announced := v.nextRTPInfo(t0)
	if ts := v.rtpTime(at(0)); ts != announced {
		t.Fatalf("first frame at %d, RTP-Info said %d", ts, announced)
	}
	v.buildPackets(at(0), -1)
	v.buildPackets(at(period), -1) // the last frame before PAUSE

	// Resumed after 2 s; the next keyframe comes 0.7 s after the PLAY (a file source waits
	// for its next one).
	play := t0.Add(period + 2*time.Second)
	_, resume := v.nextRTPInfo(play)
	if want := uint32(4_000_000_000) + uint32(RTPTicks(period+2*time.Second)); resume-want > 1 {
		t.Errorf("resume RTP-Info rtptime %d, want the clock at the PLAY, %d", resume, want)
	}
	key := period + 2*time.Second + 700*time.Millisecond
	if ts, want := v.rtpTime(at(key)), uint32(4_000_000_000)+uint32(RTPTicks(key)); ts != want {
		t.Errorf("first frame after the resume at %d, want %d: the clock moved %d ticks", ts, want, int32(ts-want))
	}

	// A frame captured before the PLAY but sent after it (encoder latency) is moved up to the
	// announced time rather than go out before it.
	v.buildPackets(at(key), -1)
	play = t0.Add(key + time.Second)
	_, resume = v.nextRTPInfo(play)
	early := key + time.Second - 20*time.Millisecond
	if ts := v.rtpTime(at(early)); ts != resume {
		t.Errorf("frame captured 20 ms before the PLAY at %d, want RTP-Info's %d", ts, resume)
	}
	if ts, want := v.rtpTime(at(early+period)), resume+3000; ts != want {
		t.Errorf("the frame after it at %d, want %d", ts, want)
	}
}

// TestSenderReportCountsWhatWentBefore: a sender report goes out ahead of the frame last
// built, so its packet and octet counts are those of the frames before it (RFC 3550 §6.4.1:
// sent up to the time the report was generated).
func TestSenderReportCountsWhatWentBefore(t *testing.T) {
	units := benchGOPUnits()
	v := &viewer{ssrc: 0x1234}
	p := packetizer{maxPayload: DefaultMaxPacketSize - rtpHeaderLen}
	pool := encoder.NewPool()
	var sentPackets, sentOctets uint32
	for i := range 3 {
		f := &frame{pts: time.Duration(i) * time.Second / 30, captured: time.Now()}
		f.au = benchAU(pool, units, i)
		p.packetize(f, nil, nil)
		v.buildPackets(f, -1)
		pkts, err := rtcp.Unmarshal(appendSenderReport(nil, v, "cam"))
		if err != nil {
			t.Fatal(err)
		}
		sr := pkts[0].(*rtcp.SenderReport)
		if sr.PacketCount != sentPackets || sr.OctetCount != sentOctets {
			t.Errorf("report ahead of frame %d counts %d packets, %d octets; want the %d and %d sent before it",
				i, sr.PacketCount, sr.OctetCount, sentPackets, sentOctets)
		}
		for _, pk := range f.packets {
			sentPackets++
			sentOctets += uint32(pk.size())
		}
		f.au.Release()
	}
}

// TestBuildPacketsGathersFewIovecs: an FU-A fragment goes out as two iovecs (the headers with
// the 2-byte FU prefix copied after them, and the payload in the access unit), and a STAP-A's
// parameter sets stay in the frame, uncopied: payload bytes are never copied per viewer. Each
// packet's entries still read as the whole interleaved packet.
func TestBuildPacketsGathersFewIovecs(t *testing.T) {
	units := benchGOPUnits()
	pool := encoder.NewPool()
	p := packetizer{maxPayload: DefaultMaxPacketSize - rtpHeaderLen}
	f := &frame{captured: time.Now(), keyframe: true}
	f.au = benchAU(pool, units, 0) // the IDR: SPS and PPS in a STAP-A, then FU-A fragments
	defer f.au.Release()
	p.packetize(f, nil, nil)
	v := &viewer{ssrc: 0x1234}
	iov := v.buildPackets(f, 0)

	var fragments, aggregates int
	for i, pk := range f.packets {
		hdr, prefix, payload := iov[3*i], iov[3*i+1], iov[3*i+2]
		if len(hdr) < 4+rtpHeaderLen || hdr[0] != '$' || int(binary.BigEndian.Uint16(hdr[2:4])) != rtpHeaderLen+pk.size() {
			t.Fatalf("packet %d: interleaved header % x does not frame %d bytes", i, hdr[:min(len(hdr), 4)], rtpHeaderLen+pk.size())
		}
		got := slices.Concat(hdr[4+rtpHeaderLen:], prefix, payload)
		if want := slices.Concat(pk.prefix, pk.payload); !bytes.Equal(got, want) {
			t.Fatalf("packet %d: payload differs from the packetizer's", i)
		}
		if len(pk.payload) > 0 && unsafe.SliceData(payload) != unsafe.SliceData(pk.payload) {
			t.Fatalf("packet %d: payload copied", i)
		}
		var kind h264.NALType // of the packet's payload; a single NAL unit's has no prefix
		if len(pk.prefix) > 0 {
			kind = h264.NALType(pk.prefix[0] & 0x1f)
		}
		switch kind {
		case h264.NALFUA:
			fragments++
			if len(prefix) != 0 || len(hdr) != 4+rtpHeaderLen+2 {
				t.Errorf("FU-A packet %d: %d-byte header entry and %d-byte prefix entry, want the prefix inside an 18-byte header", i, len(hdr), len(prefix))
			}
		case h264.NALSTAPA:
			aggregates++
			if unsafe.SliceData(prefix) != unsafe.SliceData(pk.prefix) {
				t.Errorf("STAP-A packet %d: its %d bytes of parameter sets were copied per viewer", i, len(pk.prefix))
			}
		}
	}
	if fragments == 0 || aggregates == 0 {
		t.Fatalf("the IDR gave %d FU-A and %d STAP-A packets; the test needs both", fragments, aggregates)
	}
}
