// Package h264 knows the parts of the H.264 bitstream that a camera server needs: NAL unit
// types, Annex-B framing, access-unit boundaries, the SPS fields that go into SDP, and the
// capture-time SEI that camerad's sources stamp on every frame.
package h264

import "strconv"

// NALType is nal_unit_type (ITU-T H.264 table 7-1).
type NALType uint8

// NAL unit types a camera stream carries.
const (
	NALSlice    NALType = 1  // coded slice of a non-IDR picture
	NALIDR      NALType = 5  // coded slice of an IDR picture
	NALSEI      NALType = 6  // supplemental enhancement information
	NALSPS      NALType = 7  // sequence parameter set
	NALPPS      NALType = 8  // picture parameter set
	NALAUD      NALType = 9  // access unit delimiter
	NALEndSeq   NALType = 10 // end of sequence
	NALEndStrm  NALType = 11 // end of stream
	NALFiller   NALType = 12 // filler data
	NALSTAPA    NALType = 24 // RTP aggregation packet (RFC 6184)
	NALFUA      NALType = 28 // RTP fragmentation unit (RFC 6184)
	nalTypeMask         = 0x1f
)

// TypeOf returns the type of a NAL unit given without start code; 0 for an empty one.
func TypeOf(nalu []byte) NALType {
	if len(nalu) == 0 {
		return 0
	}
	return NALType(nalu[0] & nalTypeMask)
}

// IsHEVCVPS reports whether nalu (without start code) is an H.265 video parameter set, NAL
// header 0x40 0x01: what an H.265 Annex-B stream starts with. Read as H.264 it would be a NAL
// of type 0, which no H.264 encoder writes, so such an input is H.265, not damaged H.264.
func IsHEVCVPS(nalu []byte) bool { return len(nalu) >= 2 && nalu[0] == 0x40 && nalu[1] == 0x01 }

// IsVCL reports whether t carries picture data (a slice).
func (t NALType) IsVCL() bool { return t >= 1 && t <= 5 }

// String names the type for logs.
func (t NALType) String() string {
	switch t {
	case NALSlice:
		return "non-IDR"
	case NALIDR:
		return "IDR"
	case NALSEI:
		return "SEI"
	case NALSPS:
		return "SPS"
	case NALPPS:
		return "PPS"
	case NALAUD:
		return "AUD"
	case NALSTAPA:
		return "STAP-A"
	case NALFUA:
		return "FU-A"
	default:
		return "NAL(" + strconv.Itoa(int(t)) + ")"
	}
}
