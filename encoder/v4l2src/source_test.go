package v4l2src

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/device/uapi"
	"github.com/camerad/camerad/device/uapi/uapitest"
	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
	"github.com/camerad/camerad/encoder/m2m"
)

var (
	sps   = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8}
	pps   = []byte{0x68, 0xce, 0x3c, 0x80}
	idr   = []byte{0x65, 0x88, 0x84, 0x00, 0x33}
	slice = []byte{0x41, 0x9a, 0x02, 0x03}
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

func camNode(frames []uapitest.Frame, formats ...uint32) *uapitest.Node {
	return &uapitest.Node{Driver: "uvcvideo", Card: "Test Cam", Caps: uapi.CapVideoCapture | uapi.CapStreaming,
		Formats: formats, Frames: frames, BufSize: 1 << 16, Controls: map[uint32]int32{uapi.CIDVideoForceKeyFrame: 0}}
}

type sink struct {
	mu  sync.Mutex
	aus []*encoder.AccessUnit
}

func (s *sink) publish(au *encoder.AccessUnit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aus = append(s.aus, au)
}

func (s *sink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.aus)
}

func types(au *encoder.AccessUnit) []h264.NALType {
	var ts []h264.NALType
	for _, n := range au.NALUs() {
		ts = append(ts, h264.TypeOf(n))
	}
	return ts
}

func equalTypes(a []h264.NALType, b ...h264.NALType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func runUntil(t *testing.T, src encoder.Source, s *sink, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, s.publish) }()
	for s.len() < n {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPassthroughAccessUnits(t *testing.T) {
	frames := []uapitest.Frame{
		{Data: h264.AppendAnnexB(nil, []byte{0x09, 0xf0}, sps, pps, idr), Flags: uapi.BufFlagKeyframe, Timestamp: time.Second},
		{Data: h264.AppendAnnexB(nil, slice), Timestamp: time.Second + 33*time.Millisecond},
		{Data: h264.AppendAnnexB(nil, idr), Flags: uapi.BufFlagKeyframe, Timestamp: time.Second + 66*time.Millisecond}, // no SPS/PPS: repeat cached ones
	}
	fake := uapitest.New(map[string]*uapitest.Node{"/dev/video0": camNode(frames, uapi.PixFmtH264)})
	pool := encoder.NewPool()
	src := &Passthrough{Pool: pool, Log: quiet, Capture: device.NewCapture(device.Config{
		Path: "/dev/video0", Want: device.Format{PixelFormat: uapi.PixFmtH264, Width: 640, Height: 480, FPS: 30},
		Sys: fake, Log: quiet, Backoff: device.Backoff{Min: time.Millisecond}})}
	var s sink
	runUntil(t, src, &s, 3)

	if got := types(s.aus[0]); !equalTypes(got, h264.NALSPS, h264.NALPPS, h264.NALSEI, h264.NALIDR) {
		t.Errorf("keyframe AU types %v", got)
	}
	if got := types(s.aus[1]); !equalTypes(got, h264.NALSlice) {
		t.Errorf("P AU types %v, want the slice alone", got)
	}
	if got := types(s.aus[2]); !equalTypes(got, h264.NALSPS, h264.NALPPS, h264.NALSEI, h264.NALIDR) {
		t.Errorf("IDR without parameter sets: AU types %v, want cached SPS/PPS repeated", got)
	}
	for i, au := range s.aus {
		if au.Keyframe != (i != 1) {
			t.Errorf("AU %d keyframe %v", i, au.Keyframe)
		}
		if au.PTS != frames[i].Timestamp {
			t.Errorf("AU %d PTS %v, want driver timestamp %v", i, au.PTS, frames[i].Timestamp)
		}
		var sei []byte
		for _, n := range au.NALUs() {
			if h264.TypeOf(n) == h264.NALSEI {
				sei = n
			}
		}
		if ts, ok := h264.ParseCaptureTimeSEI(sei); au.Keyframe && (!ok || !ts.Equal(au.Captured.Truncate(time.Microsecond))) {
			t.Errorf("AU %d capture-time SEI %v %v, want %v", i, ts, ok, au.Captured)
		}
		au.Release()
	}
	if n := pool.Outstanding(); n != 0 {
		t.Errorf("%d access units leaked", n)
	}
}

func TestM2MSourceEncodesRawFrames(t *testing.T) {
	raw := make([]byte, 640*480*3/2)
	var frames []uapitest.Frame
	for i := 0; i < 5; i++ {
		frames = append(frames, uapitest.Frame{Data: raw, Timestamp: time.Duration(i+1) * time.Second})
	}
	first := true
	codec := &uapitest.Node{Driver: "bcm2835-codec", Card: "bcm2835-codec-encode", Caps: uapi.CapVideoM2MMplane | uapi.CapStreaming,
		BufSize: len(raw), Controls: map[uint32]int32{uapi.CIDVideoForceKeyFrame: 0},
		Encode: func(in []byte, key bool) []byte {
			if first || key {
				first = false
				return h264.AppendAnnexB(nil, sps, pps, idr)
			}
			return h264.AppendAnnexB(nil, slice)
		}}
	fake := uapitest.New(map[string]*uapitest.Node{
		"/dev/video0":   camNode(frames, uapi.PixFmtYUV420),
		m2m.DefaultPath: codec,
	})
	pool := encoder.NewPool()
	src := &M2M{Pool: pool, Log: quiet, Encoder: m2m.Config{Sys: fake, Bitrate: 1_000_000},
		Camera: device.NewCapture(device.Config{Path: "/dev/video0",
			Want: device.Format{PixelFormat: uapi.PixFmtYUV420, Width: 640, Height: 480, FPS: 30},
			Sys:  fake, Log: quiet, Backoff: device.Backoff{Min: time.Millisecond}})}
	var s sink
	runUntil(t, src, &s, 5)
	if !s.aus[0].Keyframe || !equalTypes(types(s.aus[0]), h264.NALSPS, h264.NALPPS, h264.NALSEI, h264.NALIDR) {
		t.Errorf("first AU %v keyframe=%v", types(s.aus[0]), s.aus[0].Keyframe)
	}
	for i, au := range s.aus {
		if au.PTS != time.Duration(i+1)*time.Second {
			t.Errorf("AU %d PTS %v: the camera's timestamp must survive the encoder", i, au.PTS)
		}
		au.Release()
	}
	if n := pool.Outstanding(); n != 0 {
		t.Errorf("%d access units leaked", n)
	}
	if fake.OpenFDs() != 0 || fake.Mappings() != 0 {
		t.Errorf("leaked %d fds, %d mappings", fake.OpenFDs(), fake.Mappings())
	}
}
