// Package h264depay follows an RFC 6184 H.264 RTP stream (single NAL unit, STAP-A and FU-A
// packets) far enough to know where access units end, whether they are whole, and which hold
// an IDR picture or a capture-time SEI. It never reassembles pictures: a load tool has no
// decoder to feed, and copying every frame of a hundred viewers would make the tool the
// bottleneck it is supposed to measure.
package h264depay

import (
	"encoding/binary"
	"time"

	"github.com/camerad/camerad/encoder/h264"
)

// maxSEI bounds the reassembly buffer for a fragmented SEI.
const maxSEI = 64 << 10

// AU describes one access unit as received.
type AU struct {
	Timestamp uint32
	Packets   int
	Bytes     int // RTP payload bytes
	// NALTypes has bit n set when a NAL unit of type n was present.
	NALTypes uint32
	// Damaged is set when a packet of the unit was lost or a fragment is missing: the
	// picture could not be decoded as sent.
	Damaged bool
	// EndedByMarker is false when the unit was closed by the next timestamp instead of the
	// marker bit.
	EndedByMarker bool
	// LastArrival is when the unit's last packet arrived.
	LastArrival time.Time
	// CaptureTime is the capture time from a camerad SEI, when HasCaptureTime.
	CaptureTime    time.Time
	HasCaptureTime bool
}

// Has reports whether a NAL unit of type t was in the unit.
func (a *AU) Has(t h264.NALType) bool { return a.NALTypes&(1<<t) != 0 }

// IsCompleteIDR reports an undamaged unit holding an IDR slice: the first picture a player
// can show.
func (a *AU) IsCompleteIDR() bool { return a.Has(h264.NALIDR) && !a.Damaged }

// Depacketizer consumes the packets of one H.264 track in arrival order.
type Depacketizer struct {
	// OnAU is called for each finished access unit; the AU is only valid during the call.
	OnAU func(au *AU)

	cur    AU
	inAU   bool
	fuOpen bool
	fuSEI  bool
	sei    []byte

	haveLast      bool
	lastTS        uint32
	lastByMarker  bool
	MarkerMissing uint64 // units closed by a new timestamp though no packet was lost
	MarkerEarly   uint64 // packets with the timestamp of a unit the marker had already closed
	Malformed     uint64 // payloads that do not parse as RFC 6184
	Unsupported   uint64 // STAP-B, MTAP, FU-B: not used in packetization-mode 1
}

// Push processes one packet's payload. gap reports that packets were lost just before this
// one (from the sequence numbers).
func (d *Depacketizer) Push(payload []byte, ts uint32, marker, gap bool, arrival time.Time) {
	if d.inAU && ts != d.cur.Timestamp {
		if !d.cur.Damaged && !gap {
			d.MarkerMissing++
		}
		d.finish(false)
	}
	if !d.inAU {
		if d.haveLast && d.lastByMarker && ts == d.lastTS && !gap {
			d.MarkerEarly++
		}
		d.cur = AU{Timestamp: ts}
		d.inAU, d.fuOpen = true, false
	}
	if gap {
		d.cur.Damaged = true
		d.fuOpen = false
	}
	d.cur.Packets++
	d.cur.Bytes += len(payload)
	d.cur.LastArrival = arrival
	d.parse(payload)
	if marker {
		d.finish(true)
	}
}

// Flush ends a unit still open at the end of the stream (it is reported as damaged: its end
// never came).
func (d *Depacketizer) Flush() {
	if d.inAU {
		d.cur.Damaged = true
		d.finish(false)
	}
}

func (d *Depacketizer) finish(byMarker bool) {
	if d.fuOpen {
		d.cur.Damaged = true
	}
	d.cur.EndedByMarker = byMarker
	d.inAU, d.fuOpen = false, false
	d.haveLast, d.lastTS, d.lastByMarker = true, d.cur.Timestamp, byMarker
	if d.OnAU != nil {
		d.OnAU(&d.cur)
	}
}

func (d *Depacketizer) parse(p []byte) {
	if len(p) < 1 {
		d.Malformed++
		d.cur.Damaged = true
		return
	}
	switch t := h264.NALType(p[0] & 0x1f); {
	case t >= 1 && t <= 23:
		d.nalu(p)
	case t == h264.NALSTAPA:
		for rest := p[1:]; len(rest) > 0; {
			if len(rest) < 2 {
				d.Malformed++
				d.cur.Damaged = true
				return
			}
			n := int(binary.BigEndian.Uint16(rest))
			if n == 0 || 2+n > len(rest) {
				d.Malformed++
				d.cur.Damaged = true
				return
			}
			d.nalu(rest[2 : 2+n])
			rest = rest[2+n:]
		}
	case t == h264.NALFUA:
		d.fragment(p)
	case t == 0:
		d.Malformed++
		d.cur.Damaged = true
	default:
		d.Unsupported++
		d.cur.Damaged = true
	}
}

func (d *Depacketizer) nalu(n []byte) {
	t := h264.TypeOf(n)
	d.cur.NALTypes |= 1 << t
	if t == h264.NALSEI {
		d.captureTime(n)
	}
}

func (d *Depacketizer) captureTime(n []byte) {
	if ct, ok := h264.ParseCaptureTimeSEI(n); ok {
		d.cur.CaptureTime, d.cur.HasCaptureTime = ct, true
	}
}

func (d *Depacketizer) fragment(p []byte) {
	if len(p) < 2 {
		d.Malformed++
		d.cur.Damaged = true
		return
	}
	indicator, header := p[0], p[1]
	start, end := header&0x80 != 0, header&0x40 != 0
	t := h264.NALType(header & 0x1f)
	switch {
	case start:
		if d.fuOpen {
			d.cur.Damaged = true // the previous fragmented NAL never ended
		}
		d.fuOpen = true
		d.cur.NALTypes |= 1 << t
		d.fuSEI = t == h264.NALSEI
		if d.fuSEI {
			d.sei = append(d.sei[:0], indicator&0xe0|byte(t))
		}
	case !d.fuOpen:
		// A continuation whose start we never saw.
		d.cur.Damaged = true
		return
	}
	if d.fuSEI {
		if len(d.sei)+len(p)-2 > maxSEI {
			d.fuSEI = false
		} else {
			d.sei = append(d.sei, p[2:]...)
		}
	}
	if end {
		d.fuOpen = false
		if d.fuSEI {
			d.captureTime(d.sei)
			d.fuSEI = false
		}
	}
}
