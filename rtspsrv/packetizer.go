package rtspsrv

import (
	"github.com/camerad/camerad/encoder/h264"
)

// rtpHeaderLen is the fixed RTP header without CSRCs or extensions.
const rtpHeaderLen = 12

// DefaultMaxPacketSize keeps RTP packets (header included) under a typical 1500-byte MTU with
// room for IP, UDP and tunnel overheads.
const DefaultMaxPacketSize = 1400

// packet is one RTP payload of a frame: prefix bytes (an FU-A indicator and header, or a
// whole STAP-A) followed by a slice of the access unit. Neither is copied per viewer: the
// senders point iovecs at both.
type packet struct {
	prefix  []byte // aliases frame.scratch
	payload []byte // aliases the access unit
	marker  bool
}

func (p *packet) size() int { return len(p.prefix) + len(p.payload) }

// packetizer turns an access unit into RFC 6184 packetization-mode-1 payloads. Small NAL
// units that lead up to a slice (SPS, PPS, SEI) are aggregated into one STAP-A, together with
// the slice when it fits; NAL units that fit are sent whole, larger ones cut into FU-A
// fragments. Every datagram costs the sender and each viewer a trip through the network stack
// (and airtime on Wi-Fi), so a keyframe's parameter sets and SEI ride in one packet instead of
// three. It runs once per access unit, whatever the number of viewers.
type packetizer struct {
	maxPayload int // RTP payload bytes per packet

	nalus       [][]byte // the unit's NAL units to send, parameter sets first
	prefixSpans []span   // offsets into scratch, resolved once scratch stops growing
}

type span struct{ start, end int }

// packetize fills f.packets and f.scratch from f.au. sps and pps are the stream's cached
// parameter sets, prepended to a keyframe that arrives without them so that every viewer's
// first packets are SPS, PPS, IDR.
func (p *packetizer) packetize(f *frame, sps, pps []byte) {
	f.packets = f.packets[:0]
	f.scratch = f.scratch[:0]
	p.prefixSpans = p.prefixSpans[:0]
	p.nalus = p.nalus[:0]
	nalus := f.au.NALUs()

	hasSPS, hasPPS := false, false
	for _, n := range nalus {
		switch h264.TypeOf(n) {
		case h264.NALSPS:
			hasSPS = true
		case h264.NALPPS:
			hasPPS = true
		}
	}
	// Parameter sets go first: from the unit when it has them, else the cache.
	if f.keyframe || hasSPS || hasPPS {
		if !hasSPS || !hasPPS {
			sps, pps = orDefault(findNALU(nalus, h264.NALSPS), sps), orDefault(findNALU(nalus, h264.NALPPS), pps)
		} else {
			sps, pps = findNALU(nalus, h264.NALSPS), findNALU(nalus, h264.NALPPS)
		}
		if len(sps) > 0 && len(pps) > 0 {
			p.nalus = append(p.nalus, sps, pps)
		}
	}
	for _, n := range nalus {
		switch h264.TypeOf(n) {
		case h264.NALSPS, h264.NALPPS, h264.NALAUD, h264.NALFiller:
			// Parameter sets are in place above; delimiters and filler carry nothing a viewer
			// needs over RTP (RFC 6184 §5.3 leaves them optional).
			continue
		}
		if len(n) > 0 {
			p.nalus = append(p.nalus, n)
		}
	}
	for i := 0; i < len(p.nalus); {
		j := p.aggregateEnd(i)
		if j-i > 1 {
			p.addAggregate(f, p.nalus[i:j])
		} else {
			p.addNALU(f, p.nalus[i])
		}
		i = j
	}
	clear(p.nalus) // the unit goes back to its pool; keep no view of it
	for i, s := range p.prefixSpans {
		if s.end > s.start {
			f.packets[i].prefix = f.scratch[s.start:s.end:s.end]
		}
	}
	if len(f.packets) > 0 {
		f.packets[len(f.packets)-1].marker = true
	}
}

// aggregateEnd returns the end of the longest run p.nalus[i:j] that fits one STAP-A: every
// unit but the last must be a non-VCL one (they are copied into the frame's scratch, and are
// a few dozen bytes); the last may be a slice, which the packet then points into, uncopied.
func (p *packetizer) aggregateEnd(i int) int {
	size := 1 + 2 + len(p.nalus[i])
	j := i + 1
	for j < len(p.nalus) && !h264.TypeOf(p.nalus[j-1]).IsVCL() && size+2+len(p.nalus[j]) <= p.maxPayload {
		size += 2 + len(p.nalus[j])
		j++
	}
	return j
}

// addAggregate adds one STAP-A (RFC 6184 §5.7.1) of nalus: the header, and each unit with its
// 16-bit size, in scratch; a final slice stays in the access unit as the packet's payload.
func (p *packetizer) addAggregate(f *frame, nalus [][]byte) {
	var fnri byte // F is set if any unit's is; NRI is the largest of the units'
	for _, n := range nalus {
		fnri = fnri&0x80 | n[0]&0x80 | max(fnri&0x60, n[0]&0x60)
	}
	start := len(f.scratch)
	f.scratch = append(f.scratch, fnri|byte(h264.NALSTAPA))
	var payload []byte
	for k, n := range nalus {
		f.scratch = append(f.scratch, byte(len(n)>>8), byte(len(n)))
		if k == len(nalus)-1 && h264.TypeOf(n).IsVCL() {
			payload = n
			break
		}
		f.scratch = append(f.scratch, n...)
	}
	p.add(f, span{start, len(f.scratch)}, payload)
}

func (p *packetizer) addNALU(f *frame, n []byte) {
	if len(n) <= p.maxPayload {
		p.add(f, span{}, n)
		return
	}
	// FU-A: the NAL header is replaced by an indicator (F, NRI, type 28) and a header (S, E,
	// type); the rest is cut into pieces that fit.
	indicator := n[0]&0xe0 | byte(h264.NALFUA)
	typ := n[0] & 0x1f
	body := n[1:]
	chunk := p.maxPayload - 2
	for first := true; len(body) > 0; first = false {
		size := min(chunk, len(body))
		hdr := typ
		if first {
			hdr |= 0x80
		}
		if size == len(body) {
			hdr |= 0x40
		}
		start := len(f.scratch)
		f.scratch = append(f.scratch, indicator, hdr)
		p.add(f, span{start, start + 2}, body[:size:size])
		body = body[size:]
	}
}

func (p *packetizer) add(f *frame, prefix span, payload []byte) {
	p.prefixSpans = append(p.prefixSpans, prefix)
	f.packets = append(f.packets, packet{payload: payload})
}

func findNALU(nalus [][]byte, t h264.NALType) []byte {
	for _, n := range nalus {
		if h264.TypeOf(n) == t {
			return n
		}
	}
	return nil
}

func orDefault(b, def []byte) []byte {
	if len(b) > 0 {
		return b
	}
	return def
}
