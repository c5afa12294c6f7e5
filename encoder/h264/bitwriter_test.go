package h264

// bitWriter writes RBSP bits MSB first; tests use it to hand-make parameter sets whose every
// field is known.
type bitWriter struct {
	b    []byte
	nbit int // bits used in the last byte
}

func (w *bitWriter) bit(v uint32) {
	if w.nbit == 0 {
		w.b = append(w.b, 0)
	}
	if v != 0 {
		w.b[len(w.b)-1] |= 0x80 >> w.nbit
	}
	w.nbit = (w.nbit + 1) % 8
}

func (w *bitWriter) bits(n int, v uint32) {
	for i := n - 1; i >= 0; i-- {
		w.bit(v >> i & 1)
	}
}

func (w *bitWriter) flag(v bool) {
	if v {
		w.bit(1)
	} else {
		w.bit(0)
	}
}

func (w *bitWriter) ue(v uint32) {
	x := uint64(v) + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	for range n {
		w.bit(0)
	}
	for i := n; i >= 0; i-- {
		w.bit(uint32(x >> i & 1))
	}
}

func (w *bitWriter) se(v int32) {
	if v > 0 {
		w.ue(uint32(2*v - 1))
	} else {
		w.ue(uint32(-2 * v))
	}
}

// trailing writes rbsp_trailing_bits.
func (w *bitWriter) trailing() {
	w.bit(1)
	for w.nbit != 0 {
		w.bit(0)
	}
}

// spsFields are the SPS syntax elements the hand-made test SPSs vary.
type spsFields struct {
	profile, constraints, level uint8
	id                          uint32
	chromaFormat                uint32 // only written for high profiles
	extraBitDepth               uint32 // bit depth minus 8, luma and chroma; high profiles only
	separatePlanes              bool
	scalingMatrix               bool
	pocType                     uint32
	widthMBs, heightMapUnits    uint32
	frameMBsOnly                bool
	crop                        [4]uint32 // left, right, top, bottom
	vui                         bool
	extendedSAR                 bool
	videoSignal                 bool
	timing                      bool
	unitsInTick, timeScale      uint32
}

// makeSPS encodes f as an SPS NAL unit, with emulation prevention, as it would be on the wire.
func makeSPS(f spsFields) []byte {
	var w bitWriter
	w.bits(8, uint32(f.profile))
	w.bits(8, uint32(f.constraints))
	w.bits(8, uint32(f.level))
	w.ue(f.id)
	if hasChromaInfo(f.profile) {
		w.ue(f.chromaFormat)
		if f.chromaFormat == 3 {
			w.flag(f.separatePlanes)
		}
		w.ue(f.extraBitDepth) // bit_depth_luma_minus8
		w.ue(f.extraBitDepth) // bit_depth_chroma_minus8
		w.flag(false)         // qpprime_y_zero_transform_bypass_flag
		w.flag(f.scalingMatrix)
		if f.scalingMatrix {
			lists := 8
			if f.chromaFormat == 3 {
				lists = 12
			}
			for i := range lists {
				present := i%2 == 0
				w.flag(present)
				if present {
					size := 64
					if i < 6 {
						size = 16
					}
					for j := range size {
						w.se(int32(j%5) - 2) // delta_scale
					}
				}
			}
		}
	}
	w.ue(4) // log2_max_frame_num_minus4
	w.ue(f.pocType)
	switch f.pocType {
	case 0:
		w.ue(4)
	case 1:
		w.flag(true)
		w.se(-3)
		w.se(7)
		w.ue(3)
		w.se(1)
		w.se(-1)
		w.se(2)
	}
	w.ue(1)       // max_num_ref_frames
	w.flag(false) // gaps_in_frame_num_value_allowed_flag
	w.ue(f.widthMBs - 1)
	w.ue(f.heightMapUnits - 1)
	w.flag(f.frameMBsOnly)
	if !f.frameMBsOnly {
		w.flag(true) // mb_adaptive_frame_field_flag
	}
	w.flag(true) // direct_8x8_inference_flag
	cropping := f.crop != [4]uint32{}
	w.flag(cropping)
	if cropping {
		for _, c := range f.crop {
			w.ue(c)
		}
	}
	w.flag(f.vui)
	if f.vui {
		w.flag(true) // aspect_ratio_info_present_flag
		if f.extendedSAR {
			w.bits(8, 255)
			w.bits(16, 4)
			w.bits(16, 3)
		} else {
			w.bits(8, 1)
		}
		w.flag(false) // overscan_info_present_flag
		w.flag(f.videoSignal)
		if f.videoSignal {
			w.bits(3, 5)
			w.flag(true)
			w.flag(true) // colour_description_present_flag
			w.bits(24, 0x010101)
		}
		w.flag(true) // chroma_loc_info_present_flag
		w.ue(1)
		w.ue(2)
		w.flag(f.timing)
		if f.timing {
			w.bits(32, f.unitsInTick)
			w.bits(32, f.timeScale)
			w.flag(true) // fixed_frame_rate_flag
		}
		w.flag(false) // nal_hrd_parameters_present_flag
		w.flag(false) // vcl_hrd_parameters_present_flag
		w.flag(false) // pic_struct_present_flag
		w.flag(false) // bitstream_restriction_flag
	}
	w.trailing()
	return AppendEmulationPrevention([]byte{0x67}, w.b)
}
