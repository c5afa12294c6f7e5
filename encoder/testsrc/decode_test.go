package testsrc

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

// readText reads n characters of the built-in font from a decoded frame by sampling the
// centre of every font dot: it is how a person reads the picture, done by the test.
func readText(f *yuvFrame, bx, by, scale, n int) string {
	var out []byte
	for i := range n {
		var g glyph
		for r := range glyphH {
			for c := range glyphW {
				x := (bx+(i*(glyphW+1)+c)*scale)*4 + scale*2
				y := (by+r*scale)*4 + scale*2
				if x < f.w && y < f.h && f.y[y*f.w+x] > 128 {
					g[r] |= 1 << (glyphW - 1 - c)
				}
			}
		}
		ch := byte('?')
		for k := range font {
			if font[k] == g {
				ch = fontRunes[k]
				break
			}
		}
		out = append(out, ch)
	}
	return string(out)
}

// TestDecodesWithFFmpeg is the main proof: 300 frames at the defaults decode with ffmpeg
// without a single complaint, every decoded pixel equals what the encoder meant to show, the
// sweeping bar is where frame n puts it, the counter and clock read back, and consecutive
// frames differ exactly where something moves.
func TestDecodesWithFFmpeg(t *testing.T) {
	needFFmpeg(t)
	const frames = 300
	s, err := New(Config{}, encoder.NewPool())
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte
	recon := make([]picture, frames)
	for n := range frames {
		au := s.Encode(n, frameTime(n), false)
		stream = h264.AppendAnnexB(stream, au.NALUs()...)
		au.Release()
		if s.enc.inexact != 0 {
			t.Fatalf("frame %d: %d blocks not reproduced exactly", n, s.enc.inexact)
		}
		recon[n] = clonePicture(&s.enc.recon)
		if !bytes.Equal(recon[n].y.pix, s.cur.y.pix) || !bytes.Equal(recon[n].cb.pix, s.cur.cb.pix) ||
			!bytes.Equal(recon[n].cr.pix, s.cur.cr.pix) {
			t.Fatalf("frame %d: reconstruction differs from the drawn card", n)
		}
	}

	l := s.lay
	w, h := s.cfg.Width, s.cfg.Height
	var prev *yuvFrame
	got := decodeWithFFmpeg(t, stream, w, h, func(n int, f *yuvFrame) {
		if n >= frames {
			t.Fatalf("decoder produced more than %d frames", frames)
		}
		if err := compareToPicture(f, &recon[n]); err != nil {
			t.Fatalf("frame %d: decoded picture differs from the encoder's reconstruction: %v", n, err)
		}

		// The sweeping bar, read across the middle of its band.
		midY := (l.bandY*4 + l.bandH*2) * w
		x0 := l.sweepX(n) * 4
		x1 := x0 + l.sweepW*4
		for x := range w {
			lum := f.y[midY+x]
			if inBar := x >= x0 && x < x1; inBar != (lum == white.y) {
				t.Fatalf("frame %d: pixel %d of the band is %d; bar expected at [%d,%d)", n, x, lum, x0, x1)
			}
		}

		// The text a viewer reads.
		if got, want := readText(f, l.countX, l.countY, l.scale, 1+counterDigits), string(formatCounter(new([1 + counterDigits]byte), n)); got != want {
			t.Fatalf("frame %d: counter reads %q, want %q", n, got, want)
		}
		if got, want := readText(f, l.clockX, l.clockY, l.scale, 16), string(formatClock(new([16]byte), frameTime(n))); got != want {
			t.Fatalf("frame %d: clock reads %q, want %q", n, got, want)
		}

		// What changed since the previous frame: only the sweeping bar's old and new place
		// and the text lines; no colour anywhere.
		if prev != nil {
			px0, px1 := l.sweepX(n-1)*4, l.sweepX(n-1)*4+l.sweepW*4
			lo, hi := min(x0, px0), max(x1, px1)
			textTop, textBot := l.clockY*4, (l.countY+glyphH*l.scale)*4
			bandTop, bandBot := l.bandY*4, (l.bandY+l.bandH)*4
			bandChanged := false
			for y := range h {
				cur, old := f.y[y*w:y*w+w], prev.y[y*w:y*w+w]
				if bytes.Equal(cur, old) {
					continue
				}
				first, last := 0, w-1
				for cur[first] == old[first] {
					first++
				}
				for cur[last] == old[last] {
					last--
				}
				switch {
				case y >= bandTop && y < bandBot && first >= lo && last < hi:
					bandChanged = true
				case y >= textTop && y < textBot:
				default:
					t.Fatalf("frame %d: row %d changed in columns %d..%d, outside the moving parts", n, y, first, last)
				}
			}
			if !bandChanged {
				t.Fatalf("frame %d: the sweeping bar did not move", n)
			}
			if !bytes.Equal(f.u, prev.u) || !bytes.Equal(f.v, prev.v) {
				t.Fatalf("frame %d: chroma changed", n)
			}
			copy(prev.y, f.y)
			copy(prev.u, f.u)
			copy(prev.v, f.v)
		} else {
			prev = &yuvFrame{w: w, h: h, y: bytes.Clone(f.y), u: bytes.Clone(f.u), v: bytes.Clone(f.v)}
		}
	})
	if got != frames {
		t.Fatalf("decoded %d frames, want %d", got, frames)
	}
}

// randomStream codes 120 pictures no test card would draw - noise, extreme values, sparse
// changes, all-skip pictures - so that every CAVLC table row and the level escape codes are
// exercised. It returns the stream and the encoder's reconstruction of every picture.
func randomStream(t *testing.T, width, height int) ([]byte, []picture) {
	g := geometry{width: width, height: height, mbW: (width + 15) / 16, mbH: (height + 15) / 16}
	g.levelIDC, _ = pickLevel(g.mbW, g.mbH, 30)
	enc := newSliceEncoder(g)
	var w bitWriter
	var stream []byte
	writeSPS(&w, g, 30)
	stream = h264.AppendAnnexB(stream, h264.AppendEmulationPrevention(nil, w.bytes()))
	writePPS(&w)
	stream = h264.AppendAnnexB(stream, h264.AppendEmulationPrevention(nil, w.bytes()))

	rng := rand.New(rand.NewPCG(uint64(width), uint64(height)))
	cur, prev := newPicture(g.mbW, g.mbH), newPicture(g.mbW, g.mbH)
	const frames = 120
	recon := make([]picture, frames)
	inexact := 0
	for n := range frames {
		prev.copyFrom(&cur)
		paintRandom(rng, &cur, n)
		slice := enc.encode(&cur, &prev, n%40 == 0)
		stream = h264.AppendAnnexB(stream, h264.AppendEmulationPrevention(nil, slice))
		recon[n] = clonePicture(&enc.recon)
		inexact += enc.inexact
	}
	t.Logf("%dx%d: %d frames, %d bytes, %d blocks approximated", width, height, frames, len(stream), inexact)
	return stream, recon
}

var randomSizes = []struct{ w, h int }{{64, 48}, {80, 34}}

// TestRandomPicturesDecode checks ffmpeg's decoding of random pictures against the
// encoder's own reconstruction, pixel for pixel. That equality is what makes P_Skip and
// intra prediction from neighbours safe: encoder and decoder agree on the reference picture.
func TestRandomPicturesDecode(t *testing.T) {
	needFFmpeg(t)
	for _, size := range randomSizes {
		stream, recon := randomStream(t, size.w, size.h)
		got := decodeWithFFmpeg(t, stream, size.w, size.h, func(n int, f *yuvFrame) {
			if err := compareToPicture(f, &recon[n]); err != nil {
				t.Fatalf("%dx%d frame %d: %v", size.w, size.h, n, err)
			}
		})
		if got != len(recon) {
			t.Fatalf("decoded %d frames, want %d", got, len(recon))
		}
	}
}

// TestGStreamerDecodes repeats the pixel-exact check with GStreamer's decoders, openh264dec
// being a second, independent H.264 implementation: the random pictures, and two seconds of
// the test card at a size that needs cropping.
func TestGStreamerDecodes(t *testing.T) {
	for _, element := range []string{"avdec_h264", "openh264dec"} {
		t.Run(element, func(t *testing.T) {
			for _, size := range randomSizes {
				stream, recon := randomStream(t, size.w, size.h)
				got := decodeWithGStreamer(t, element, stream, size.w, size.h, func(n int, f *yuvFrame) {
					if err := compareToPicture(f, &recon[n]); err != nil {
						t.Fatalf("%dx%d frame %d: %v", size.w, size.h, n, err)
					}
				})
				if got != len(recon) {
					t.Fatalf("decoded %d frames, want %d", got, len(recon))
				}
			}

			s, err := New(Config{Width: 642, Height: 362, FPS: 30, GOP: 30}, encoder.NewPool())
			if err != nil {
				t.Fatal(err)
			}
			var stream []byte
			var recon []picture
			for n := range 60 {
				au := s.Encode(n, frameTime(n), false)
				stream = h264.AppendAnnexB(stream, au.NALUs()...)
				au.Release()
				recon = append(recon, clonePicture(&s.enc.recon))
			}
			got := decodeWithGStreamer(t, element, stream, 642, 362, func(n int, f *yuvFrame) {
				if err := compareToPicture(f, &recon[n]); err != nil {
					t.Fatalf("card frame %d: %v", n, err)
				}
				if got, want := readText(f, s.lay.countX, s.lay.countY, s.lay.scale, 1+counterDigits), string(formatCounter(new([1 + counterDigits]byte), n)); got != want {
					t.Fatalf("frame %d: counter reads %q, want %q", n, got, want)
				}
			})
			if got != len(recon) {
				t.Fatalf("decoded %d frames, want %d", got, len(recon))
			}
		})
	}
}

// paintRandom changes p in one of several ways, chosen by frame number.
func paintRandom(rng *rand.Rand, p *picture, n int) {
	randomize := func(pl *plane, gen func() uint8) {
		for i := range pl.pix {
			pl.pix[i] = gen()
		}
	}
	switch n % 5 {
	case 0: // noise everywhere
		for _, pl := range []*plane{&p.y, &p.cb, &p.cr} {
			randomize(pl, func() uint8 { return uint8(rng.IntN(256)) })
		}
	case 1: // extremes: the largest levels and the clipping windows
		for _, pl := range []*plane{&p.y, &p.cb, &p.cr} {
			randomize(pl, func() uint8 { return []uint8{0, 255}[rng.IntN(2)] })
		}
	case 2: // a few random macroblock-sized patches: skip runs between coded macroblocks
		for range 3 {
			x, y := rng.IntN(p.y.w), rng.IntN(p.y.h)
			p.fillRect(x, y, x+1+rng.IntN(6), y+1+rng.IntN(6),
				color{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))})
		}
	case 3: // sparse: one block of each changed macroblock differs slightly (small levels)
		for range 4 {
			i := rng.IntN(len(p.y.pix))
			p.y.pix[i] = uint8(int(p.y.pix[i]) + rng.IntN(5) - 2)
		}
	case 4: // nothing changes: an all-skip picture
	}
}
