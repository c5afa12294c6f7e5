package h264

// DisplayOrder follows the picture order count (H.264 8.2.1) of a stream's access units, in
// decode order, to say where each is shown. An encoder that uses B-frames sends a frame before
// frames that are shown ahead of it, while RTP timestamps are display times: a source that
// only knows when each unit arrived (a file, a pipe) must move each one to its place. Without
// B-frames decode order is display order and nothing moves.
//
// Only POC type 0 can reorder in practice (type 2 cannot, type 1 is not met in cameras and is
// taken as not reordering). Fields, and memory_management_control_operation 5, are not
// followed: camera streams are progressive.
type DisplayOrder struct {
	prevMsb, prevLsb int64 // 8.2.1.1: of the last reference picture
	idrPOC           int64
	decoded          int  // access units since the last IDR
	oddSteps         bool // the stream counts one POC unit per frame, not two
	delay            int  // frames of reordering the stream declares or has shown
	scratch          []byte
}

// NewDisplayOrder returns a DisplayOrder whose reorder delay starts at delay frames (it still
// grows if the stream shows more). A whole clip can be read once to learn its Delay, then
// again with it, so that its first units are placed like the rest.
func NewDisplayOrder(delay int) *DisplayOrder { return &DisplayOrder{delay: max(delay, 0)} }

// Delay is the reorder delay, in frames, that the stream has declared or shown so far.
func (o *DisplayOrder) Delay() int { return o.delay }

// Next takes the next access unit (its NAL units) with the SPS in force, and returns how many
// frame periods after its decode time it is shown: its display position minus its decode
// position since the last IDR, plus the stream's reorder delay, so that it is never negative.
// Add Next × period to a unit's decode time to get its presentation time. A stream without
// reordering gets 0 for every unit; one with it gets a constant delay on top of each unit's
// move, which the VUI's max_num_reorder_frames sets from the start (else the first B-frames
// do, and the units before them are a frame or two off).
func (o *DisplayOrder) Next(nalus [][]byte, sps SPS) int {
	if sps.POCType != 0 {
		*o = DisplayOrder{scratch: o.scratch, delay: o.delay}
		return 0
	}
	var slice []byte
	for _, n := range nalus {
		if t := TypeOf(n); t == NALSlice || t == NALIDR {
			slice = n
			break
		}
	}
	if slice == nil {
		return o.delay
	}
	lsb, ok := o.pocLsb(slice, sps)
	if !ok {
		return o.delay
	}
	idr := TypeOf(slice) == NALIDR
	if idr {
		o.prevMsb, o.prevLsb, o.decoded = 0, 0, 0
	}
	maxLsb := int64(1) << sps.Log2MaxPOCLsb
	msb := o.prevMsb
	switch {
	case lsb < o.prevLsb && o.prevLsb-lsb >= maxLsb/2:
		msb += maxLsb
	case lsb > o.prevLsb && lsb-o.prevLsb > maxLsb/2:
		msb -= maxLsb
	}
	poc := msb + lsb
	if slice[0]&0x60 != 0 { // nal_ref_idc: a reference picture
		o.prevMsb, o.prevLsb = msb, lsb
	}
	if idr {
		o.idrPOC = poc
	}
	rel := poc - o.idrPOC
	if rel%2 != 0 {
		o.oddSteps = true
	}
	shown := rel
	if !o.oddSteps {
		shown /= 2
	}
	decoded := o.decoded
	o.decoded++
	move := shown - int64(decoded)
	if move < -maxReorder || move > 2*maxReorder {
		// More than a decoded picture buffer can hold: a corrupt or misread count. The unit
		// keeps its turn rather than throw the stream's timestamps far off.
		return o.delay
	}
	o.delay = max(o.delay, sps.MaxNumReorderFrames, int(-move))
	if o.delay == 0 {
		return 0
	}
	return max(int(move)+o.delay, 0)
}

// maxReorder is the most frames a picture can be shown before or after its decode position
// in a conforming stream: the decoded picture buffer holds at most 16 frames (A.3.1).
const maxReorder = 16

// pocLsb reads pic_order_cnt_lsb from a slice header (7.3.3).
func (o *DisplayOrder) pocLsb(slice []byte, sps SPS) (int64, bool) {
	// The fields before it take a few bytes; 64 leave room for the longest Exp-Golomb codes.
	o.scratch = RemoveEmulationPrevention(o.scratch[:0], slice[1:min(len(slice), 64)])
	p := spsParser{r: newBitReader(o.scratch)}
	p.ue() // first_mb_in_slice
	p.ue() // slice_type
	p.ue() // pic_parameter_set_id
	if sps.SeparateColourPlanes {
		p.bits(2) // colour_plane_id
	}
	p.bits(int(sps.Log2MaxFrameNum))   // frame_num
	if !sps.FrameMBsOnly && p.flag() { // field_pic_flag
		p.flag() // bottom_field_flag
	}
	if TypeOf(slice) == NALIDR {
		p.ue() // idr_pic_id
	}
	lsb := p.bits(int(sps.Log2MaxPOCLsb))
	return int64(lsb), p.err == nil
}
