package rtspsrv

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// payloadTypeH264 is the dynamic payload type the SDP assigns to the video track.
const payloadTypeH264 = 96

// clockRate is H.264's RTP clock (RFC 6184 §8.2.1).
const clockRate = 90000

// ViewerStats are a viewer's counters, safe to read while it plays. A multicast viewer's are
// its group's: everything sent to the group since the server started.
type ViewerStats struct {
	Session   string
	Transport Lower
	Remote    string
	Packets   uint64
	Bytes     uint64 // RTP bytes, headers included
	Frames    uint64
	Dropped   uint64 // frames skipped because the viewer fell behind
	// From the viewer's RTCP receiver reports:
	FractionLost float64
	TotalLost    int64
	Jitter       uint32 // in RTP timestamp units
	LastReport   time.Time
}

// viewer is the media side of a playing session: its RTP numbering, its place in the stream
// and its counters. The RTP header scratch lives here so sending allocates nothing.
type viewer struct {
	ssrc uint32
	seq  uint16 // next sequence number

	anchored bool
	anchorTS uint32        // RTP timestamp of the anchor frame
	anchorPT time.Duration // its PTS
	lastTS   uint32
	lastCap  time.Time
	// resumeTS, while resuming, is the RTP time announced for the resume (RTP-Info): the
	// first frame after it keeps the clock running through the pause unless that would put
	// it before resumeTS (see rtpTime).
	resuming bool
	resumeTS uint32

	cur cursor

	// scratch: per packet, room for a 4-byte interleave header and the RTP header.
	hdrs []byte
	iov  [][]byte

	packets, bytes, frames, dropped atomic.Uint64
	rrFractionLost                  atomic.Uint32 // fraction_lost as sent (0..255)
	rrTotalLost                     atomic.Int64
	rrJitter                        atomic.Uint32
	rrLast                          atomic.Int64 // UnixNano of the last receiver report

	// sender report bookkeeping (owned by the sending goroutine). A report goes out ahead of
	// the frame last built (players sync on it before that frame), so it counts what came
	// before: srPackets and srOctets; builtPackets and builtOctets include that frame.
	srPackets, srOctets       uint32
	builtPackets, builtOctets uint32
	nextSR                    time.Time
}

// frameHeaderBytes is the scratch per packet: '$', channel, length (4), the RTP header (12) and
// room for a payload prefix of up to inlinePrefixMax bytes.
const frameHeaderBytes = 4 + rtpHeaderLen + inlinePrefixMax

// inlinePrefixMax is the longest payload prefix that buildPackets copies after the RTP header
// instead of giving it an iovec of its own: an FU-A indicator and header, generated framing
// like the RTP header, not payload. Nearly every packet of a frame is an FU-A fragment, and the
// kernel gathers each iovec separately: with two iovecs per packet instead of three, camerad
// used 6-8% less CPU at 10 UDP viewers and at one TCP viewer (BenchmarkFanout, A/B runs). A
// longer prefix (a STAP-A's parameter sets) is payload, never copied per viewer: it keeps its
// own iovec.
const inlinePrefixMax = 2

// rtpTime maps a frame's PTS onto the viewer's RTP clock. The first frame after PLAY is the
// anchor: it gets exactly the timestamp announced in RTP-Info. After a resume the clock runs
// on as if the pause had not been: the RTP time of each frame, and so the sender reports'
// mapping of RTP to wall-clock time, stays that of one clock (RFC 3550 §5.1), whichever
// keyframe the viewer resumes at. Only a frame captured before the resume's announced time
// (an encoder's latency) is moved up to it, so that nothing precedes what RTP-Info said.
func (v *viewer) rtpTime(f *frame) uint32 {
	if !v.anchored {
		v.anchored, v.anchorPT = true, f.pts
	}
	ts := v.anchorTS + uint32(RTPTicks(f.pts-v.anchorPT))
	if v.resuming {
		v.resuming = false
		if int32(ts-v.resumeTS) < 0 {
			v.anchorTS, v.anchorPT, ts = v.resumeTS, f.pts, v.resumeTS
		}
	}
	return ts
}

// RTPTicks converts d to 90 kHz ticks, the clock of RTP video and of the live view's MP4.
// Seconds and the rest are scaled apart so that the product cannot overflow (d*90000 in
// nanoseconds would after 28 hours of playing), and the result is rounded, not truncated: a
// 30 fps source's PTS are whole nanoseconds rounded from n/30 s, and truncating them would
// give steps of 2999 and 3001 ticks instead of 3000.
func RTPTicks(d time.Duration) int64 {
	sec, rest := int64(d/time.Second), int64(d%time.Second)
	return sec*clockRate + (rest*clockRate+int64(time.Second)/2)/int64(time.Second)
}

// buildPackets writes the RTP headers of every packet of f into the viewer's scratch and fills
// v.iov with three entries per packet: header, payload prefix, payload. A prefix of up to
// inlinePrefixMax bytes is copied after the header instead, and its entry left empty (every
// sender skips empty entries; the fixed stride lets them address packet i as iov[3*i:3*i+3]).
// With channel >= 0 each header is preceded by the interleaved-frame header ('$', channel,
// length).
func (v *viewer) buildPackets(f *frame, channel int) [][]byte {
	n := len(f.packets)
	if cap(v.hdrs) < n*frameHeaderBytes {
		v.hdrs = make([]byte, n*frameHeaderBytes)
	}
	if cap(v.iov) < 3*n {
		v.iov = make([][]byte, 3*n)
	}
	hdrs, iov := v.hdrs[:n*frameHeaderBytes], v.iov[:3*n]
	ts := v.rtpTime(f)
	h := rtp.Header{Version: 2, PayloadType: payloadTypeH264, Timestamp: ts, SSRC: v.ssrc}
	var octets int
	for i := range f.packets {
		p := &f.packets[i]
		slot := hdrs[i*frameHeaderBytes : (i+1)*frameHeaderBytes]
		h.SequenceNumber = v.seq
		h.Marker = p.marker
		v.seq++
		// MarshalTo cannot fail with a 12-byte buffer and no extensions.
		_, _ = h.MarshalTo(slot[4:])
		end, prefix := 4+rtpHeaderLen, p.prefix
		if len(prefix) <= inlinePrefixMax {
			end += copy(slot[end:], prefix)
			prefix = nil
		}
		hdr := slot[4:end]
		if channel >= 0 {
			slot[0], slot[1] = '$', byte(channel)
			binary.BigEndian.PutUint16(slot[2:4], uint16(rtpHeaderLen+p.size()))
			hdr = slot[:end]
		}
		iov[3*i], iov[3*i+1], iov[3*i+2] = hdr, prefix, p.payload
		octets += p.size()
	}
	v.lastTS, v.lastCap = ts, f.captured
	v.packets.Add(uint64(n))
	v.bytes.Add(uint64(octets + n*rtpHeaderLen))
	v.frames.Add(1)
	v.srPackets, v.srOctets = v.builtPackets, v.builtOctets
	v.builtPackets += uint32(n)
	v.builtOctets += uint32(octets)
	return iov
}

// nextRTPInfo is the sequence number and RTP time for PLAY's RTP-Info. Before the first
// frame it is the random anchor, which the first packet carries. After a pause it is where
// the clock is now (as the peers announce it): the first packet after the resume carries
// that or, captured later, its own later time on the same clock (see rtpTime).
func (v *viewer) nextRTPInfo(now time.Time) (seq uint16, ts uint32) {
	if !v.anchored {
		return v.seq, v.anchorTS
	}
	v.resuming = true
	v.resumeTS = v.lastTS + uint32(RTPTicks(max(now.Sub(v.lastCap), 0))) + 1
	return v.seq, v.resumeTS
}

// projectedRTPInfo is the sequence number of the next packet and the RTP time of now, for
// someone joining the viewer's stream while it runs (a multicast group); unlike nextRTPInfo it
// leaves the clock alone, since others are receiving it.
func (v *viewer) projectedRTPInfo(now time.Time) (seq uint16, ts uint32) {
	if !v.anchored {
		return v.seq, v.anchorTS
	}
	return v.seq, v.lastTS + uint32(RTPTicks(max(now.Sub(v.lastCap), 0)))
}

func (v *viewer) stats() ViewerStats {
	st := ViewerStats{
		Packets:      v.packets.Load(),
		Bytes:        v.bytes.Load(),
		Frames:       v.frames.Load(),
		Dropped:      v.dropped.Load(),
		FractionLost: float64(v.rrFractionLost.Load()) / 256,
		TotalLost:    v.rrTotalLost.Load(),
		Jitter:       v.rrJitter.Load(),
	}
	if ns := v.rrLast.Load(); ns != 0 {
		st.LastReport = time.Unix(0, ns)
	}
	return st
}

// udpDest is where a UDP viewer's packets go.
type udpDest struct {
	rtp, rtcp *net.UDPAddr
	rtpRaw    *rawAddr // rtp as sendmmsg takes it
	// rtpFrom and rtcpFrom, when set, are the sockets to send from instead of the server's
	// ports: a multicast group's own (see multicastSockets).
	rtpFrom  *rawUDPConn
	rtcpFrom *net.UDPConn
	// unsegmented is set, by the UDP sender, once the path to rtp has refused a segmented run
	// (see udpSender.unsegment).
	unsegmented bool
}
