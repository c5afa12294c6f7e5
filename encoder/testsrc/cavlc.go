package testsrc

// maxLevel bounds coefficient magnitudes so that every level fits the escape code Baseline
// allows (level_prefix 15 with a 12-bit suffix, 9.2.2.1): with suffixLength 0 that reaches
// 2063, so 2047 leaves margin for the trailing-ones adjustment.
const maxLevel = 2047

// writeResidualBlock writes residual_block_cavlc (7.3.5.3.2) for coeffs in scan order. chromaDC
// selects the nC == -1 tables (4 coefficients); otherwise the block is a luma block with
// nC == 0 and up to 16 coefficients. It returns TotalCoeff.
func writeResidualBlock(w *bitWriter, coeffs []int32, chromaDC bool) int {
	// Nonzero levels from the highest frequency down, and the zero runs before each.
	var levels, runs [16]int32
	total := 0
	lastNZ := -1
	for i := len(coeffs) - 1; i >= 0; i-- {
		if coeffs[i] != 0 {
			if lastNZ < 0 {
				lastNZ = i
			}
			levels[total] = coeffs[i]
			total++
		}
	}
	trailingOnes := 0
	for i := 0; i < total && trailingOnes < 3; i++ {
		if levels[i] != 1 && levels[i] != -1 {
			break
		}
		trailingOnes++
	}
	if chromaDC {
		w.vlc(coeffTokenChromaDC[total][trailingOnes])
	} else {
		w.vlc(coeffTokenNC0[total][trailingOnes])
	}
	if total == 0 {
		return 0
	}

	suffixLength := uint(0)
	if total > 10 && trailingOnes < 3 {
		suffixLength = 1
	}
	for i := 0; i < total; i++ {
		l := levels[i]
		if i < trailingOnes {
			w.flag(l < 0)
			continue
		}
		writeLevel(w, l, suffixLength, i == trailingOnes && trailingOnes < 3)
		if suffixLength == 0 {
			suffixLength = 1
		}
		if abs32(l) > 3<<(suffixLength-1) && suffixLength < 6 {
			suffixLength++
		}
	}

	totalZeros := lastNZ + 1 - total
	if total < len(coeffs) {
		if chromaDC {
			w.vlc(totalZerosChromaDC[total][totalZeros])
		} else {
			w.vlc(totalZeros4x4[total][totalZeros])
		}
	}
	// run_before for every coefficient but the lowest-frequency one, while zeros remain.
	n := 0
	run := int32(0)
	for i := lastNZ - 1; i >= 0 && n < total; i-- {
		if coeffs[i] == 0 {
			run++
			continue
		}
		runs[n] = run
		n++
		run = 0
	}
	zerosLeft := totalZeros
	for i := 0; i < total-1 && zerosLeft > 0; i++ {
		w.vlc(runBefore[min(zerosLeft, 7)][runs[i]])
		zerosLeft -= int(runs[i])
	}
	return total
}

// writeLevel writes level_prefix and level_suffix for one level (the inverse of 9.2.2.1).
// oneBias is set for the first level after fewer than three trailing ones: its magnitude is
// known to exceed one, so the code space starts at 2.
func writeLevel(w *bitWriter, level int32, suffixLength uint, oneBias bool) {
	var levelCode int32
	if level > 0 {
		levelCode = 2*level - 2
	} else {
		levelCode = -2*level - 1
	}
	if oneBias {
		levelCode -= 2
	}
	var prefix uint
	var suffix int32
	var suffixSize uint
	switch {
	case suffixLength == 0 && levelCode < 14:
		prefix = uint(levelCode)
	case suffixLength == 0 && levelCode < 30:
		prefix, suffix, suffixSize = 14, levelCode-14, 4
	case suffixLength == 0:
		prefix, suffix, suffixSize = 15, levelCode-30, 12
	case levelCode < 15<<suffixLength:
		prefix = uint(levelCode >> suffixLength)
		suffix, suffixSize = levelCode&(1<<suffixLength-1), suffixLength
	default:
		prefix, suffix, suffixSize = 15, levelCode-15<<suffixLength, 12
	}
	// prefix zeros then a one (prefix <= 15 by construction).
	w.u(prefix+1, 1)
	if suffixSize > 0 {
		w.u(suffixSize, uint32(suffix))
	}
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}
