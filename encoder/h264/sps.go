package h264

import (
	"errors"
	"fmt"
)

// SPS holds the sequence parameter set fields a server needs: the profile and level for SDP's
// profile-level-id, the picture size, the frame rate when the encoder wrote timing info, and
// what it takes to read a slice's picture order count (see DisplayOrder).
type SPS struct {
	ProfileIDC      uint8
	ConstraintFlags uint8 // constraint_set0..5 flags, as the byte that follows profile_idc
	LevelIDC        uint8
	ID              uint32
	Width, Height   int     // displayed size, after cropping
	FrameRate       float64 // 0 when the SPS has no VUI timing info

	// ChromaFormatIDC (1 = 4:2:0) and the bit depths, which only the high profiles' SPS states
	// (1 and 8 otherwise); MP4's avcC repeats them for those profiles.
	ChromaFormatIDC              uint8
	BitDepthLuma, BitDepthChroma uint8
	SeparateColourPlanes         bool
	Log2MaxFrameNum              uint8
	POCType                      uint8
	Log2MaxPOCLsb                uint8 // POC type 0 only
	FrameMBsOnly                 bool
	// MaxNumReorderFrames is how many frames may come before another in decode order and
	// after it in display order (B-frames); -1 when the VUI does not say.
	MaxNumReorderFrames int
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
	s := SPS{ProfileIDC: nalu[1], ConstraintFlags: nalu[2], LevelIDC: nalu[3], MaxNumReorderFrames: -1}
	p := spsParser{r: newBitReader(nalu[4:])}
	s.ID = p.ue()
	chromaFormat := uint32(1)
	separatePlanes := false
	bitDepthLuma, bitDepthChroma := uint32(8), uint32(8)
	if hasChromaInfo(s.ProfileIDC) {
		chromaFormat = p.ue()
		if chromaFormat == 3 {
			separatePlanes = p.flag()
		}
		bitDepthLuma, bitDepthChroma = 8+p.ue(), 8+p.ue()
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
	s.SeparateColourPlanes = separatePlanes
	s.ChromaFormatIDC, s.BitDepthLuma, s.BitDepthChroma = uint8(chromaFormat), uint8(bitDepthLuma), uint8(bitDepthChroma)
	s.Log2MaxFrameNum = uint8(min(p.ue(), 12) + 4) // log2_max_frame_num_minus4 is at most 12
	pocType := p.ue()
	if pocType > 2 {
		return SPS{}, fmt.Errorf("h264: SPS pic_order_cnt_type %d out of range", pocType)
	}
	s.POCType = uint8(pocType)
	switch pocType {
	case 0:
		s.Log2MaxPOCLsb = uint8(min(p.ue(), 12) + 4) // log2_max_pic_order_cnt_lsb_minus4
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
	s.FrameMBsOnly = frameMBsOnly
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
		s.FrameRate, s.MaxNumReorderFrames = p.vui()
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

// vui reads the VUI (E.1.1) for the frame rate, time_scale / (2 * num_units_in_tick), and
// max_num_reorder_frames. Each is a hint, never a reason to reject a stream: what is absent or
// unreadable is 0 (frame rate) or -1 (reorder frames).
func (p *spsParser) vui() (fps float64, reorder int) {
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
	reorder = -1
	if p.flag() { // timing_info_present_flag
		units, scale := p.bits(32), p.bits(32)
		p.flag() // fixed_frame_rate_flag
		if p.err == nil && units != 0 {
			fps = float64(scale) / (2 * float64(units)) // not 2*units: uint32 overflow gives +Inf
		}
	}
	nalHRD := p.flag()
	if nalHRD {
		p.skipHRD()
	}
	vclHRD := p.flag()
	if vclHRD {
		p.skipHRD()
	}
	if nalHRD || vclHRD {
		p.flag() // low_delay_hrd_flag
	}
	p.flag()      // pic_struct_present_flag
	if p.flag() { // bitstream_restriction_flag
		p.flag() // motion_vectors_over_pic_boundaries_flag
		p.ue()   // max_bytes_per_pic_denom
		p.ue()   // max_bits_per_mb_denom
		p.ue()   // log2_max_mv_length_horizontal
		p.ue()   // log2_max_mv_length_vertical
		if n := p.ue(); p.err == nil && n <= 16 {
			reorder = int(n)
		}
	}
	if p.err != nil {
		p.err = nil
		return fps, -1
	}
	return fps, reorder
}

// skipHRD reads past hrd_parameters (E.1.2).
func (p *spsParser) skipHRD() {
	n := p.ue() + 1 // cpb_cnt_minus1
	if n > 32 {
		p.err = errors.New("h264: HRD cpb_cnt out of range")
		return
	}
	p.bits(8) // bit_rate_scale, cpb_size_scale
	for range n {
		p.ue()   // bit_rate_value_minus1
		p.ue()   // cpb_size_value_minus1
		p.flag() // cbr_flag
	}
	p.bits(20) // four 5-bit lengths
}
