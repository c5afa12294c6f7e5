package v4l2src

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/device/uapi"
	"github.com/camerad/camerad/device/uapi/uapitest"
	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
	"github.com/camerad/camerad/encoder/m2m"
)

// faultySys is the fake kernel with a camera paced like a real one (a frame per poll, 10 ms
// apart) and, with hungEncoder set, an encoder that takes frames and never returns one.
type faultySys struct {
	*uapitest.Fake
	hungEncoder bool
	mu          sync.Mutex
	encoderFDs  map[int]bool
}

func (f *faultySys) Open(path string) (int, error) {
	fd, err := f.Fake.Open(path)
	if err == nil && path == m2m.DefaultPath {
		f.mu.Lock()
		f.encoderFDs[fd] = true
		f.mu.Unlock()
	}
	return fd, err
}

func (f *faultySys) isEncoder(fd int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.encoderFDs[fd]
}

func (f *faultySys) Poll(fd int, events int16, timeoutMS int) (int16, error) {
	if !f.isEncoder(fd) {
		time.Sleep(10 * time.Millisecond)
	} else if f.hungEncoder {
		time.Sleep(time.Millisecond)
		return 0, nil
	}
	return f.Fake.Poll(fd, events, timeoutMS)
}

func (f *faultySys) Ioctl(fd int, req uint, arg unsafe.Pointer) error {
	if f.hungEncoder && req == uapi.VIDIOC_DQBUF && f.isEncoder(fd) {
		return unix.EAGAIN
	}
	return f.Fake.Ioctl(fd, req, arg)
}

// runFaultyEncoder runs an M2M source for d on a camera of 1000-byte raw frames and an
// encoder node modified by mod, and returns how often the encoder was opened and the log.
func runFaultyEncoder(t *testing.T, mod func(*uapitest.Node), hung bool, d time.Duration) (opens int, log string) {
	t.Helper()
	var frames []uapitest.Frame
	for i := range 200 {
		frames = append(frames, uapitest.Frame{Data: make([]byte, 1000), Timestamp: time.Duration(i+1) * 33 * time.Millisecond})
	}
	codec := &uapitest.Node{Driver: "bcm2835-codec", Card: "bcm2835-codec-encode", Caps: uapi.CapVideoM2MMplane | uapi.CapStreaming,
		BufSize: 4096, Controls: map[uint32]int32{uapi.CIDVideoForceKeyFrame: 0},
		Encode: func([]byte, bool) []byte { return h264.AppendAnnexB(nil, sps, pps, idr) }}
	mod(codec)
	fake := uapitest.New(map[string]*uapitest.Node{"/dev/video0": camNode(frames, uapi.PixFmtYUV420), m2m.DefaultPath: codec})
	sys := &faultySys{Fake: fake, hungEncoder: hung, encoderFDs: map[int]bool{}}
	var logs syncBuffer
	lg := slog.New(slog.NewTextHandler(&logs, nil))
	src := &M2M{Pool: encoder.NewPool(), Log: lg, Encoder: m2m.Config{Sys: sys, StallTimeout: 100 * time.Millisecond},
		Camera: device.NewCapture(device.Config{Path: "/dev/video0",
			Want: device.Format{PixelFormat: uapi.PixFmtYUV420, Width: 640, Height: 480, FPS: 30},
			Sys:  sys, Log: lg, Backoff: device.Backoff{Min: time.Second}})}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var s sink
	if err := src.Run(ctx, s.publish); err != nil {
		t.Fatal(err)
	}
	for _, au := range s.aus {
		au.Release()
	}
	if fake.OpenFDs() != 0 || fake.Mappings() != 0 {
		t.Errorf("leaked %d fds, %d mappings", fake.OpenFDs(), fake.Mappings())
	}
	return fake.Count("open " + m2m.DefaultPath), logs.String()
}

// TestM2MSourceBacksOffEncoderFaults: an encoder that opens and then faults at once is
// reopened after a growing backoff (200 ms, 400 ms, ...), not at every camera frame, and
// the log says what the fault was.
func TestM2MSourceBacksOffEncoderFaults(t *testing.T) {
	for name, tc := range map[string]struct {
		mod  func(*uapitest.Node)
		says string
	}{
		"frame larger than the encoder's buffer": {func(n *uapitest.Node) { n.BufSize = 512 }, "exceeds the encoder's 512-byte buffer"},
		"encoder DQBUF fails":                    {func(n *uapitest.Node) { n.Fail = map[string]error{"VIDIOC_DQBUF": unix.EIO} }, "input/output error"},
	} {
		t.Run(name, func(t *testing.T) {
			// About 70 camera frames in 700 ms; opens at 0, 0.2 and 0.6 s.
			opens, log := runFaultyEncoder(t, tc.mod, false, 700*time.Millisecond)
			if opens < 2 || opens > 4 {
				t.Errorf("encoder opened %d times in 700 ms; want 2 to 4 (reopened after a backoff)", opens)
			}
			if !strings.Contains(log, "hardware encoder fault; reopening") || !strings.Contains(log, tc.says) {
				t.Errorf("the log does not say the encoder faulted with %q:\n%s", tc.says, log)
			}
		})
	}
}

// TestM2MSourceReopensHungEncoder: an encoder that stops returning frames while the camera
// streams on is found stalled and reopened, with a log line, instead of freezing the picture.
func TestM2MSourceReopensHungEncoder(t *testing.T) {
	opens, log := runFaultyEncoder(t, func(*uapitest.Node) {}, true, 800*time.Millisecond)
	if opens < 2 || !strings.Contains(log, "returned no frame") {
		t.Errorf("a hung encoder was opened %d times; want it found stalled and reopened:\n%s", opens, log)
	}
}

// syncBuffer is a log destination safe for the camera and drain goroutines together.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
