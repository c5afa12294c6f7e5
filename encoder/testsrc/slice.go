package testsrc

import "github.com/camerad/camerad/encoder/h264"

// geometry is the coded picture size.
type geometry struct {
	width, height int // displayed size in pixels (even)
	mbW, mbH      int // coded size in macroblocks
	levelIDC      uint8
}

// sliceEncoder turns pictures into slices. It holds the decoder's view of the reference
// picture (recon), so that every prediction it makes is the one the decoder will make, and
// the stream-level counters (frame_num, idr_pic_id). It is not safe for concurrent use.
type sliceEncoder struct {
	geo      geometry
	recon    picture // the decoded picture, at block resolution
	w        bitWriter
	frameNum uint32
	idrPicID uint32
	started  bool // a reference picture exists (the first picture must be an IDR)

	// coded marks the macroblocks the last picture coded (rather than skipped); inexact
	// counts its blocks whose reconstruction differs from the wanted picture. Tests read them.
	coded   []bool
	inexact int
}

func newSliceEncoder(g geometry) *sliceEncoder {
	return &sliceEncoder{
		geo:   g,
		recon: newPicture(g.mbW, g.mbH),
		coded: make([]bool, g.mbW*g.mbH),
	}
}

// encode writes one picture as a single slice NAL unit (RBSP, header byte included) into the
// encoder's bit writer and returns it. An IDR codes every macroblock; a P picture codes the
// macroblocks where want differs from prev and skips the rest (P_Skip with a zero motion
// vector copies the reference, which is the previous picture).
func (e *sliceEncoder) encode(want, prev *picture, idr bool) []byte {
	idr = idr || !e.started
	w := &e.w
	w.reset()
	if idr {
		e.frameNum = 0
		w.u(8, nalRefIdcHighest<<5|uint32(h264.NALIDR))
	} else {
		e.frameNum = (e.frameNum + 1) % (1 << log2MaxFrameNum)
		w.u(8, 2<<5|uint32(h264.NALSlice))
	}
	w.ue(0) // first_mb_in_slice
	if idr {
		w.ue(7) // slice_type: I, and so are all slices of the picture
	} else {
		w.ue(5) // P
	}
	w.ue(0) // pic_parameter_set_id
	w.u(log2MaxFrameNum, e.frameNum)
	if idr {
		w.ue(e.idrPicID)
		// Consecutive IDRs must differ in idr_pic_id (7.4.3).
		e.idrPicID = (e.idrPicID + 1) % 65536
	} else {
		w.flag(false) // num_ref_idx_active_override_flag
		w.flag(false) // ref_pic_list_modification_flag_l0
	}
	if idr {
		w.flag(false) // no_output_of_prior_pics_flag
		w.flag(false) // long_term_reference_flag
	} else {
		w.flag(false) // adaptive_ref_pic_marking_mode_flag: sliding window
	}
	w.se(0) // slice_qp_delta
	w.ue(1) // disable_deblocking_filter_idc: off

	e.inexact = 0
	if idr {
		for i := range e.coded {
			e.coded[i] = true
		}
	} else {
		want.changedMBs(prev, e.geo.mbW, e.coded)
	}
	skipRun := uint32(0)
	for mby := range e.geo.mbH {
		for mbx := range e.geo.mbW {
			if !e.coded[mby*e.geo.mbW+mbx] {
				skipRun++
				continue
			}
			if !idr {
				w.ue(skipRun)
				skipRun = 0
			}
			e.codeMB(want, mbx, mby, !idr)
		}
	}
	if skipRun > 0 {
		w.ue(skipRun)
	}
	w.trailing()
	e.started = true
	return w.bytes()
}

// codeMB writes one Intra16x16 macroblock (DC prediction, DC-only residual) for the wanted
// picture and updates the reconstruction.
func (e *sliceEncoder) codeMB(want *picture, mbx, mby int, inP bool) {
	w := &e.w
	bx, by := mbx*4, mby*4

	var target, rec [16]uint8
	var lumaLevels [16]int32
	for j := range 4 {
		for i := range 4 {
			target[i+4*j] = want.y.at(bx+i, by+j)
		}
	}
	if !lumaDC(e.lumaPred(mbx, mby), &target, &lumaLevels, &rec) {
		e.inexact++
	}
	for j := range 4 {
		for i := range 4 {
			e.recon.y.set(bx+i, by+j, rec[i+4*j])
		}
	}

	var chromaLevels [2][4]int32
	cbpChroma := uint32(0)
	for c, pl := range [2]*plane{&want.cb, &want.cr} {
		rp := &e.recon.cb
		if c == 1 {
			rp = &e.recon.cr
		}
		var pred [4]int32
		chromaPred(rp, mbx, mby, &pred)
		var ct, cr [4]uint8
		for k := range 4 {
			ct[k] = pl.at(mbx*2+k%2, mby*2+k/2)
		}
		if !chromaDC(&pred, &ct, &chromaLevels[c], &cr) {
			e.inexact++
		}
		for k := range 4 {
			rp.set(mbx*2+k%2, mby*2+k/2, cr[k])
			if chromaLevels[c][k] != 0 {
				cbpChroma = 1
			}
		}
	}

	// mb_type I_16x16_<pred 2 (DC)>_<cbpChroma>_0 is 1 + 2 + 4*cbpChroma (table 7-11); in a
	// P slice intra types follow the five P types.
	mbType := 3 + 4*cbpChroma
	if inP {
		mbType += 5
	}
	w.ue(mbType)
	w.ue(0) // intra_chroma_pred_mode: DC
	w.se(0) // mb_qp_delta
	var scan [16]int32
	for i, r := range zigzag4x4 {
		scan[i] = lumaLevels[r]
	}
	writeResidualBlock(w, scan[:], false)
	if cbpChroma != 0 {
		writeResidualBlock(w, chromaLevels[0][:], true)
		writeResidualBlock(w, chromaLevels[1][:], true)
	}
}

// lumaPred is Intra16x16 DC prediction (8.3.3, mode 2) from the reconstructed neighbours. In
// a single-slice picture the left and upper macroblocks are available unless at the edge;
// constrained_intra_pred is off, so skipped neighbours count too.
func (e *sliceEncoder) lumaPred(mbx, mby int) int32 {
	p := &e.recon.y
	bx, by := mbx*4, mby*4
	var top, left int32
	for k := range 4 {
		if mby > 0 {
			top += 4 * int32(p.at(bx+k, by-1)) // four samples per block
		}
		if mbx > 0 {
			left += 4 * int32(p.at(bx-1, by+k))
		}
	}
	switch {
	case mbx > 0 && mby > 0:
		return (top + left + 16) >> 5
	case mbx > 0:
		return (left + 8) >> 4
	case mby > 0:
		return (top + 8) >> 4
	default:
		return 128
	}
}

// chromaPred is intra chroma DC prediction (8.3.4.1-3) for the four 4x4 chroma blocks of a
// macroblock, in raster order. The upper-right block prefers the samples above it, the
// lower-left one those to its left; the other two average both when they can.
func chromaPred(p *plane, mbx, mby int, pred *[4]int32) {
	bx, by := mbx*2, mby*2
	hasTop, hasLeft := mby > 0, mbx > 0
	var top, left [2]int32 // sums of 4 samples above each block column / left of each row
	for k := range 2 {
		if hasTop {
			top[k] = 4 * int32(p.at(bx+k, by-1))
		}
		if hasLeft {
			left[k] = 4 * int32(p.at(bx-1, by+k))
		}
	}
	both := func(t, l int32) int32 {
		switch {
		case hasTop && hasLeft:
			return (t + l + 4) >> 3
		case hasLeft:
			return (l + 2) >> 2
		case hasTop:
			return (t + 2) >> 2
		default:
			return 128
		}
	}
	pred[0] = both(top[0], left[0])
	pred[3] = both(top[1], left[1])
	switch { // upper right
	case hasTop:
		pred[1] = (top[1] + 2) >> 2
	case hasLeft:
		pred[1] = (left[0] + 2) >> 2
	default:
		pred[1] = 128
	}
	switch { // lower left
	case hasLeft:
		pred[2] = (left[1] + 2) >> 2
	case hasTop:
		pred[2] = (top[0] + 2) >> 2
	default:
		pred[2] = 128
	}
}
