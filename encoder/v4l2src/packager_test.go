package v4l2src

import (
	"testing"
	"time"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/device/uapi"
	"github.com/camerad/camerad/device/uapi/uapitest"
	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

// passthroughOf runs a passthrough source over frames until want access units are out.
func passthroughOf(t *testing.T, frames []uapitest.Frame, want int) []*encoder.AccessUnit {
	t.Helper()
	fake := uapitest.New(map[string]*uapitest.Node{"/dev/video0": camNode(frames, uapi.PixFmtH264)})
	src := &Passthrough{Pool: encoder.NewPool(), Log: quiet, Capture: device.NewCapture(device.Config{
		Path: "/dev/video0", Want: device.Format{PixelFormat: uapi.PixFmtH264, Width: 640, Height: 480, FPS: 30},
		Sys: fake, Log: quiet, Backoff: device.Backoff{Min: time.Millisecond}})}
	var s sink
	runUntil(t, src, &s, want)
	t.Cleanup(func() {
		for _, au := range s.aus {
			au.Release()
		}
	})
	return s.aus[:want]
}

// TestPassthroughHeaderOnlyBuffer: a buffer of SPS and PPS alone is not a frame: its
// parameter sets go in front of the IDR that follows, with the IDR's timestamp.
func TestPassthroughHeaderOnlyBuffer(t *testing.T) {
	aus := passthroughOf(t, []uapitest.Frame{
		{Data: h264.AppendAnnexB(nil, sps, pps), Timestamp: time.Second},
		{Data: h264.AppendAnnexB(nil, idr), Flags: uapi.BufFlagKeyframe, Timestamp: time.Second + 33*time.Millisecond},
		{Data: h264.AppendAnnexB(nil, slice), Timestamp: time.Second + 66*time.Millisecond},
	}, 2)
	if got := types(aus[0]); !aus[0].Keyframe || !equalTypes(got, h264.NALSPS, h264.NALPPS, h264.NALSEI, h264.NALIDR) {
		t.Errorf("first access unit %v (keyframe %v), want SPS, PPS, SEI, IDR", got, aus[0].Keyframe)
	}
	if aus[0].PTS != time.Second+33*time.Millisecond || aus[1].PTS != time.Second+66*time.Millisecond {
		t.Errorf("PTS %v, %v; want the IDR's and the slice's", aus[0].PTS, aus[1].PTS)
	}
}

// TestPassthroughUnusableTimestamps: zero, repeated and backward driver timestamps give
// strictly increasing PTS; after the driver's clock goes back its spacing is kept.
func TestPassthroughUnusableTimestamps(t *testing.T) {
	stamps := []time.Duration{0, 0, 5 * time.Second, 5 * time.Second, 4 * time.Second, 4*time.Second + 33*time.Millisecond,
		4*time.Second + 66*time.Millisecond}
	var frames []uapitest.Frame
	for i, ts := range stamps {
		f := uapitest.Frame{Data: h264.AppendAnnexB(nil, slice), Timestamp: ts}
		if i == 0 {
			f = uapitest.Frame{Data: h264.AppendAnnexB(nil, sps, pps, idr), Flags: uapi.BufFlagKeyframe, Timestamp: ts}
		}
		frames = append(frames, f)
	}
	aus := passthroughOf(t, frames, len(stamps))
	for i := 1; i < len(aus); i++ {
		if aus[i].PTS <= aus[i-1].PTS {
			t.Errorf("AU %d PTS %v not after AU %d's %v (driver timestamps %v, %v)", i, aus[i].PTS, i-1, aus[i-1].PTS, stamps[i-1], stamps[i])
		}
	}
	if d := aus[5].PTS - aus[4].PTS; d != 33*time.Millisecond {
		t.Errorf("after the driver's clock went back, PTS step %v, want its 33ms", d)
	}
	if d := aus[6].PTS - aus[5].PTS; d != 33*time.Millisecond {
		t.Errorf("PTS step %v, want 33ms", d)
	}
}
