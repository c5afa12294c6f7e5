package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device/uapi"
	"github.com/camerad/camerad/device/uapi/uapitest"
)

const cam = "/dev/video0"

func h264Node(frames ...uapitest.Frame) *uapitest.Node {
	return &uapitest.Node{
		Driver: "bcm2835 mmal", Card: "mmal service 16.1",
		Caps:    uapi.CapVideoCapture | uapi.CapStreaming,
		Formats: []uint32{uapi.PixFmtH264, uapi.PixFmtYUV420},
		Frames:  frames,
		Controls: map[uint32]int32{
			uapi.CIDVideoBitrate: 10000000, uapi.CIDVideoH264IPeriod: 60,
			uapi.CIDVideoRepeatSeqHeader: 0, uapi.CIDVideoForceKeyFrame: 0,
		},
		BufSize: 4096,
	}
}

func frames(n int, start time.Duration) []uapitest.Frame {
	var fs []uapitest.Frame
	for i := 0; i < n; i++ {
		f := uapitest.Frame{Data: []byte(fmt.Sprintf("\x00\x00\x00\x01\x65frame%d", i)), Timestamp: start + time.Duration(i)*33*time.Millisecond}
		if i == 0 {
			f.Flags = uapi.BufFlagKeyframe
		}
		fs = append(fs, f)
	}
	return fs
}

func testConfig(sys uapi.Sys) Config {
	return Config{
		Path:     cam,
		Want:     Format{PixelFormat: uapi.PixFmtH264, Width: 1280, Height: 720, FPS: 30},
		Controls: EncoderControls(2_000_000, 30, -1, 0),
		Sys:      sys,
		Backoff:  Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

type got struct {
	data     string
	ts       time.Duration
	key      bool
	inMapped bool
}

// collect runs c until stop says so, recording frames.
func collect(t *testing.T, c *Capture, fake *uapitest.Fake, stop func([]got) bool) []got {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out []got
	err := c.Run(ctx, func(f Frame) error {
		out = append(out, got{string(f.Data), f.Timestamp, f.Keyframe, fake.IsMapped(&f.Data[0])})
		if stop(out) {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return out
}

func assertNoLeaks(t *testing.T, fake *uapitest.Fake) {
	t.Helper()
	if n := fake.OpenFDs(); n != 0 {
		t.Errorf("%d fds left open", n)
	}
	if n := fake.Mappings(); n != 0 {
		t.Errorf("%d buffers left mapped", n)
	}
}

func TestCaptureIoctlSequence(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{cam: h264Node(frames(3, time.Second)...)})
	c := NewCapture(testConfig(fake))
	out := collect(t, c, fake, func(g []got) bool { return len(g) == 3 })

	for i, g := range out {
		if !g.inMapped {
			t.Errorf("frame %d was not handed on in the driver's buffer", i)
		}
		if want := fmt.Sprintf("\x00\x00\x00\x01\x65frame%d", i); g.data != want {
			t.Errorf("frame %d = %q, want %q", i, g.data, want)
		}
		if want := time.Second + time.Duration(i)*33*time.Millisecond; g.ts != want {
			t.Errorf("frame %d timestamp %v, want the driver's %v", i, g.ts, want)
		}
		if g.key != (i == 0) {
			t.Errorf("frame %d keyframe = %v", i, g.key)
		}
	}
	if f := c.Format(); f == nil || f.String() != "H264 1280x720@30" {
		t.Errorf("format = %v", f)
	}

	calls := fake.Calls()
	want := []string{
		"open /dev/video0",
		"VIDIOC_QUERYCAP",
		"VIDIOC_S_FMT type=1 H264 1280x720",
		"VIDIOC_S_PARM type=1 timeperframe=1000/30000",
		fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=2000000", uapi.CIDVideoBitrate),
		fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=30", uapi.CIDVideoH264IPeriod),
		fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=1", uapi.CIDVideoRepeatSeqHeader),
		"VIDIOC_REQBUFS type=1 count=4 memory=1",
	}
	for i := 0; i < 4; i++ {
		want = append(want, fmt.Sprintf("VIDIOC_QUERYBUF type=1 index=%d", i), fmt.Sprintf("mmap offset=%#x len=4096", 1<<24|i<<12))
	}
	for i := 0; i < 4; i++ {
		want = append(want, fmt.Sprintf("VIDIOC_QBUF type=1 index=%d", i))
	}
	want = append(want, "VIDIOC_STREAMON type=1")
	for i := 0; i < 3; i++ {
		want = append(want, fmt.Sprintf("VIDIOC_DQBUF type=1 -> index=%d bytesused=%d", i, len(out[i].data)),
			fmt.Sprintf("VIDIOC_QBUF type=1 index=%d", i))
	}
	want = append(want, "VIDIOC_STREAMOFF type=1")
	for i := 0; i < 4; i++ {
		want = append(want, "munmap len=4096")
	}
	want = append(want, "VIDIOC_REQBUFS type=1 count=0 memory=1", "close")
	if len(calls) != len(want) {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(calls[i], want[i]) {
			t.Errorf("call %d = %q, want %q", i, calls[i], want[i])
		}
	}
	assertNoLeaks(t, fake)
}

func TestCaptureReopensAfterUnplug(t *testing.T) {
	fs := append(frames(2, time.Second), uapitest.Frame{Err: unix.ENODEV})
	fake := uapitest.New(map[string]*uapitest.Node{cam: h264Node(fs...)})
	c := NewCapture(testConfig(fake))

	var once sync.Once
	replugged := make(chan struct{})
	out := collect(t, c, fake, func(g []got) bool {
		if len(g) == 2 {
			once.Do(func() {
				// Replug once the capture has noticed and failed to reopen the missing node.
				go func() {
					defer close(replugged)
					for fake.Count("open") < 3 {
						time.Sleep(time.Millisecond)
					}
					n := fake.Node(cam)
					fake.Update(func() {
						n.Gone = false
						n.Frames = frames(2, 5*time.Second)
					})
				}()
			})
		}
		return len(g) == 4
	})
	<-replugged
	if len(out) != 4 || out[2].ts != 5*time.Second {
		t.Errorf("frames after replug: %+v", out)
	}
	if c.Opens() != 2 {
		t.Errorf("opens = %d, want 2", c.Opens())
	}
	assertNoLeaks(t, fake)
}

func TestCaptureErroredBuffersReopen(t *testing.T) {
	var fs []uapitest.Frame
	fs = append(fs, frames(1, time.Second)...)
	for i := 0; i < 3; i++ {
		fs = append(fs, uapitest.Frame{Data: []byte("junk"), Flags: uapi.BufFlagError})
	}
	fs = append(fs, frames(1, 2*time.Second)...)
	for i := 0; i < 8; i++ { // MaxErroredBuffers in a row: reopen
		fs = append(fs, uapitest.Frame{Data: []byte("junk"), Flags: uapi.BufFlagError})
	}
	fs = append(fs, frames(1, 3*time.Second)...)
	fake := uapitest.New(map[string]*uapitest.Node{cam: h264Node(fs...)})
	c := NewCapture(testConfig(fake))
	out := collect(t, c, fake, func(g []got) bool { return len(g) == 3 })
	for _, g := range out {
		if strings.Contains(g.data, "junk") {
			t.Errorf("errored buffer delivered: %q", g.data)
		}
	}
	if c.Opens() != 2 {
		t.Errorf("opens = %d, want 2 (one reopen after 8 errored buffers in a row)", c.Opens())
	}
	assertNoLeaks(t, fake)
}

func TestCaptureStallReopens(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{cam: h264Node(frames(1, time.Second)...)})
	cfg := testConfig(fake)
	cfg.StallTimeout = 3 * pollSlice
	c := NewCapture(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for c.Opens() < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := c.Run(ctx, func(Frame) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// Three polls without a frame per session, then STREAMOFF and a new open.
	if n := fake.Count("VIDIOC_STREAMOFF"); n < 2 {
		t.Errorf("STREAMOFF %d times, want a stream torn down per stall", n)
	}
	assertNoLeaks(t, fake)
}

func TestCaptureStreamOnFailureUnwinds(t *testing.T) {
	n := h264Node()
	n.Fail = map[string]error{"VIDIOC_STREAMON": unix.EIO}
	fake := uapitest.New(map[string]*uapitest.Node{cam: n})
	c := NewCapture(testConfig(fake))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for fake.Count("open") < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := c.Run(ctx, func(Frame) error { return nil }); err != nil {
		t.Fatal(err)
	}
	calls := fake.Requests()
	// After the failed STREAMON: no STREAMOFF (never on), all buffers unmapped, freed, closed.
	i := indexOf(calls, "VIDIOC_STREAMON")
	tail := calls[i+1 : i+7]
	want := []string{"munmap", "munmap", "munmap", "munmap", "VIDIOC_REQBUFS", "close"}
	if strings.Join(tail, " ") != strings.Join(want, " ") {
		t.Errorf("after failed STREAMON: %v, want %v", tail, want)
	}
	if c.Opens() != 0 {
		t.Errorf("opens = %d, want 0", c.Opens())
	}
	assertNoLeaks(t, fake)
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestCaptureForceKeyframe(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{cam: h264Node(frames(3, time.Second)...)})
	c := NewCapture(testConfig(fake))
	collect(t, c, fake, func(g []got) bool {
		if len(g) == 1 {
			c.ForceKeyframe()
		}
		return len(g) == 3
	})
	calls := fake.Calls()
	force := fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=1", uapi.CIDVideoForceKeyFrame)
	// Asked for while frame 0 was being handled: sent before the next DQBUF.
	i, first, second := indexOf(calls, force), indexOf(calls, "VIDIOC_DQBUF type=1 -> index=0 bytesused=11 flags=0x8"),
		indexOf(calls, "VIDIOC_DQBUF type=1 -> index=1 bytesused=11 flags=0x0")
	if i < 0 || first < 0 || second < 0 || i < first || i > second {
		t.Errorf("FORCE_KEY_FRAME at %d, want between the DQBUFs at %d and %d:\n%s", i, first, second, strings.Join(calls, "\n"))
	}
	if fake.Count(force) != 1 {
		t.Errorf("FORCE_KEY_FRAME sent %d times, want once", fake.Count(force))
	}
}

func TestCaptureCallbackErrorEndsRun(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{cam: h264Node(frames(3, time.Second)...)})
	c := NewCapture(testConfig(fake))
	boom := errors.New("boom")
	if err := c.Run(context.Background(), func(Frame) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the callback's error", err)
	}
	assertNoLeaks(t, fake)
}

func TestNegotiateRejectsReplacedFormat(t *testing.T) {
	n := h264Node()
	n.Formats = []uint32{uapi.PixFmtYUYV}
	fake := uapitest.New(map[string]*uapitest.Node{cam: n})
	fd, _ := fake.Open(cam)
	defer fake.Close(fd)
	_, err := negotiate(fake, fd, Format{PixelFormat: uapi.PixFmtH264, Width: 640, Height: 480, FPS: 30})
	if err == nil || !strings.Contains(err.Error(), "replaced H264 with YUYV") {
		t.Fatalf("negotiate = %v, want a replaced-format error", err)
	}
}

func TestQuerycapRejectsNonCapture(t *testing.T) {
	n := h264Node()
	n.Caps = uapi.CapVideoM2MMplane | uapi.CapStreaming
	fake := uapitest.New(map[string]*uapitest.Node{cam: n})
	fd, _ := fake.Open(cam)
	defer fake.Close(fd)
	if _, err := querycap(fake, fd); err == nil {
		t.Fatal("querycap accepted an M2M node as a camera")
	}
}
