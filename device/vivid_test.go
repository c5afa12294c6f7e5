package device

// Tests against a real kernel: the vivid test driver, run inside the qemu guest that
// scripts/v4l2test/run.sh boots (`make v4l2-test`). They skip anywhere else.

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camerad/camerad/device/uapi"
)

// vividPath returns the vivid node named by CAMERAD_VIVID or skips.
func vividPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CAMERAD_VIVID")
	if p == "" {
		t.Skip("CAMERAD_VIVID not set: vivid tests run inside the qemu guest of `make v4l2-test`")
	}
	return p
}

func TestVividListsFormats(t *testing.T) {
	path := vividPath(t)
	info, err := Inspect(uapi.Kernel{}, path)
	if err != nil {
		t.Fatal(err)
	}
	info.Print(testWriter{t})
	if !info.IsCamera() || info.Driver != "vivid" {
		t.Fatalf("%s: driver %q caps %#x, want a vivid camera", path, info.Driver, info.Caps)
	}
	if !info.HasFormat(uapi.PixFmtYUYV) {
		t.Errorf("vivid offers no YUYV")
	}
	found := false
	for _, f := range info.Formats {
		for _, s := range f.Sizes {
			if f.PixelFormat == uapi.PixFmtYUYV && s.Width == 640 && s.Height == 360 && len(s.FPS) > 0 {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("YUYV 640x360 with frame rates not listed")
	}
	// vivid offers YUV420 too, the encoder's native input: preferred over YUYV.
	if p, f := info.Choose(true); p != PathRaw || f != uapi.PixFmtYUV420 {
		t.Errorf("Choose = %v %s, want raw YU12", p, uapi.FourCCString(f))
	}
	if p, _ := info.Choose(false); p != PathNone {
		t.Errorf("Choose without an encoder = %v, want none", p)
	}
	if len(info.Controls) == 0 {
		t.Errorf("no controls listed")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func vividCapture(t *testing.T, path string, bo Backoff) *Capture {
	return NewCapture(Config{
		Path:    path,
		Want:    Format{PixelFormat: uapi.PixFmtYUYV, Width: 640, Height: 360, FPS: 30},
		Backoff: bo,
		Log:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

func TestVividCaptureRate(t *testing.T) {
	path := vividPath(t)
	c := vividCapture(t, path, Backoff{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ts []time.Duration
	var seq []uint32
	var format Format
	err := c.Run(ctx, func(f Frame) error {
		ts = append(ts, f.Timestamp)
		seq = append(seq, f.Sequence)
		format = f.Format
		if len(f.Data) != f.Format.SizeImage {
			t.Errorf("frame of %d bytes, format says %d", len(f.Data), f.Format.SizeImage)
		}
		if len(ts) == 60 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if format.String() != "YUYV 640x360@30" {
		t.Errorf("negotiated %v, want YUYV 640x360@30", format)
	}
	var gaps []time.Duration
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			t.Fatalf("timestamp %d (%v) not after %v", i, ts[i], ts[i-1])
		}
		gaps = append(gaps, ts[i]-ts[i-1])
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	// The driver stamps frames from its own timer, so the median spacing is the rate even
	// when the guest is slow to collect them.
	med := gaps[len(gaps)/2]
	if want := time.Second / 30; med < want*8/10 || med > want*12/10 {
		t.Errorf("median frame spacing %v, want about %v", med, want)
	}
	t.Logf("60 frames, median spacing %v, sequence %d..%d", med, seq[0], seq[len(seq)-1])
}

func TestVividControls(t *testing.T) {
	path := vividPath(t)
	sys := uapi.Kernel{}
	fd, err := sys.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close(fd)
	for _, c := range []Control{{uapi.CIDBrightness, 200}, {uapi.CIDBrightness, 17}, {uapi.CIDHFlip, 1}, {uapi.CIDHFlip, 0}} {
		if _, err := SetControl(sys, fd, c.ID, c.Value); err != nil {
			t.Fatalf("set %#x: %v", c.ID, err)
		}
		if v, err := GetControl(sys, fd, c.ID); err != nil || v != c.Value {
			t.Errorf("control %#x read back %d, %v; want %d", c.ID, v, err, c.Value)
		}
	}
	if _, err := SetControl(sys, fd, uapi.CIDVideoH264IPeriod, 30); err == nil {
		t.Errorf("vivid accepted an H.264 control it does not have")
	}
}

// TestVividSettings applies an orientation and named controls through Capture, as camerad
// does for camera.yml's hflip, vflip and controls:, and reads them back while the camera
// streams. It also checks the picture: with vivid's colour bars and its text turned off, the
// flipped picture's bars come in the plain picture's order reversed.
func TestVividSettings(t *testing.T) {
	path := vividPath(t)
	// The same pattern both times, with nothing drawn over it and nothing moving.
	picture := []Setting{
		{Field: "controls.test_pattern", Key: "test_pattern", Value: 0},   // 75% colour bars
		{Field: "controls.osd_text_mode", Key: "osd_text_mode", Value: 2}, // no text
		{Field: "controls.horizontal_movement", Key: "horizontal_movement", Value: 3},
		{Field: "controls.brightness", Key: "brightness", Value: 100},
	}
	plain, _ := vividRow(t, path, append(Orientation(0, false, false), picture...))

	// Values other than the ones asked for, so that reading them back proves something.
	setVivid(t, path, Control{uapi.CIDBrightness, 128}, Control{uapi.CIDHFlip, 0}, Control{uapi.CIDVFlip, 0})
	flipped, got := vividRow(t, path, append(Orientation(0, true, true), picture...))
	for id, want := range map[uint32]int32{uapi.CIDHFlip: 1, uapi.CIDVFlip: 1, uapi.CIDBrightness: 100} {
		if got[id] != want {
			t.Errorf("control %#x = %d while streaming, want %d", id, got[id], want)
		}
	}

	// vivid's colour bars are eight, white to black; mirrored, their order is reversed. Bars
	// are compared by the middle of each (vivid mirrors YUYV in pixel pairs, so edges may
	// move a pixel or two).
	p, f := bars(plain), bars(flipped)
	if p[0] < p[7]+60 {
		t.Fatalf("plain row's bars %.0f; want vivid's colour bars, white to black", p)
	}
	for k := range p {
		if d := f[k] - p[7-k]; d < -4 || d > 4 {
			t.Errorf("flipped row's bars %.0f, want the plain row's %.0f reversed", f, p)
			break
		}
	}
	t.Logf("luma of the bars: plain %.0f, flipped %.0f", p, f)
}

// bars returns the mean luma of the middle half of each of eight bars across row.
func bars(row []byte) [8]float64 {
	var out [8]float64
	w := len(row) / 8
	for k := range out {
		sum := 0
		for _, v := range row[k*w+w/4 : k*w+3*w/4] {
			sum += int(v)
		}
		out[k] = float64(sum) / float64(w/2)
	}
	return out
}

// vividRow streams vivid with the settings and returns the luma of a row below vivid's text
// area from the tenth frame, and the flips and brightness read back (from another handle)
// while it streamed. Every setting must apply without a warning.
func vividRow(t *testing.T, path string, settings []Setting) ([]byte, map[uint32]int32) {
	t.Helper()
	var logs strings.Builder // written by Run, on this goroutine
	c := NewCapture(Config{
		Path:     path,
		Want:     Format{PixelFormat: uapi.PixFmtYUYV, Width: 640, Height: 360, FPS: 30},
		Settings: settings,
		Log:      slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	defer func() {
		t.Log(strings.TrimSpace(logs.String()))
		if strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("vivid did not take every setting as asked")
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var row []byte
	values := map[uint32]int32{}
	n := 0
	err := c.Run(ctx, func(f Frame) error {
		if n++; n < 10 {
			return nil
		}
		cancel()
		y := f.Format.Height * 5 / 6
		line := f.Data[y*f.Format.BytesPerLine:]
		for x := range f.Format.Width {
			row = append(row, line[2*x]) // YUYV: Y0 U Y1 V
		}
		sys := uapi.Kernel{}
		fd, err := sys.Open(path)
		if err != nil {
			return err
		}
		defer sys.Close(fd)
		for _, id := range []uint32{uapi.CIDHFlip, uapi.CIDVFlip, uapi.CIDBrightness} {
			if values[id], err = GetControl(sys, fd, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return row, values
}

// setVivid sets controls directly, outside Capture.
func setVivid(t *testing.T, path string, cs ...Control) {
	t.Helper()
	sys := uapi.Kernel{}
	fd, err := sys.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close(fd)
	for _, c := range cs {
		if _, err := SetControl(sys, fd, c.ID, c.Value); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVividReopenAfterDriverReload unplugs the camera (vivid's Disconnect control: ioctls
// then fail with ENODEV, like an unplugged UVC camera), removes the driver, loads it again,
// and checks that the same Capture streams again.
func TestVividReopenAfterDriverReload(t *testing.T) {
	path := vividPath(t)
	rmmod, modprobe := os.Getenv("CAMERAD_VIVID_RMMOD"), os.Getenv("CAMERAD_VIVID_MODPROBE")
	if rmmod == "" || modprobe == "" {
		t.Skip("CAMERAD_VIVID_RMMOD/MODPROBE not set")
	}
	info, err := Inspect(uapi.Kernel{}, path)
	if err != nil {
		t.Fatal(err)
	}
	var disconnect uint32
	for _, c := range info.Controls {
		if c.Name == "Disconnect" {
			disconnect = c.ID
		}
	}
	if disconnect == 0 {
		t.Fatal("vivid has no Disconnect control")
	}
	// A long backoff leaves the driver unused long enough to be removed.
	c := vividCapture(t, path, Backoff{Min: 700 * time.Millisecond, Max: 700 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	frames := map[int64]int{} // frames per session
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(f Frame) error {
			mu.Lock()
			frames[c.Opens()]++
			mu.Unlock()
			return nil
		})
	}()
	count := func(session int64) int {
		mu.Lock()
		defer mu.Unlock()
		return frames[session]
	}
	waitFor(t, "first frames", func() bool { return count(1) >= 5 })

	// Unplug through a second handle, then take the driver away.
	sys := uapi.Kernel{}
	fd, err := sys.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SetControl(sys, fd, disconnect, 0); err != nil {
		t.Logf("disconnect: %v", err)
	}
	sys.Close(fd)
	waitFor(t, "rmmod vivid", func() bool { return exec.Command("sh", "-c", rmmod).Run() == nil })
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("%s still exists after rmmod", path)
	}
	if out, err := exec.Command("sh", "-c", modprobe).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", modprobe, err, out)
	}
	waitFor(t, "frames after reload", func() bool { return count(2) >= 5 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("frames per session: %v", frames)
}

// waitFor polls cond (every 20ms, up to 30s): a liveness bound for a test inside a VM, not a
// timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1500; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
