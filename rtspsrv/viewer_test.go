package rtspsrv

import (
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/camerad/camerad/encoder"
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
