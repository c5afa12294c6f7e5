package testsrc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/camerad/camerad/encoder"
)

func bitString(w *bitWriter) string {
	var s string
	for _, b := range w.buf {
		s += fmt.Sprintf("%08b", b)
	}
	for i := w.nacc; i > 0; i-- {
		s += fmt.Sprint(w.acc >> (i - 1) & 1)
	}
	return s
}

func TestExpGolomb(t *testing.T) {
	for _, tc := range []struct {
		write func(w *bitWriter)
		want  string
	}{
		{func(w *bitWriter) { w.ue(0) }, "1"},
		{func(w *bitWriter) { w.ue(1) }, "010"},
		{func(w *bitWriter) { w.ue(2) }, "011"},
		{func(w *bitWriter) { w.ue(7) }, "0001000"},
		{func(w *bitWriter) { w.se(1) }, "010"},
		{func(w *bitWriter) { w.se(-1) }, "011"},
		{func(w *bitWriter) { w.se(-14) }, "000011101"},
		{func(w *bitWriter) { w.ue(1<<32 - 1) }, "00000000000000000000000000000000" + "1" + "00000000000000000000000000000000"},
		{func(w *bitWriter) { w.u(3, 5); w.trailing() }, "10110000"},
	} {
		var w bitWriter
		tc.write(&w)
		if got := bitString(&w); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

// TestCardReproducedExactly: at several sizes the encoder's reconstruction - what every
// decoder shows, as the decode tests prove - is the drawn test card, block for block.
func TestCardReproducedExactly(t *testing.T) {
	for _, cfg := range []Config{{}, {Width: 640, Height: 480}, {Width: 1920, Height: 1080}, {Width: 322, Height: 180}} {
		s, err := New(cfg, encoder.NewPool())
		if err != nil {
			t.Fatal(err)
		}
		for n := range 90 {
			au := s.Encode(n, frameTime(n), false)
			au.Release()
			if s.enc.inexact != 0 || !bytes.Equal(s.enc.recon.y.pix, s.cur.y.pix) ||
				!bytes.Equal(s.enc.recon.cb.pix, s.cur.cb.pix) || !bytes.Equal(s.enc.recon.cr.pix, s.cur.cr.pix) {
				t.Fatalf("%dx%d frame %d: reconstruction differs from the card (%d blocks)", s.cfg.Width, s.cfg.Height, n, s.enc.inexact)
			}
		}
	}
}

// TestPFramesCodeOnlyChanges: a P picture codes exactly the macroblocks whose drawing
// changed, and at the defaults that is a small share of the picture.
func TestPFramesCodeOnlyChanges(t *testing.T) {
	s, err := New(Config{}, encoder.NewPool())
	if err != nil {
		t.Fatal(err)
	}
	g := s.enc.geo
	maxCoded := 0
	for n := range 60 {
		au := s.Encode(n, frameTime(n), false)
		key := au.Keyframe
		au.Release()
		coded := 0
		for mby := range g.mbH {
			for mbx := range g.mbW {
				c := s.enc.coded[mby*g.mbW+mbx]
				if c {
					coded++
				}
				if !key && c == mbEqual(&s.cur, &s.prev, mbx, mby) {
					t.Fatalf("frame %d MB (%d,%d): coded %v, changed %v", n, mbx, mby, c, !c)
				}
			}
		}
		if key && coded != g.mbW*g.mbH {
			t.Fatalf("IDR %d coded %d of %d macroblocks", n, coded, g.mbW*g.mbH)
		}
		if !key {
			maxCoded = max(maxCoded, coded)
		}
	}
	t.Logf("P pictures code at most %d of %d macroblocks", maxCoded, g.mbW*g.mbH)
	if maxCoded > g.mbW*g.mbH/10 {
		t.Errorf("P pictures code up to %d macroblocks, more than a tenth of the picture", maxCoded)
	}
}

func TestSweepMovesEveryFrame(t *testing.T) {
	for _, fps := range []int{1, 30, 120} {
		l := newLayout(1280, 720, fps)
		for n := -500; n < 500; n++ {
			x := l.sweepX(n)
			if x < 0 || x+l.sweepW > l.w {
				t.Fatalf("fps %d frame %d: bar at %d..%d outside 0..%d", fps, n, x, x+l.sweepW, l.w)
			}
			if x == l.sweepX(n+1) {
				t.Fatalf("fps %d: bar does not move from frame %d to %d", fps, n, n+1)
			}
		}
	}
}

func TestFormatText(t *testing.T) {
	var clock [16]byte
	ts := time.Date(2025, 1, 2, 3, 4, 5, 678999999, time.FixedZone("CET", 3600))
	if got := string(formatClock(&clock, ts)); got != "02:04:05.678 UTC" {
		t.Errorf("clock %q", got)
	}
	var count [1 + counterDigits]byte
	if got := string(formatCounter(&count, 1234567)); got != "#234567" {
		t.Errorf("counter %q", got)
	}
}

// TestDCSearch measures how often the level search reproduces a 4x4-block pattern exactly
// from a random prediction, for the two-level patterns text and bars make and for noise.
// Approximations are legal (the decoder reproduces them too); they must stay rare and close.
func TestDCSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const trials = 5000
	for _, kind := range []string{"two-level", "noise"} {
		misses, worst := 0, 0
		for range trials {
			var target, rec [16]uint8
			var lv [16]int32
			a, b := uint8(rng.IntN(256)), uint8(rng.IntN(256))
			for k := range target {
				switch {
				case kind == "noise":
					target[k] = uint8(rng.IntN(256))
				case rng.IntN(2) == 0:
					target[k] = a
				default:
					target[k] = b
				}
			}
			if !lumaDC(int32(rng.IntN(256)), &target, &lv, &rec) {
				misses++
			}
			for k := range rec {
				worst = max(worst, int(abs32(int32(rec[k])-int32(target[k]))))
			}
		}
		t.Logf("%s: %d of %d blocks approximated, worst error %d", kind, misses, trials, worst)
		if misses > trials/100 || worst > 8 {
			t.Errorf("%s: %d of %d approximated, worst error %d", kind, misses, trials, worst)
		}
	}
}

// mbEqual reports whether macroblock (mbx, mby) is the same in p and q, block by block: the
// plain check changedMBs is measured against.
func mbEqual(p, q *picture, mbx, mby int) bool {
	for y := mby * 4; y < mby*4+4; y++ {
		for x := mbx * 4; x < mbx*4+4; x++ {
			if p.y.at(x, y) != q.y.at(x, y) {
				return false
			}
		}
	}
	for y := mby * 2; y < mby*2+2; y++ {
		for x := mbx * 2; x < mbx*2+2; x++ {
			if p.cb.at(x, y) != q.cb.at(x, y) || p.cr.at(x, y) != q.cr.at(x, y) {
				return false
			}
		}
	}
	return true
}
