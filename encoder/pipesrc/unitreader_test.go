package pipesrc

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"time"

	"github.com/camerad/camerad/encoder/clipsrc"
	"github.com/camerad/camerad/encoder/h264"
)

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fakeNow is a clock that ticks one millisecond per reading.
func fakeNow() func() instant {
	t := instant{mono: time.Hour, wall: time.Unix(1700000000, 0)}
	return func() instant {
		t.mono += time.Millisecond
		t.wall = t.wall.Add(time.Millisecond)
		return t
	}
}

// readAll returns the units of r as copies, plus the reader for its counters.
func readAll(t *testing.T, r io.Reader, limit int) ([][][]byte, *unitReader) {
	t.Helper()
	ur := newUnitReader(r, limit, fakeNow(), discardLog())
	var units [][][]byte
	for {
		u, err := ur.next()
		if errors.Is(err, io.EOF) {
			return units, ur
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		var c [][]byte
		for _, n := range u.nalus {
			c = append(c, bytes.Clone(n))
		}
		units = append(units, c)
	}
}

// randomChunks reads from r in pieces of random size, to move start codes across reads.
type randomChunks struct {
	r   io.Reader
	rnd *rand.Rand
}

func (c *randomChunks) Read(p []byte) (int, error) {
	n := 1 + c.rnd.IntN(min(len(p), 9000))
	return c.r.Read(p[:n])
}

func checkClipUnits(t *testing.T, units [][][]byte) {
	t.Helper()
	if len(units) != 120 {
		t.Fatalf("%d units, want 120", len(units))
	}
	var all [][]byte
	for i, u := range units {
		if key := h264.IsKeyframe(u); key != (i%30 == 0) {
			t.Fatalf("unit %d keyframe = %v", i, key)
		}
		all = append(all, u...)
	}
	want := h264.SplitAnnexB(clipsrc.Default())
	if len(all) != len(want) {
		t.Fatalf("%d NAL units, want %d", len(all), len(want))
	}
	for i := range want {
		if !bytes.Equal(all[i], want[i]) {
			t.Fatalf("NAL unit %d differs", i)
		}
	}
}

func TestUnitReaderClip(t *testing.T) {
	clip := clipsrc.Default()
	readers := map[string]func() io.Reader{
		"whole":         func() io.Reader { return bytes.NewReader(clip) },
		"one byte":      func() io.Reader { return iotest.OneByteReader(bytes.NewReader(clip)) },
		"random chunks": func() io.Reader { return &randomChunks{bytes.NewReader(clip), rand.New(rand.NewPCG(1, 2))} },
		"half reads":    func() io.Reader { return iotest.HalfReader(bytes.NewReader(clip)) },
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			units, _ := readAll(t, r(), DefaultMaxUnitSize)
			checkClipUnits(t, units)
		})
	}
}

func TestUnitReaderArrivalTime(t *testing.T) {
	// Each unit is stamped with the read that brought its first bytes: feed one unit per read.
	var clip []byte
	ForEach := h264.SplitAnnexB(clipsrc.Default())
	clip = h264.AppendAnnexB(clip, ForEach[:6]...) // SPS PPS IDR P P P
	ur := newUnitReader(iotest.OneByteReader(bytes.NewReader(clip)), DefaultMaxUnitSize, fakeNow(), discardLog())
	var last time.Duration
	for i := 0; ; i++ {
		u, err := ur.next()
		if err != nil {
			if i != 4 {
				t.Fatalf("%d units, want 4: %v", i, err)
			}
			break
		}
		if u.at.mono <= last {
			t.Errorf("unit %d arrival %v not after %v", i, u.at.mono, last)
		}
		last = u.at.mono
	}
}

func TestUnitReaderFraming(t *testing.T) {
	sps, pps := []byte{0x67, 0x42, 0xc0, 0x1e}, []byte{0x68, 0xce}
	idr, p1, p2a, p2b := []byte{0x65, 0x88, 1}, []byte{0x41, 0x9a, 2}, []byte{0x41, 0x9a, 3}, []byte{0x41, 0x40, 4}
	var in []byte
	in = append(in, 0xde, 0xad, 0, 0) // garbage before the first start code
	in = append(in, 0, 0, 0, 1)
	in = append(in, sps...)
	in = append(in, 0, 0, 1)
	in = append(in, pps...)
	in = append(in, 0, 0, 0, 1)
	in = append(in, idr...)
	in = append(in, 0, 0, 0, 0, 0, 1) // trailing_zero_8bits
	in = append(in, p1...)
	in = append(in, 0, 0, 1)
	in = append(in, p2a...)
	in = append(in, 0, 0, 1)
	in = append(in, p2b...) // second slice of the same picture
	in = append(in, 0, 0)
	units, ur := readAll(t, iotest.OneByteReader(bytes.NewReader(in)), DefaultMaxUnitSize)
	want := [][][]byte{{sps, pps, idr}, {p1}, {p2a, p2b}}
	if len(units) != len(want) {
		t.Fatalf("units = %x, want %x", units, want)
	}
	for i := range want {
		if len(units[i]) != len(want[i]) {
			t.Fatalf("unit %d = %x, want %x", i, units[i], want[i])
		}
		for j := range want[i] {
			if !bytes.Equal(units[i][j], want[i][j]) {
				t.Fatalf("unit %d = %x, want %x", i, units[i], want[i])
			}
		}
	}
	if ur.garbage == 0 {
		t.Error("garbage prefix not counted")
	}
}

// TestUnitReaderGarbageIsBounded feeds 20 MB without a start code, then the clip: the buffer
// must not grow, and the clip must come through whole.
func TestUnitReaderGarbageIsBounded(t *testing.T) {
	garbage := bytes.Repeat([]byte("x"), 20<<20)
	r := io.MultiReader(bytes.NewReader(garbage), bytes.NewReader(clipsrc.Default()))
	units, ur := readAll(t, r, 1<<20)
	checkClipUnits(t, units)
	if len(ur.buf) > initialBuffer {
		t.Errorf("buffer grew to %d bytes on garbage", len(ur.buf))
	}
	if ur.garbage < int64(len(garbage))-16 {
		t.Errorf("garbage counted %d, want about %d", ur.garbage, len(garbage))
	}
	if ur.oversized != 0 {
		t.Errorf("%d units dropped as oversized", ur.oversized)
	}
}

// TestUnitReaderDropsOversizedUnit puts a 3 MB "slice" between two GOPs of the clip with a
// 1 MB limit: it is dropped, reported as lost, and the buffer stays at the limit.
func TestUnitReaderDropsOversizedUnit(t *testing.T) {
	clip := clipsrc.Default()
	nalus := h264.SplitAnnexB(clip)
	huge := append([]byte{0x41, 0x9a}, bytes.Repeat([]byte{0x55}, 3<<20)...)
	var in []byte
	in = h264.AppendAnnexB(in, nalus[:5]...)
	in = h264.AppendAnnexB(in, huge)
	in = h264.AppendAnnexB(in, nalus[5:]...)

	ur := newUnitReader(&randomChunks{bytes.NewReader(in), rand.New(rand.NewPCG(3, 4))}, 1<<20, fakeNow(), discardLog())
	count, lostAt := 0, -1
	for {
		u, err := ur.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ur.takeLost() {
			lostAt = count
		}
		for _, n := range u.nalus {
			if len(n) > 1<<20 {
				t.Fatalf("unit %d carries a %d byte NAL unit", count, len(n))
			}
		}
		count++
	}
	if ur.oversized != 1 {
		t.Errorf("oversized = %d, want 1", ur.oversized)
	}
	if lostAt < 0 {
		t.Error("the dropped unit was not reported")
	}
	if count != 120 {
		t.Errorf("%d units, want the clip's 120 without the huge one", count)
	}
	if len(ur.buf) > 1<<20 {
		t.Errorf("buffer %d bytes, over the 1 MB limit", len(ur.buf))
	}
}

func TestUnitReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	ur := newUnitReader(iotest.ErrReader(boom), DefaultMaxUnitSize, fakeNow(), discardLog())
	if _, err := ur.next(); !errors.Is(err, boom) {
		t.Errorf("next = %v, want boom", err)
	}
}

func FuzzUnitReader(f *testing.F) {
	f.Add(clipsrc.Default()[:1500], uint8(7))
	f.Add([]byte{0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0x9a, 0, 0, 0, 1, 0x67}, uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		r := iotest.DataErrReader(&fixedChunks{bytes.NewReader(in), int(chunk)%64 + 1})
		ur := newUnitReader(r, 1024, fakeNow(), discardLog())
		total := 0
		for range len(in) + 2 {
			u, err := ur.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !h264.IsKeyframe(u.nalus) && !hasVCL(u.nalus) {
				t.Fatalf("unit without a slice: %x", u.nalus)
			}
			for _, n := range u.nalus {
				total += len(n)
				if len(n) == 0 || bytes.Contains(n, startCode) {
					t.Fatalf("bad NAL unit %x", n)
				}
			}
			if total > len(in) || len(ur.buf) > 1024 {
				t.Fatalf("%d NAL bytes from %d input bytes, buffer %d", total, len(in), len(ur.buf))
			}
		}
		t.Fatal("more units than input bytes")
	})
}

type fixedChunks struct {
	r io.Reader
	n int
}

func (c *fixedChunks) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

func hasVCL(nalus [][]byte) bool {
	for _, n := range nalus {
		if h264.TypeOf(n).IsVCL() {
			return true
		}
	}
	return false
}
