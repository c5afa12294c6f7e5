package testsrc

// Every macroblock camerad writes is Intra16x16 with DC prediction and DC-only residual: the
// luma DC levels go through the 4x4 Hadamard transform, the chroma DC levels through the
// 2x2 one, and no AC coefficient is ever sent. Such a macroblock reconstructs to a constant
// value in each 4x4 luma block (and each 4x4 chroma block), which is exactly the resolution
// the test picture is drawn at. This file finds the levels for a wanted picture and computes
// the reconstruction the decoder will produce, bit for bit (H.264 8.5.10-8.5.12).

// qp is the quantisation parameter of every macroblock (luma and chroma: below 30 they are
// equal). 12 is the finest whose levels still fit Baseline's escape code for the largest step
// (0 to 255 in a flat macroblock). Fine quantisation is what makes the picture exact: one
// level unit moves a block by 10/64 of a grey level, so each block has a window about six
// levels wide that reproduces it, and the level search nearly always finds levels that put
// all 16 blocks of a macroblock inside their windows at once. Coarser steps would save a few
// bits per changed macroblock and lose that.
const qp = 12

// levelScale4x4 is LevelScale4x4(qp%6, 0, 0) with the flat weight matrix: 16 * normAdjust.
var levelScale4x4 = [6]int32{160, 176, 208, 224, 256, 288}[qp%6]

// zigzag4x4 maps scan position to raster position (u + 4v) in a 4x4 block (table 8-13).
var zigzag4x4 = [16]int{0, 1, 4, 8, 5, 2, 3, 6, 9, 12, 13, 10, 7, 11, 14, 15}

// lumaDCScale is the Intra16x16 DC scaling (8.5.10, the qP < 36 form) of one inverse-Hadamard
// output f. The DC-only inverse 4x4 transform then adds (d + 32) >> 6 to every sample of
// the block.
func lumaDCScale(f int32) int32 {
	return (f*levelScale4x4 + 1<<(5-qp/6)) >> (6 - qp/6)
}

// chromaDCScale is lumaDCScale for chroma DC (8.5.11.2, 4:2:0).
func chromaDCScale(f int32) int32 {
	return ((f * levelScale4x4) << (qp / 6)) >> 5
}

// hadamard4 computes H*in*H for the 4x4 Hadamard matrix H (symmetric), arrays in raster order.
// It is both the forward transform used to find levels and the decoder's inverse one.
func hadamard4(in, out *[16]int32) {
	var tmp [16]int32
	for x := range 4 { // columns
		a0, a1, a2, a3 := in[x], in[x+4], in[x+8], in[x+12]
		tmp[x] = a0 + a1 + a2 + a3
		tmp[x+4] = a0 + a1 - a2 - a3
		tmp[x+8] = a0 - a1 - a2 + a3
		tmp[x+12] = a0 - a1 + a2 - a3
	}
	for y := range 4 { // rows
		r := tmp[4*y : 4*y+4]
		a0, a1, a2, a3 := r[0], r[1], r[2], r[3]
		out[4*y] = a0 + a1 + a2 + a3
		out[4*y+1] = a0 + a1 - a2 - a3
		out[4*y+2] = a0 - a1 - a2 + a3
		out[4*y+3] = a0 - a1 + a2 - a3
	}
}

// hadamard2 is hadamard4 for the 2x2 chroma DC matrix.
func hadamard2(in, out *[4]int32) {
	a, b, c, d := in[0], in[1], in[2], in[3]
	out[0] = a + b + c + d
	out[1] = a - b + c - d
	out[2] = a + b - c - d
	out[3] = a - b - c + d
}

func clip255(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// divRound divides rounding half away from zero.
func divRound(num, den int32) int32 {
	if num >= 0 {
		return (num + den/2) / den
	}
	return -((-num + den/2) / den)
}

func clampLevel(v int32) int32 { return max(-maxLevel, min(maxLevel, v)) }

// maxRefineSteps bounds the search for an exact reconstruction; a block that is not exact by
// then keeps its closest approximation (the decoder sees the same; only the picture differs
// from the drawing by a grey level or two).
const maxRefineSteps = 16

// dcWindow is the range of scaled DC values d for which a block reconstructs to target from
// pred: the inverse transform adds (d + 32) >> 6, then the sum is clipped to 0..255, so the
// window is 64 wide and open-ended at the clip limits.
func dcWindow(pred int32, target uint8) (lo, hi int32) {
	t := int32(target) - pred
	lo, hi = 64*t-32, 64*t+31
	if target == 0 {
		lo = -1 << 30
	}
	if target == 255 {
		hi = 1 << 30
	}
	return lo, hi
}

// outside is how far d lies outside [lo, hi]; zero inside.
func outside(d, lo, hi int32) int32 {
	if d < lo {
		return lo - d
	}
	if d > hi {
		return d - hi
	}
	return 0
}

// lumaDC chooses the 16 Intra16x16 DC levels (raster order) that bring the uniform prediction
// pred closest to target (one value per 4x4 block, raster order) and writes the decoder's
// reconstruction to rec. It reports whether rec equals target.
//
// The ideal levels are a scaled forward Hadamard transform of the wanted offsets; rounding
// them to integers can push a block out of its window, so a greedy search then moves single
// levels by one while that shrinks the total distance of the blocks from their windows.
func lumaDC(pred int32, target *[16]uint8, levels *[16]int32, rec *[16]uint8) bool {
	var t, ht [16]int32
	flat := true
	for k := range t {
		t[k] = int32(target[k]) - pred
		if t[k] != 0 {
			flat = false
		}
	}
	if flat {
		*levels = [16]int32{}
		*rec = *target
		return true
	}
	// The ideal inverse-transform output for an offset t is f = 64t / step, step being the
	// offset one unit of f adds; levels = H f H / 16.
	hadamard4(&t, &ht)
	num, den := int32(64<<(6-qp/6)), levelScale4x4*16
	for k := range ht {
		levels[k] = clampLevel(divRound(ht[k]*num, den))
	}
	var lo, hi [16]int32
	for k := range lo {
		lo[k], hi[k] = dcWindow(pred, target[k])
	}
	cost := func() int32 {
		var f [16]int32
		hadamard4(levels, &f)
		var c int32
		for k := range f {
			c += outside(lumaDCScale(f[k]), lo[k], hi[k])
		}
		return c
	}
	for cur, step := cost(), 0; cur > 0 && step < maxRefineSteps; step++ {
		if bestSingleMove(levels[:], cost, &cur) {
			continue
		}
		// A local minimum for single moves: try moving two levels at once.
		if !lumaPairMove(levels, cost, &cur) {
			break
		}
	}
	var f [16]int32
	hadamard4(levels, &f)
	exact := true
	for k := range f {
		rec[k] = clip255(pred + (lumaDCScale(f[k])+32)>>6)
		exact = exact && rec[k] == target[k]
	}
	return exact
}

// lumaPairMove applies the change of two levels by one each that lowers cost most, if any
// does, and updates cur.
// bestSingleMove applies the one ±1 change to a level that lowers cost most, if any does,
// updating *cur; it reports whether it found one. Luma and chroma DC refinement share it.
func bestSingleMove(levels []int32, cost func() int32, cur *int32) bool {
	bestK, bestD, best := -1, int32(0), *cur
	for k := range levels {
		for _, d := range [2]int32{-1, 1} {
			if abs32(levels[k]+d) > maxLevel {
				continue
			}
			levels[k] += d
			if c := cost(); c < best {
				bestK, bestD, best = k, d, c
			}
			levels[k] -= d
		}
	}
	if bestK < 0 {
		return false
	}
	levels[bestK] += bestD
	*cur = best
	return true
}

func lumaPairMove(levels *[16]int32, cost func() int32, cur *int32) bool {
	best := *cur
	var bk1, bk2 int
	var bd1, bd2 int32
	for k1 := range levels {
		for k2 := k1 + 1; k2 < len(levels); k2++ {
			for _, d1 := range [2]int32{-1, 1} {
				for _, d2 := range [2]int32{-1, 1} {
					if abs32(levels[k1]+d1) > maxLevel || abs32(levels[k2]+d2) > maxLevel {
						continue
					}
					levels[k1] += d1
					levels[k2] += d2
					if c := cost(); c < best {
						best, bk1, bk2, bd1, bd2 = c, k1, k2, d1, d2
					}
					levels[k1] -= d1
					levels[k2] -= d2
				}
			}
		}
	}
	if best == *cur {
		return false
	}
	levels[bk1] += bd1
	levels[bk2] += bd2
	*cur = best
	return true
}

// chromaDC is lumaDC for one chroma component of a macroblock: four 4x4 blocks, each with its
// own prediction, and the 2x2 Hadamard transform.
func chromaDC(pred *[4]int32, target *[4]uint8, levels *[4]int32, rec *[4]uint8) bool {
	var t, ht [4]int32
	flat := true
	for k := range t {
		t[k] = int32(target[k]) - pred[k]
		if t[k] != 0 {
			flat = false
		}
	}
	if flat {
		*levels = [4]int32{}
		*rec = *target
		return true
	}
	hadamard2(&t, &ht)
	num, den := int32(64*32), (levelScale4x4<<(qp/6))*4
	for k := range ht {
		levels[k] = clampLevel(divRound(ht[k]*num, den))
	}
	var lo, hi [4]int32
	for k := range lo {
		lo[k], hi[k] = dcWindow(pred[k], target[k])
	}
	cost := func() int32 {
		var f [4]int32
		hadamard2(levels, &f)
		var c int32
		for k := range f {
			c += outside(chromaDCScale(f[k]), lo[k], hi[k])
		}
		return c
	}
	for cur, step := cost(), 0; cur > 0 && step < maxRefineSteps; step++ {
		if !bestSingleMove(levels[:], cost, &cur) {
			break
		}
	}
	var f [4]int32
	hadamard2(levels, &f)
	exact := true
	for k := range f {
		rec[k] = clip255(pred[k] + (chromaDCScale(f[k])+32)>>6)
		exact = exact && rec[k] == target[k]
	}
	return exact
}
