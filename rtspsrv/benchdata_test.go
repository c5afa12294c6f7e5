package rtspsrv

import (
	"math/rand/v2"
	"time"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

// Benchmark access units shaped like a 720p camera stream at ~4 Mbit/s, as camerad's sources
// make them: a keyframe of SPS, PPS, capture-time SEI and a ~100 KB IDR slice, then P frames
// of one ~15 KB slice, one second GOP at 30 fps.
const (
	benchIDRBytes = 100_000
	benchPBytes   = 15_000
	benchGOP      = 30
	benchFPS      = 30
)

// bench720pSPS is a real 1280x720 Constrained Baseline level 3.1 SPS, and benchPPS its PPS.
var (
	bench720pSPS = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x23, 0xc6, 0x0c, 0xa8}
	benchPPS     = []byte{0x68, 0xce, 0x3c, 0x80}
)

// benchSlice returns a slice NAL of n bytes whose body has no zero bytes, so that no Annex-B
// parser (ours or a peer's) can find a start code inside it.
func benchSlice(r *rand.Rand, typ h264.NALType, n int) []byte {
	b := make([]byte, n)
	b[0] = 0x60 | byte(typ)
	b[1] = 0x88 // first_mb_in_slice = 0
	for i := 2; i < n; i++ {
		b[i] = byte(1 + r.IntN(255))
	}
	return b
}

// benchGOPUnits returns one GOP of NAL-unit lists: frame 0 is the keyframe.
func benchGOPUnits() [][][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][][]byte, benchGOP)
	sei := h264.AppendCaptureTimeSEI(nil, time.Unix(1_700_000_000, 0))
	out[0] = [][]byte{bench720pSPS, benchPPS, sei, benchSlice(r, h264.NALIDR, benchIDRBytes)}
	for i := 1; i < benchGOP; i++ {
		out[i] = [][]byte{benchSlice(r, h264.NALSlice, benchPBytes)}
	}
	return out
}

// benchAU builds a pooled access unit for frame i of units.
func benchAU(pool *encoder.Pool, units [][][]byte, i int) *encoder.AccessUnit {
	nalus := units[i%len(units)]
	size := 0
	for _, n := range nalus {
		size += len(n)
	}
	au := pool.Get(size)
	for _, n := range nalus {
		au.AppendNALU(n)
	}
	au.Keyframe = i%len(units) == 0
	au.PTS = time.Duration(i) * time.Second / benchFPS
	au.Captured = time.Unix(1_700_000_000, 0).Add(au.PTS)
	return au
}
