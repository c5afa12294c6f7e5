package testsrc

// bitWriter appends an RBSP bit by bit, most significant bit first. It owns one byte slice
// that the encoder reuses from frame to frame, so writing a picture allocates nothing once
// the slice has grown to the largest picture seen.
type bitWriter struct {
	buf  []byte
	acc  uint64 // pending bits, right-aligned
	nacc uint   // number of pending bits in acc (< 8 between calls)
}

func (w *bitWriter) reset() {
	w.buf, w.acc, w.nacc = w.buf[:0], 0, 0
}

// u writes the n low bits of v (n <= 32).
func (w *bitWriter) u(n uint, v uint32) {
	w.acc = w.acc<<n | uint64(v)&(1<<n-1)
	w.nacc += n
	for w.nacc >= 8 {
		w.nacc -= 8
		w.buf = append(w.buf, byte(w.acc>>w.nacc))
	}
	w.acc &= 1<<w.nacc - 1
}

func (w *bitWriter) flag(b bool) {
	if b {
		w.u(1, 1)
	} else {
		w.u(1, 0)
	}
}

// ue writes an unsigned Exp-Golomb code: v+1 in binary, preceded by as many zeros as it has
// bits after the leading one.
func (w *bitWriter) ue(v uint32) {
	x := uint64(v) + 1
	n := uint(0)
	for x>>(n+1) != 0 {
		n++
	}
	if n > 0 {
		w.u(n, 0)
	}
	// x has n+1 significant bits; n+1 <= 33, so split the write.
	if n+1 > 32 {
		w.u(1, uint32(x>>32))
		w.u(32, uint32(x))
		return
	}
	w.u(n+1, uint32(x))
}

// se writes a signed Exp-Golomb code (0, 1, -1, 2, -2, ... map to 0, 1, 2, 3, 4, ...).
func (w *bitWriter) se(v int32) {
	if v > 0 {
		w.ue(uint32(2*int64(v) - 1))
	} else {
		w.ue(uint32(-2 * int64(v)))
	}
}

// vlc writes one table code.
func (w *bitWriter) vlc(c code) { w.u(uint(c.len), uint32(c.bits)) }

// trailing writes rbsp_trailing_bits: a one, then zeros up to the byte boundary.
func (w *bitWriter) trailing() {
	w.u(1, 1)
	if w.nacc > 0 {
		w.u(8-w.nacc, 0)
	}
}

// bytes returns the written RBSP; valid after trailing.
func (w *bitWriter) bytes() []byte { return w.buf }
