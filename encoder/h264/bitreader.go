package h264

import "errors"

var errShortRBSP = errors.New("h264: truncated RBSP")

// bitReader reads RBSP bits, skipping emulation-prevention bytes (00 00 03) on the fly so the
// caller can hand it a NAL unit as it appears on the wire.
type bitReader struct {
	b     []byte
	pos   int // byte index of the next byte to load
	cur   byte
	left  int // bits left in cur
	zeros int // consecutive zero bytes loaded, for emulation prevention
}

func newBitReader(payload []byte) *bitReader { return &bitReader{b: payload} }

func (r *bitReader) bit() (uint32, error) {
	if r.left == 0 {
		if r.pos >= len(r.b) {
			return 0, errShortRBSP
		}
		c := r.b[r.pos]
		r.pos++
		if r.zeros >= 2 && c == 3 {
			if r.pos >= len(r.b) {
				return 0, errShortRBSP
			}
			c = r.b[r.pos]
			r.pos++
			r.zeros = 0
		}
		if c == 0 {
			r.zeros++
		} else {
			r.zeros = 0
		}
		r.cur, r.left = c, 8
	}
	r.left--
	return uint32(r.cur>>r.left) & 1, nil
}

func (r *bitReader) bits(n int) (uint32, error) {
	var v uint32
	for range n {
		b, err := r.bit()
		if err != nil {
			return 0, err
		}
		v = v<<1 | b
	}
	return v, nil
}

func (r *bitReader) flag() (bool, error) {
	b, err := r.bit()
	return b == 1, err
}

// ue reads an unsigned Exp-Golomb code.
func (r *bitReader) ue() (uint32, error) {
	zeros := 0
	for {
		b, err := r.bit()
		if err != nil {
			return 0, err
		}
		if b == 1 {
			break
		}
		zeros++
		if zeros > 31 {
			return 0, errors.New("h264: Exp-Golomb code too long")
		}
	}
	rest, err := r.bits(zeros)
	if err != nil {
		return 0, err
	}
	return (1<<zeros - 1) + rest, nil
}

// se reads a signed Exp-Golomb code.
func (r *bitReader) se() (int32, error) {
	k, err := r.ue()
	if err != nil {
		return 0, err
	}
	if k&1 == 1 {
		return int32((k + 1) / 2), nil
	}
	return -int32(k / 2), nil
}
