package sim

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/camerad/camerad/cmd/rtspsim/internal/h264depay"
	"github.com/camerad/camerad/cmd/rtspsim/internal/rtsp"
	"github.com/camerad/camerad/cmd/rtspsim/internal/stats"
)

// maxLatencySamples bounds the per-track latency samples (an hour at 30 fps is 108000).
const maxLatencySamples = 200_000

// srTolerance is how far the RTP clock may drift from the NTP clock between two sender
// reports, as a fraction of the interval, before the mapping is reported as wrong; plus a
// fixed allowance for the send-time jitter of the reports themselves.
const (
	srDriftTolerance = 0.05
	srFixedTolerance = 50 * time.Millisecond
	// srStreamTolerance is how far a report's RTP time may be from the timestamps of the
	// packets arriving around it (encoders stamp capture time, which lags sending).
	srStreamTolerance = 3 * time.Second
)

// track is the receive side of one SETUP: packet checks, loss, jitter, access units. Its
// handlers run on a packet reader goroutine while the session reads progress, so state is
// under mu (uncontended in steady state).
type track struct {
	desc         rtsp.Track
	findings     *findings
	rtpTimeSlack time.Duration // negative: exact match required
	// reliable is set for TCP: nothing can be lost, so a sequence gap is the server's.
	reliable bool

	mu        sync.Mutex
	hdr       rtp.Header // reused by Unmarshal: no allocation per packet
	seq       stats.Seq
	jitter    stats.Jitter
	depay     *h264depay.Depacketizer
	setupSSRC uint32
	hasSSRC   bool

	packets, bytes uint64
	firstAt        time.Time
	lastAt         time.Time
	firstSeq       uint16
	firstTS        uint32
	lastTS         uint32
	ssrc           uint32
	otherSSRC      int

	rtpInfo    rtsp.RTPInfo
	hasRTPInfo bool
	infoDone   bool

	frames        uint64
	damaged       uint64
	keyframeAt    time.Time
	beforeKey     int
	latencies     []float64
	latencyFrames uint64
	// The last capture-time SEI (camerad sends one per keyframe) and its unit's RTP
	// timestamp: later units' capture times follow from their timestamps.
	captureAnchor   time.Time
	captureAnchorTS uint32

	srCount    int
	lastSRNTP  uint64
	lastSRRTP  uint32
	lastSRAt   time.Time
	hasSR      bool
	rtcpOthers int
}

func newTrack(desc rtsp.Track, f *findings, rtpTimeSlack time.Duration) *track {
	t := &track{desc: desc, findings: f, rtpTimeSlack: rtpTimeSlack, jitter: stats.NewJitter(desc.ClockRate)}
	if desc.IsH264() {
		t.depay = &h264depay.Depacketizer{OnAU: t.onAU}
	}
	return t
}

// handleRTP processes one RTP packet. buf is only valid during the call.
func (t *track) handleRTP(buf []byte, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.hdr.Unmarshal(buf)
	if err != nil {
		t.findings.add(KindRTPMalformed, fmt.Sprintf("%s: %d-byte packet: %v", t.desc.URL, len(buf), err))
		return
	}
	h := &t.hdr
	if h.Version != 2 {
		t.findings.add(KindRTPVersion, fmt.Sprintf("%s: RTP version %d", t.desc.URL, h.Version))
		return
	}
	payload := buf[n:]
	if h.Padding {
		pad := int(buf[len(buf)-1])
		if pad == 0 || pad > len(payload) {
			t.findings.add(KindRTPMalformed, fmt.Sprintf("%s: seq %d: padding %d of %d bytes", t.desc.URL, h.SequenceNumber, pad, len(payload)))
			return
		}
		payload = payload[:len(payload)-pad]
	}
	if !t.desc.HasPayloadType(h.PayloadType) {
		t.findings.add(KindPayloadType, fmt.Sprintf("%s: payload type %d, SDP announced %v", t.desc.URL, h.PayloadType, t.desc.PayloadTypes))
	}
	first := t.packets == 0
	if first {
		t.ssrc, t.firstSeq, t.firstTS, t.firstAt = h.SSRC, h.SequenceNumber, h.Timestamp, now
		if t.hasSSRC && h.SSRC != t.setupSSRC {
			t.findings.add(KindSSRC, fmt.Sprintf("%s: SSRC %08X, SETUP announced %08X", t.desc.URL, h.SSRC, t.setupSSRC))
		}
		t.checkRTPInfo()
	} else if h.SSRC != t.ssrc {
		t.otherSSRC++
		t.findings.add(KindSSRC, fmt.Sprintf("%s: SSRC %08X after %08X", t.desc.URL, h.SSRC, t.ssrc))
	}
	t.packets++
	t.bytes += uint64(len(payload))
	t.lastAt = now

	reorderedBefore := t.seq.Reordered
	prevMax := uint16(t.seq.HighestExtended())
	gap := t.seq.Push(h.SequenceNumber)
	if gap && t.reliable {
		t.findings.add(KindSeqGap, fmt.Sprintf("%s: seq %d after %d on TCP, where nothing can be lost", t.desc.URL, h.SequenceNumber, prevMax))
	}
	if t.seq.Reordered != reorderedBefore {
		// A late or duplicate packet: counted for loss, but it would confuse the frame and
		// timestamp checks, which follow the stream in order.
		return
	}
	if !first && int32(h.Timestamp-t.lastTS) < 0 {
		t.findings.add(KindTimestamp, fmt.Sprintf("%s: seq %d: timestamp %d after %d", t.desc.URL, h.SequenceNumber, h.Timestamp, t.lastTS))
	}
	t.lastTS = h.Timestamp
	t.jitter.Push(now, h.Timestamp)
	if t.depay != nil {
		t.depay.Push(payload, h.Timestamp, h.Marker, gap, now)
	}
}

// onAU runs under mu, from depay.Push.
func (t *track) onAU(au *h264depay.AU) {
	t.frames++
	if au.Damaged {
		t.damaged++
	}
	if t.keyframeAt.IsZero() {
		if au.IsCompleteIDR() {
			t.keyframeAt = au.LastArrival
		} else {
			t.beforeKey++
		}
	}
	if au.HasCaptureTime {
		t.captureAnchor, t.captureAnchorTS = au.CaptureTime, au.Timestamp
	}
	if !t.captureAnchor.IsZero() && t.desc.ClockRate > 0 {
		ticks := int64(int32(au.Timestamp - t.captureAnchorTS))
		captured := t.captureAnchor.Add(time.Duration(ticks * int64(time.Second) / int64(t.desc.ClockRate)))
		t.latencyFrames++
		if len(t.latencies) < maxLatencySamples {
			t.latencies = append(t.latencies, float64(au.LastArrival.Sub(captured))/float64(time.Millisecond))
		}
	}
}

// setRTPInfo records the PLAY answer's RTP-Info entry; the check runs when both it and the
// first packet are known, whichever comes last (media may overtake the PLAY answer).
func (t *track) setRTPInfo(info rtsp.RTPInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rtpInfo, t.hasRTPInfo = info, true
	if t.packets > 0 {
		t.checkRTPInfo()
	}
}

func (t *track) checkRTPInfo() {
	if !t.hasRTPInfo || t.infoDone {
		return
	}
	t.infoDone = true
	if t.rtpInfo.HasSeq && t.rtpInfo.Seq != t.firstSeq {
		t.findings.add(KindRTPInfoSeq, fmt.Sprintf("%s: RTP-Info seq=%d, first packet seq=%d", t.desc.URL, t.rtpInfo.Seq, t.firstSeq))
	}
	if !t.rtpInfo.HasRTPTime || t.rtpInfo.RTPTime == t.firstTS {
		return
	}
	// How far rtptime lies before the first packet, in clock units (negative: after it).
	before := int64(int32(t.firstTS - t.rtpInfo.RTPTime))
	slack := int64(t.rtpTimeSlack.Seconds() * float64(t.desc.ClockRate))
	if before < 0 || before > slack {
		t.findings.add(KindRTPInfoRTPTime, fmt.Sprintf("%s: RTP-Info rtptime=%d, first packet timestamp=%d (%+.1f ms)",
			t.desc.URL, t.rtpInfo.RTPTime, t.firstTS, float64(-before)*1000/float64(t.desc.ClockRate)))
	}
}

// handleRTCP processes an RTCP compound packet (rare: a few per second at most, so the
// allocations of rtcp.Unmarshal do not matter).
func (t *track) handleRTCP(buf []byte, now time.Time) {
	pkts, err := rtcp.Unmarshal(buf)
	if err != nil {
		return // RTCP is advisory; a malformed report is not the stream's fault
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range pkts {
		sr, ok := p.(*rtcp.SenderReport)
		if !ok {
			t.rtcpOthers++
			continue
		}
		t.checkSR(sr, now)
	}
}

func (t *track) checkSR(sr *rtcp.SenderReport, now time.Time) {
	t.srCount++
	clock := float64(t.desc.ClockRate)
	if t.packets > 0 && sr.SSRC != t.ssrc {
		t.findings.add(KindRTCPSR, fmt.Sprintf("%s: sender report for SSRC %08X, media SSRC %08X", t.desc.URL, sr.SSRC, t.ssrc))
	}
	if t.hasSR {
		ntpDelta := ntpSeconds(sr.NTPTime) - ntpSeconds(t.lastSRNTP)
		rtpDelta := float64(int32(sr.RTPTime-t.lastSRRTP)) / clock
		tol := srDriftTolerance*math.Abs(ntpDelta) + srFixedTolerance.Seconds()
		switch {
		case ntpDelta <= 0:
			t.findings.add(KindRTCPSR, fmt.Sprintf("%s: NTP time did not advance between sender reports (%+.3fs)", t.desc.URL, ntpDelta))
		case math.Abs(rtpDelta-ntpDelta) > tol:
			t.findings.add(KindRTCPSR, fmt.Sprintf("%s: sender reports %.3fs apart in NTP but %.3fs in RTP time", t.desc.URL, ntpDelta, rtpDelta))
		}
	}
	if t.packets > 0 {
		// Where the report puts "now" on the RTP clock versus the newest packet, corrected
		// for how long ago that packet came.
		off := float64(int32(sr.RTPTime-t.lastTS))/clock - now.Sub(t.lastAt).Seconds()
		if math.Abs(off) > srStreamTolerance.Seconds() {
			t.findings.add(KindRTCPSR, fmt.Sprintf("%s: sender report RTP time %d is %.1fs from the stream's timestamps (last %d)", t.desc.URL, sr.RTPTime, off, t.lastTS))
		}
	}
	t.lastSRNTP, t.lastSRRTP, t.lastSRAt, t.hasSR = sr.NTPTime, sr.RTPTime, now, true
}

func ntpSeconds(ntp uint64) float64 {
	return float64(ntp>>32) + float64(ntp&0xffffffff)/(1<<32)
}

// receiverReport builds an RTCP receiver report for the track (RFC 3550 6.4.2), which also
// keeps UDP sessions alive on servers that watch for it.
func (t *track) receiverReport(ourSSRC uint32, now time.Time) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.packets == 0 {
		return nil, false
	}
	lost := t.seq.Lost()
	frac := uint8(0)
	if e := t.seq.Expected(); e > 0 {
		frac = uint8(min(255, lost*256/e))
	}
	rr := rtcp.ReceptionReport{
		SSRC:               t.ssrc,
		FractionLost:       frac,
		TotalLost:          uint32(min(lost, 0x7fffff)),
		LastSequenceNumber: t.seq.HighestExtended(),
		Jitter:             t.jitter.Units(),
	}
	if t.hasSR {
		rr.LastSenderReport = uint32(t.lastSRNTP >> 16)
		rr.Delay = uint32(now.Sub(t.lastSRAt).Seconds() * 65536)
	}
	b, err := (&rtcp.ReceiverReport{SSRC: ourSSRC, Reports: []rtcp.ReceptionReport{rr}}).Marshal()
	if err != nil {
		return nil, false
	}
	return b, true
}

// snapshot is what progress lines and results read.
type trackSnapshot struct {
	packets, bytes, lost, frames uint64
}

func (t *track) snapshot() trackSnapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return trackSnapshot{packets: t.packets, bytes: t.bytes, lost: t.seq.Lost(), frames: t.frames}
}
