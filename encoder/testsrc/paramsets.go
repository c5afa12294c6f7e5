package testsrc

// Parameter sets. camerad's test stream is Constrained Baseline (profile_idc 66 with
// constraint_set0 and constraint_set1), one reference frame, picture order count type 2
// (output order is decoding order, so decoders need no reorder delay), deblocking disabled in
// the slices (the blocks are the picture; smoothing them would only cost CPU and change it).

const (
	profileBaseline  = 66
	constraintFlags  = 0xc0 // constraint_set0_flag | constraint_set1_flag: Constrained Baseline
	log2MaxFrameNum  = 4    // frame_num is 4 bits and wraps at 16
	nalRefIdcHighest = 3
)

// level is one row of table A-1: the limits a stream must stay within to claim level_idc.
type level struct {
	idc        uint8
	maxMBPS    int // macroblocks per second
	maxFS      int // frame size in macroblocks
	maxBRkbits int // Baseline bit rate, kbit/s
}

var levels = [...]level{
	{10, 1485, 99, 64},
	{11, 3000, 396, 192},
	{12, 6000, 396, 384},
	{13, 11880, 396, 768},
	{20, 11880, 396, 2000},
	{21, 19800, 792, 4000},
	{22, 20250, 1620, 4000},
	{30, 40500, 1620, 10000},
	{31, 108000, 3600, 14000},
	{32, 216000, 5120, 20000},
	{40, 245760, 8192, 20000},
	{41, 245760, 8192, 50000},
	{42, 522240, 8704, 50000},
	{50, 589824, 22080, 135000},
	{51, 983040, 36864, 240000},
	{52, 2073600, 36864, 240000},
}

// minLevelIDC is the lowest level the stream claims: level 2's 2 Mbit/s is above what the
// test card costs at any size and rate, while the levels below it (64 to 768 kbit/s) are not
// always, even for small pictures with a large clock.
const minLevelIDC = 20

// pickLevel returns the lowest level from minLevelIDC up whose frame size, macroblock rate
// and frame dimensions (A.3.1: each side at most sqrt(8 * MaxFS) macroblocks) admit the
// stream, and false when even the highest does not.
func pickLevel(mbW, mbH, fps int) (uint8, bool) {
	fs := mbW * mbH
	for _, l := range levels {
		if l.idc >= minLevelIDC && fs <= l.maxFS && fs*fps <= l.maxMBPS && mbW*mbW <= 8*l.maxFS && mbH*mbH <= 8*l.maxFS {
			return l.idc, true
		}
	}
	return 0, false
}

// writeSPS writes a sequence parameter set NAL unit's RBSP (with its header byte).
func writeSPS(w *bitWriter, g geometry, fps int) {
	w.reset()
	w.u(8, nalRefIdcHighest<<5|7)
	w.u(8, profileBaseline)
	w.u(8, constraintFlags)
	w.u(8, uint32(g.levelIDC))
	w.ue(0) // seq_parameter_set_id
	w.ue(log2MaxFrameNum - 4)
	w.ue(2)       // pic_order_cnt_type
	w.ue(1)       // max_num_ref_frames
	w.flag(false) // gaps_in_frame_num_value_allowed_flag
	w.ue(uint32(g.mbW - 1))
	w.ue(uint32(g.mbH - 1))
	w.flag(true) // frame_mbs_only_flag
	w.flag(true) // direct_8x8_inference_flag
	cropR, cropB := g.mbW*16-g.width, g.mbH*16-g.height
	w.flag(cropR != 0 || cropB != 0)
	if cropR != 0 || cropB != 0 {
		// Crop units are 2 samples in 4:2:0, which is why sizes must be even.
		w.ue(0)
		w.ue(uint32(cropR / 2))
		w.ue(0)
		w.ue(uint32(cropB / 2))
	}
	w.flag(true) // vui_parameters_present_flag
	writeVUI(w, fps)
	w.trailing()
}

func writeVUI(w *bitWriter, fps int) {
	w.flag(true)           // aspect_ratio_info_present_flag
	w.u(8, 1)              // aspect_ratio_idc: 1:1 (square samples)
	w.flag(false)          // overscan_info_present_flag
	w.flag(false)          // video_signal_type_present_flag: limited range, unspecified primaries
	w.flag(false)          // chroma_loc_info_present_flag
	w.flag(true)           // timing_info_present_flag
	w.u(32, 1)             // num_units_in_tick
	w.u(32, uint32(2*fps)) // time_scale: two ticks per frame (one per field)
	w.flag(true)           // fixed_frame_rate_flag
	w.flag(false)          // nal_hrd_parameters_present_flag
	w.flag(false)          // vcl_hrd_parameters_present_flag
	w.flag(false)          // pic_struct_present_flag
	// bitstream_restriction lets decoders (ffmpeg, browsers) output each picture as soon as
	// it is decoded instead of holding frames for a reorder that never happens.
	w.flag(true)
	w.flag(true) // motion_vectors_over_pic_boundaries_flag
	w.ue(0)      // max_bytes_per_pic_denom: no limit
	w.ue(0)      // max_bits_per_mb_denom: no limit
	w.ue(1)      // log2_max_mv_length_horizontal: every motion vector is zero
	w.ue(1)      // log2_max_mv_length_vertical
	w.ue(0)      // max_num_reorder_frames
	w.ue(1)      // max_dec_frame_buffering
}

// writePPS writes the picture parameter set NAL unit's RBSP (with its header byte).
func writePPS(w *bitWriter) {
	w.reset()
	w.u(8, nalRefIdcHighest<<5|8)
	w.ue(0)       // pic_parameter_set_id
	w.ue(0)       // seq_parameter_set_id
	w.flag(false) // entropy_coding_mode_flag: CAVLC
	w.flag(false) // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)       // num_slice_groups_minus1
	w.ue(0)       // num_ref_idx_l0_default_active_minus1
	w.ue(0)       // num_ref_idx_l1_default_active_minus1
	w.flag(false) // weighted_pred_flag
	w.u(2, 0)     // weighted_bipred_idc
	w.se(qp - 26) // pic_init_qp_minus26: slices and macroblocks never change it
	w.se(0)       // pic_init_qs_minus26
	w.se(0)       // chroma_qp_index_offset
	w.flag(true)  // deblocking_filter_control_present_flag: slices turn the filter off
	w.flag(false) // constrained_intra_pred_flag
	w.flag(false) // redundant_pic_cnt_present_flag
	w.trailing()
}
