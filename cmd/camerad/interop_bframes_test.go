package main

import (
	"strconv"
	"strings"
	"testing"
)

// TestInteropBFramesInDisplayOrder: a file with B-frames (x264 High profile, B-pyramid) is
// served with display-time RTP timestamps: ffprobe, over UDP and TCP, sees the decoded
// pictures' timestamps rise by exactly one frame period each, as they would from the file
// itself. Stamped in arrival (decode) order, they would jump back and forth around every
// B-frame.
func TestInteropBFramesInDisplayOrder(t *testing.T) {
	ffprobe := interopNeed(t, "ffprobe", "ffmpeg")
	c := interopStart(t, "-source", "file:../../encoder/h264/testdata/bframes.h264", "-multicast", "off")
	for _, tr := range interopTransports {
		t.Run(tr, func(t *testing.T) {
			out, stderr, err := interopRun(t, c, ffprobe, "-v", "error", "-rtsp_transport", tr,
				"-read_intervals", "%+2", "-show_entries", "frame=pts", "-of", "csv=p=0", c.url)
			if err != nil {
				t.Fatalf("ffprobe over %s: %v\n%s", tr, err, stderr)
			}
			var pts []int64
			for _, line := range strings.Split(out, "\n") {
				f := strings.Split(strings.TrimSpace(line), ",")[0]
				if v, err := strconv.ParseInt(f, 10, 64); err == nil {
					pts = append(pts, v)
				}
			}
			if len(pts) < 30 {
				t.Fatalf("ffprobe decoded %d pictures with a timestamp in 2 s, want 30 or more:\n%s", len(pts), out)
			}
			for i := 1; i < len(pts); i++ {
				if d := pts[i] - pts[i-1]; d != 3000 {
					t.Fatalf("picture %d at %d, %d after the previous one; want 3000 (one 30 fps period at 90 kHz)\n%v", i, pts[i], d, pts)
				}
			}
		})
	}
}
