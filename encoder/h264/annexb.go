package h264

// ForEachNALU calls fn for every NAL unit in an Annex-B byte stream (start codes 00 00 01 or
// 00 00 00 01), without copying: each nalu aliases b. Leading bytes before the first start
// code are ignored, as are empty units. Trailing zero bytes belong to the next start code
// (trailing_zero_8bits) and are trimmed.
func ForEachNALU(b []byte, fn func(nalu []byte)) {
	start := -1
	i := 0
	for i+2 < len(b) {
		// Fast skip: a start code has b[i+2] == 1 and two zeros before it.
		if b[i+2] > 1 {
			i += 3
			continue
		}
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				emit(b[start:i], fn)
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 {
		emit(b[start:], fn)
	}
}

func emit(nalu []byte, fn func([]byte)) {
	for len(nalu) > 0 && nalu[len(nalu)-1] == 0 {
		nalu = nalu[:len(nalu)-1]
	}
	if len(nalu) > 0 {
		fn(nalu)
	}
}

// SplitAnnexB returns the NAL units of b as sub-slices (a convenience for tests and setup
// paths; the media path uses ForEachNALU).
func SplitAnnexB(b []byte) [][]byte {
	var out [][]byte
	ForEachNALU(b, func(n []byte) { out = append(out, n) })
	return out
}

// AppendAnnexB appends nalus to dst, each behind a 4-byte start code.
func AppendAnnexB(dst []byte, nalus ...[]byte) []byte {
	for _, n := range nalus {
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, n...)
	}
	return dst
}
