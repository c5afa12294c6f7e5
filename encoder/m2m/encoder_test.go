package m2m

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device/uapi"
	"github.com/camerad/camerad/device/uapi/uapitest"
)

// codecNode plays bcm2835-codec's encoder: each raw frame becomes "coded:<first bytes>".
func codecNode() *uapitest.Node {
	return &uapitest.Node{
		Driver: "bcm2835-codec", Card: "bcm2835-codec-encode",
		Caps:    uapi.CapVideoM2MMplane | uapi.CapStreaming,
		BufSize: 640 * 480 * 3 / 2,
		Controls: map[uint32]int32{
			uapi.CIDVideoBitrate: 10_000_000, uapi.CIDVideoH264IPeriod: 60, uapi.CIDVideoH264Profile: 4,
			uapi.CIDVideoH264Level: 11, uapi.CIDVideoRepeatSeqHeader: 0, uapi.CIDVideoForceKeyFrame: 0,
		},
		Encode: func(in []byte, key bool) []byte {
			return []byte(fmt.Sprintf("coded:%s:%v", in[:6], key))
		},
	}
}

func testConfig(fake *uapitest.Fake) Config {
	return Config{
		Path: DefaultPath, InputFormat: uapi.PixFmtYUV420, Width: 640, Height: 480, FPS: 30,
		Bitrate: 2_000_000, IPeriod: 30, Profile: uapi.H264ProfileHigh, LevelIDC: 40,
		Sys: fake, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestEncoderIoctlSequence(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{DefaultPath: codecNode()})
	e, err := Open(testConfig(fake))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"open /dev/video11",
		"VIDIOC_QUERYCAP",
		"VIDIOC_S_FMT type=10 YU12 640x480 planes=1",
		"VIDIOC_S_FMT type=9 H264 640x480 planes=1",
		"VIDIOC_S_PARM type=10 timeperframe=1/30",
		fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=2000000", uapi.CIDVideoBitrate),
		fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=30", uapi.CIDVideoH264IPeriod),
		fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=4", uapi.CIDVideoH264Profile),
		fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=11", uapi.CIDVideoH264Level),
		fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=1", uapi.CIDVideoRepeatSeqHeader),
		"VIDIOC_REQBUFS type=10 count=4 memory=1",
	}
	for i := 0; i < 4; i++ {
		want = append(want, fmt.Sprintf("VIDIOC_QUERYBUF type=10 index=%d", i), fmt.Sprintf("mmap offset=%#x", 10<<24|i<<12))
	}
	want = append(want, "VIDIOC_REQBUFS type=9 count=4 memory=1")
	for i := 0; i < 4; i++ {
		want = append(want, fmt.Sprintf("VIDIOC_QUERYBUF type=9 index=%d", i), fmt.Sprintf("mmap offset=%#x", 9<<24|i<<12))
	}
	for i := 0; i < 4; i++ {
		want = append(want, fmt.Sprintf("VIDIOC_QBUF type=9 index=%d", i))
	}
	want = append(want, "VIDIOC_STREAMON type=10", "VIDIOC_STREAMON type=9")
	checkPrefix(t, fake.Calls(), want)

	// Encode more frames than there are buffers, each drained before the next: buffers recycle.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coded := make(chan Coded)
	done := make(chan error, 1)
	go func() {
		done <- e.Drain(ctx, func(c Coded) error {
			coded <- Coded{Data: bytes.Clone(c.Data), Timestamp: c.Timestamp, Keyframe: c.Keyframe}
			return nil
		})
	}()
	for i := 0; i < 10; i++ {
		if i == 5 {
			e.RequestKeyframe()
		}
		raw := bytes.Repeat([]byte{byte('a' + i)}, 640*480*3/2)
		if err := e.Submit(raw, time.Duration(i)*time.Second); err != nil {
			t.Fatal(err)
		}
		c := <-coded
		if want := fmt.Sprintf("coded:%s:%v", bytes.Repeat([]byte{byte('a' + i)}, 6), i == 5); string(c.Data) != want {
			t.Errorf("frame %d: %q, want %q", i, c.Data, want)
		}
		if c.Timestamp != time.Duration(i)*time.Second {
			t.Errorf("frame %d: timestamp %v not copied from the raw frame", i, c.Timestamp)
		}
		if c.Keyframe != (i == 5) {
			t.Errorf("frame %d: keyframe %v", i, c.Keyframe)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e.Dropped() != 0 {
		t.Errorf("dropped %d", e.Dropped())
	}
	force := fmt.Sprintf("VIDIOC_S_CTRL id=%#x value=1", uapi.CIDVideoForceKeyFrame)
	if n := fake.Count(force); n != 1 {
		t.Errorf("FORCE_KEY_FRAME sent %d times", n)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tail := fake.Requests()
	tail = tail[len(tail)-13:]
	wantTail := "VIDIOC_STREAMOFF VIDIOC_STREAMOFF munmap munmap munmap munmap VIDIOC_REQBUFS munmap munmap munmap munmap VIDIOC_REQBUFS close"
	if strings.Join(tail, " ") != wantTail {
		t.Errorf("close sequence %v", tail)
	}
	assertNoLeaks(t, fake)
}

func checkPrefix(t *testing.T, calls, want []string) {
	t.Helper()
	if len(calls) < len(want) {
		t.Fatalf("calls:\n%s", strings.Join(calls, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(calls[i], want[i]) {
			t.Errorf("call %d = %q, want %q", i, calls[i], want[i])
		}
	}
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

func TestEncoderDropsWhenFull(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{DefaultPath: codecNode()})
	e, err := Open(testConfig(fake))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	raw := make([]byte, 1000)
	// Nobody drains: 4 frames fill the CAPTURE queue, 4 more wait in OUTPUT, the 9th is dropped.
	for i := 0; i < 9; i++ {
		if err := e.Submit(raw, 0); err != nil {
			t.Fatal(err)
		}
	}
	if e.Dropped() != 1 {
		t.Errorf("dropped = %d, want 1", e.Dropped())
	}
}

func TestEncoderOpenErrorsUnwind(t *testing.T) {
	cases := map[string]func(*uapitest.Node){
		"not m2m":         func(n *uapitest.Node) { n.Caps = uapi.CapVideoCapture | uapi.CapStreaming },
		"streamon fails":  func(n *uapitest.Node) { n.Fail = map[string]error{"VIDIOC_STREAMON": unix.EIO} },
		"wrong input":     func(n *uapitest.Node) { n.Formats = []uint32{uapi.PixFmtNV12} },
		"capture reqbufs": func(n *uapitest.Node) { n.Fail = map[string]error{"VIDIOC_QUERYBUF": unix.EINVAL} },
		"gone":            func(n *uapitest.Node) { n.Gone = true },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			n := codecNode()
			mod(n)
			fake := uapitest.New(map[string]*uapitest.Node{DefaultPath: n})
			if _, err := Open(testConfig(fake)); err == nil {
				t.Fatal("Open succeeded")
			} else if name == "not m2m" && !errors.Is(err, ErrNotEncoder) {
				t.Errorf("err = %v, want ErrNotEncoder", err)
			}
			assertNoLeaks(t, fake)
		})
	}
}

func TestDrainReportsDeviceLoss(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{DefaultPath: codecNode()})
	e, err := Open(testConfig(fake))
	if err != nil {
		t.Fatal(err)
	}
	n := fake.Node(DefaultPath)
	fake.Update(func() { n.Gone = true })
	if err := e.Drain(context.Background(), func(Coded) error { return nil }); err == nil {
		t.Fatal("Drain returned nil on a vanished encoder")
	}
	e.Close() // errors expected (ENODEV), but everything must be released
	assertNoLeaks(t, fake)
}
