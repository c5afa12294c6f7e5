package h264

// StartsAccessUnit reports whether nalu begins a new access unit given that the unit being
// assembled already holds a picture (sawVCL). It follows H.264 7.4.1.2.3 in the form that
// matters for camera streams: an AUD, SPS, PPS or SEI after a slice opens the next unit, and
// so does a slice whose first_mb_in_slice is 0 (the first slice of the next picture).
func StartsAccessUnit(nalu []byte, sawVCL bool) bool {
	if !sawVCL {
		return false
	}
	switch t := TypeOf(nalu); {
	case t == NALAUD, t == NALSPS, t == NALPPS, t == NALSEI:
		return true
	case t.IsVCL():
		// first_mb_in_slice is ue(v) right after the header byte; ue(v) == 0 is the single
		// bit '1'.
		return len(nalu) > 1 && nalu[1]&0x80 != 0
	default:
		return false
	}
}

// IsKeyframe reports whether any of nalus is an IDR slice.
func IsKeyframe(nalus [][]byte) bool {
	for _, n := range nalus {
		if TypeOf(n) == NALIDR {
			return true
		}
	}
	return false
}
