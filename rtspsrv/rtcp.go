package rtspsrv

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtcp"
)

// senderReportInterval is how often each viewer gets an RTCP sender report. RFC 3550's
// minimum is 5 s; players use the NTP↔RTP mapping for lip sync and wall-clock display.
const senderReportInterval = 5 * time.Second

// ntpEpochOffset is the number of seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// appendSenderReport appends a compound RTCP packet, SR + SDES CNAME (RFC 3550 §6.1 requires
// the CNAME in every compound packet), for the viewer's latest frame. It is hand-marshalled
// into caller scratch because pion/rtcp has no MarshalTo and this runs for every viewer.
func appendSenderReport(dst []byte, v *viewer, cname string) []byte {
	// SR: header, SSRC, NTP, RTP, packet count, octet count; no report blocks.
	dst = append(dst, 0x80, 200, 0, 6)
	dst = binary.BigEndian.AppendUint32(dst, v.ssrc)
	dst = binary.BigEndian.AppendUint64(dst, ntpTime(v.lastCap))
	dst = binary.BigEndian.AppendUint32(dst, v.lastTS)
	dst = binary.BigEndian.AppendUint32(dst, v.srPackets)
	dst = binary.BigEndian.AppendUint32(dst, v.srOctets)
	return appendSDES(dst, v.ssrc, cname)
}

func appendSDES(dst []byte, ssrc uint32, cname string) []byte {
	cname = cname[:min(len(cname), 255)]
	chunk := 4 + 2 + len(cname) + 1 // SSRC, CNAME item, END
	pad := (4 - chunk%4) % 4
	words := (4 + chunk + pad) / 4
	dst = append(dst, 0x81, 202)
	dst = binary.BigEndian.AppendUint16(dst, uint16(words-1))
	dst = binary.BigEndian.AppendUint32(dst, ssrc)
	dst = append(dst, 1, byte(len(cname)))
	dst = append(dst, cname...)
	dst = append(dst, 0)
	for range pad {
		dst = append(dst, 0)
	}
	return dst
}

// appendBye appends a compound RTCP packet, SR-less RR + SDES + BYE, announcing that the
// viewer's SSRC leaves (teardown or shutdown). Not led by a last SR: it would repeat the last
// periodic one when no frame went out since, and receivers take two SRs with the same NTP
// time for a sender whose clock stopped.
func appendBye(dst []byte, v *viewer, cname string) []byte {
	dst = append(dst, 0x80, 201, 0, 1) // empty receiver report, as a compound packet must start with SR or RR
	dst = binary.BigEndian.AppendUint32(dst, v.ssrc)
	dst = appendSDES(dst, v.ssrc, cname)
	dst = append(dst, 0x81, 203, 0, 1)
	return binary.BigEndian.AppendUint32(dst, v.ssrc)
}

// handleReceiverReports applies RTCP from a viewer: receiver reports about our SSRC update its
// loss and jitter counters. Any RTCP at all counts as a keep-alive (done by the caller).
func handleReceiverReports(v *viewer, data []byte) {
	pkts, err := rtcp.Unmarshal(data)
	if err != nil {
		return
	}
	for _, p := range pkts {
		rr, ok := p.(*rtcp.ReceiverReport)
		if !ok {
			continue
		}
		for _, r := range rr.Reports {
			if r.SSRC != v.ssrc {
				continue
			}
			v.rrFractionLost.Store(uint32(r.FractionLost))
			v.rrTotalLost.Store(signed24(r.TotalLost))
			v.rrJitter.Store(r.Jitter)
			v.rrLast.Store(time.Now().UnixNano())
		}
	}
}

// signed24 sign-extends RTCP's 24-bit cumulative-lost count: duplicates make it negative
// (GStreamer reports -1, 0xFFFFFF, on a clean stream).
func signed24(v uint32) int64 {
	v &= 0xffffff
	if v&0x800000 != 0 {
		return int64(v) - 1<<24
	}
	return int64(v)
}
