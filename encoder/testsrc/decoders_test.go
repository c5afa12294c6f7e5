package testsrc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needFFmpeg skips the test when ffmpeg is not installed.
func needFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH: install it (apt-get install ffmpeg) to decode the test stream")
	}
	return p
}

// yuvFrame is one decoded picture in planar 4:2:0.
type yuvFrame struct {
	w, h    int
	y, u, v []byte
}

// decodeWithFFmpeg decodes an Annex-B stream with ffmpeg's H.264 decoder and calls fn for
// every frame, in order. It fails the test if ffmpeg reports any error or warning.
func decodeWithFFmpeg(t *testing.T, stream []byte, w, h int, fn func(n int, f *yuvFrame)) int {
	t.Helper()
	bin := needFFmpeg(t)
	// -v warning: the decoder's concealment and bitstream complaints are warnings or errors.
	return decodeRaw(t, stream, w, h, 1, fn, bin, "-nostdin", "-hide_banner", "-v", "warning",
		"-f", "h264", "-i", "{in}", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-")
}

// decodeWithGStreamer is decodeWithFFmpeg through a GStreamer H.264 decoder element
// (avdec_h264, or openh264dec: Cisco's decoder, an implementation independent of ffmpeg).
func decodeWithGStreamer(t *testing.T, element string, stream []byte, w, h int, fn func(n int, f *yuvFrame)) int {
	t.Helper()
	bin, err := exec.LookPath("gst-launch-1.0")
	if err != nil {
		t.Skip("gst-launch-1.0 not on PATH: install gstreamer1.0-tools to decode with GStreamer")
	}
	if out, err := exec.Command("gst-inspect-1.0", element).CombinedOutput(); err != nil {
		t.Skipf("GStreamer element %s missing (gstreamer1.0-libav / gstreamer1.0-plugins-bad): %v %s", element, err, out)
	}
	// GStreamer's I420 rows are padded to multiples of four bytes.
	return decodeRaw(t, stream, w, h, 4, fn, bin, "-q", "filesrc", "location={in}", "!", "h264parse", "!",
		element, "!", "video/x-raw,format=I420", "!", "fdsink", "fd=1")
}

// decodeRaw runs a decoder command that reads the file named by the argument "{in}" and
// writes raw I420 frames, rows padded to a multiple of align bytes, to its standard output,
// streaming them through a pipe (300 frames of 720p would be 400 MB on disk). Anything on
// the decoder's standard error fails the test.
func decodeRaw(t *testing.T, stream []byte, w, h, align int, fn func(n int, f *yuvFrame), bin string, args ...string) int {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.h264")
	if err := os.WriteFile(in, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "{in}", in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(out, 1<<20)
	f := &yuvFrame{w: w, h: h, y: make([]byte, w*h), u: make([]byte, w*h/4), v: make([]byte, w*h/4)}
	pad := make([]byte, align)
	readPlane := func(dst []byte, pw, ph int) error {
		skip := (pw+align-1)/align*align - pw
		for y := range ph {
			if _, err := io.ReadFull(r, dst[y*pw:y*pw+pw]); err != nil {
				return err
			}
			if _, err := io.ReadFull(r, pad[:skip]); err != nil {
				return err
			}
		}
		return nil
	}
	n := 0
	for ; ; n++ {
		if err := readPlane(f.y, w, h); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%s: frame %d: %v", filepath.Base(bin), n, err)
			}
			break
		}
		if err := readPlane(f.u, w/2, h/2); err != nil {
			t.Fatalf("%s: frame %d chroma: %v", filepath.Base(bin), n, err)
		}
		if err := readPlane(f.v, w/2, h/2); err != nil {
			t.Fatalf("%s: frame %d chroma: %v", filepath.Base(bin), n, err)
		}
		fn(n, f)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(bin), err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Fatalf("%s reported problems decoding the stream:\n%s", filepath.Base(bin), stderr.Bytes())
	}
	return n
}

// compareToPicture returns the first row where f differs from p (drawn at 4x4-block
// resolution), or nil. It expands each block row once and compares whole pixel rows, which
// keeps 300 frames of 720p cheap even under the race detector.
func compareToPicture(f *yuvFrame, p *picture) error {
	row := make([]byte, f.w)
	check := func(name string, pix []byte, w, h int, pl *plane) error {
		for y := range h {
			if y%4 == 0 {
				blocks := pl.pix[(y/4)*pl.w:]
				for x := range w {
					row[x] = blocks[x/4]
				}
			}
			if got := pix[y*w : y*w+w]; !bytes.Equal(got, row[:w]) {
				for x := range w {
					if got[x] != row[x] {
						return fmt.Errorf("%s (%d,%d) = %d, want %d", name, x, y, got[x], row[x])
					}
				}
			}
		}
		return nil
	}
	if err := check("luma", f.y, f.w, f.h, &p.y); err != nil {
		return err
	}
	if err := check("Cb", f.u, f.w/2, f.h/2, &p.cb); err != nil {
		return err
	}
	return check("Cr", f.v, f.w/2, f.h/2, &p.cr)
}

func clonePicture(p *picture) picture {
	q := newPicture(p.y.w/4, p.y.h/4)
	q.copyFrom(p)
	return q
}

// frameTime is the capture time the tests give frame n: a fixed start, 30 fps.
func frameTime(n int) time.Time {
	return time.Date(2025, 6, 1, 12, 34, 56, 0, time.UTC).Add(time.Duration(n) * time.Second / 30)
}
