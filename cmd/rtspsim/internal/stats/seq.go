// Package stats holds the receiver-side arithmetic of RTP (RFC 3550): extended sequence
// numbers and loss, interarrival jitter, and percentile summaries across sessions.
package stats

// Seq tracks RTP sequence numbers the way RFC 3550 appendix A.1 does: it extends them past
// the 16-bit wrap and counts expected against received packets, so loss is exact even when
// packets arrive out of order or twice.
type Seq struct {
	started   bool
	base      uint32 // extended seq of the first packet
	maxExt    uint32 // highest extended seq seen
	received  uint64
	Gaps      uint64 // packets whose seq was not max+1 and newer (a hole opened)
	Reordered uint64 // packets older than the highest seen (late or duplicate)
}

// Push records seq and reports whether it jumped forward over a hole (lost or late packets).
func (s *Seq) Push(seq uint16) (gap bool) {
	s.received++
	if !s.started {
		s.started = true
		s.base, s.maxExt = uint32(seq), uint32(seq)
		return false
	}
	cycles := s.maxExt &^ 0xffff
	maxSeq := uint16(s.maxExt)
	delta := seq - maxSeq // mod 2^16
	switch {
	case delta == 0:
		s.Reordered++ // duplicate
	case delta < 0x8000:
		if seq < maxSeq {
			cycles += 1 << 16
		}
		s.maxExt = cycles | uint32(seq)
		if delta != 1 {
			s.Gaps++
			gap = true
		}
	default:
		s.Reordered++
	}
	return gap
}

// Expected is the number of packets between the first and the highest seen.
func (s *Seq) Expected() uint64 {
	if !s.started {
		return 0
	}
	return uint64(s.maxExt-s.base) + 1
}

// Lost is expected minus received, never negative (duplicates can make it so).
func (s *Seq) Lost() uint64 {
	if e, r := s.Expected(), s.received; e > r {
		return e - r
	}
	return 0
}

// HighestExtended is the extended highest sequence number (for receiver reports).
func (s *Seq) HighestExtended() uint32 { return s.maxExt }
