package h264

import (
	"errors"
	"fmt"
)

// SPS holds the sequence parameter set fields a server needs: the profile and level for SDP's
// profile-level-id, the picture size, and the frame rate when the encoder wrote timing info.
type SPS struct {
	ProfileIDC      uint8
	ConstraintFlags uint8 // constraint_set0..5 flags, as the byte that follows profile_idc
	LevelIDC        uint8
	ID              uint32
	Width, Height   int     // displayed size, after cropping
	FrameRate       float64 // 0 when the SPS has no VUI timing info
}

// ProfileLevelID is the SDP profile-level-id value (RFC 6184 8.1): the three bytes after the
// NAL header, in hex.
func (s SPS) ProfileLevelID() string {
	return fmt.Sprintf("%02x%02x%02x", s.ProfileIDC, s.ConstraintFlags, s.LevelIDC)
}

// highProfiles have chroma_format_idc and friends in their SPS (7.3.2.1.1).
func hasChromaInfo(profile uint8) bool {
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return true
	}
	return false
}

// ParseSPS parses a sequence parameter set NAL unit (with header byte, as on the wire).
func ParseSPS(nalu []byte) (SPS, error) {
	if TypeOf(nalu) != NALSPS {
		return SPS{}, fmt.Errorf("h264: NAL type %v is not an SPS", TypeOf(nalu))
	}
	if len(nalu) < 4 {
		return SPS{}, errShortRBSP
	}
	s := SPS{ProfileIDC: nalu[1], ConstraintFlags: nalu[2], LevelIDC: nalu[3]}
	p := spsParser{r: newBitReader(nalu[4:])}
	s.ID = p.ue()
	chromaFormat := uint32(1)
	separatePlanes := false
	if hasChromaInfo(s.ProfileIDC) {
		chromaFormat = p.ue()
		if chromaFormat == 3 {
			separatePlanes = p.flag()
		}
		p.ue() // bit_depth_luma_minus8
		p.ue() // bit_depth_chroma_minus8
		p.flag()
		if p.flag() { // seq_scaling_matrix_present_flag
			lists := 8
			if chromaFormat == 3 {
				lists = 12
			}
			for i := range lists {
				if p.flag() {
					size := 64
					if i < 6 {
						size = 16
					}
					p.skipScalingList(size)
				}
			}
		}
	}
	p.ue() // log2_max_frame_num_minus4
	switch pocType := p.ue(); pocType {
	case 0:
		p.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		p.flag()
		p.se()
		p.se()
		n := p.ue()
		if n > 255 {
			return SPS{}, errors.New("h264: SPS num_ref_frames_in_pic_order_cnt_cycle out of range")
		}
		for range n {
			p.se()
		}
	}
	p.ue() // max_num_ref_frames
	p.flag()
	widthMBs := p.ue() + 1
	heightMapUnits := p.ue() + 1
	frameMBsOnly := p.flag()
	if !frameMBsOnly {
		p.flag() // mb_adaptive_frame_field_flag
	}
	p.flag() // direct_8x8_inference_flag
	var cropL, cropR, cropT, cropB uint32
	if p.flag() {
		cropL, cropR, cropT, cropB = p.ue(), p.ue(), p.ue(), p.ue()
	}
	if p.err != nil {
		return SPS{}, fmt.Errorf("h264: parse SPS: %w", p.err)
	}
	frameHeightMul := uint32(1)
	if !frameMBsOnly {
		frameHeightMul = 2
	}
	cropUnitX, cropUnitY := uint32(1), frameHeightMul
	if chromaFormat != 0 && !separatePlanes {
		subW, subH := uint32(2), uint32(2)
		switch chromaFormat {
		case 2:
			subH = 1
		case 3:
			subW, subH = 1, 1
		}
		cropUnitX, cropUnitY = subW, subH*frameHeightMul
	}
	// int64: the crop offsets are ue(v) values up to 2^32-2, whose sums and products
	// overflow 32 bits (and int on 32-bit ARM) and could wrap back into a plausible size.
	w := int64(widthMBs)*16 - int64(cropUnitX)*(int64(cropL)+int64(cropR))
	h := int64(heightMapUnits)*16*int64(frameHeightMul) - int64(cropUnitY)*(int64(cropT)+int64(cropB))
	if widthMBs > 1024 || heightMapUnits > 1024 || w <= 0 || h <= 0 {
		return SPS{}, fmt.Errorf("h264: SPS picture size %dx%d out of range", w, h)
	}
	s.Width, s.Height = int(w), int(h)
	if p.flag() { // vui_parameters_present_flag
		s.FrameRate = p.vuiFrameRate()
	}
	return s, nil
}

// spsParser wraps bitReader with a sticky error so the long field list reads straight.
type spsParser struct {
	r   *bitReader
	err error
}

func (p *spsParser) ue() uint32 {
	if p.err != nil {
		return 0
	}
	v, err := p.r.ue()
	p.err = err
	return v
}

func (p *spsParser) se() int32 {
	if p.err != nil {
		return 0
	}
	v, err := p.r.se()
	p.err = err
	return v
}

func (p *spsParser) flag() bool {
	if p.err != nil {
		return false
	}
	v, err := p.r.flag()
	p.err = err
	return v
}

func (p *spsParser) bits(n int) uint32 {
	if p.err != nil {
		return 0
	}
	v, err := p.r.bits(n)
	p.err = err
	return v
}

func (p *spsParser) skipScalingList(size int) {
	last, next := int32(8), int32(8)
	for range size {
		if next != 0 {
			next = (last + p.se() + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
}

// vuiFrameRate reads VUI up to timing_info and returns time_scale / (2 * num_units_in_tick),
// or 0 when absent or unreadable: the frame rate is a hint, never a reason to reject a stream.
func (p *spsParser) vuiFrameRate() float64 {
	if p.flag() { // aspect_ratio_info_present_flag
		if p.bits(8) == 255 { // Extended_SAR
			p.bits(32)
		}
	}
	if p.flag() { // overscan_info_present_flag
		p.flag()
	}
	if p.flag() { // video_signal_type_present_flag
		p.bits(4)
		if p.flag() {
			p.bits(24)
		}
	}
	if p.flag() { // chroma_loc_info_present_flag
		p.ue()
		p.ue()
	}
	if !p.flag() { // timing_info_present_flag
		return 0
	}
	units, scale := p.bits(32), p.bits(32)
	if p.err != nil || units == 0 {
		p.err = nil
		return 0
	}
	return float64(scale) / (2 * float64(units)) // not 2*units: uint32 overflow gives +Inf
}
