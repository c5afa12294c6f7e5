package device

import (
	"fmt"
	"time"

	"github.com/camerad/camerad/device/uapi"
)

// Frame is one buffer dequeued from the camera. Data aliases the driver's mmap buffer and
// is valid only until the callback that receives it returns; the buffer is then queued back.
type Frame struct {
	Data []byte
	// Timestamp is the driver's capture time on CLOCK_MONOTONIC.
	Timestamp time.Duration
	Sequence  uint32
	// Keyframe is the driver's V4L2_BUF_FLAG_KEYFRAME (encoding cameras).
	Keyframe bool
	Format   Format
}

// Format is a negotiated capture format.
type Format struct {
	PixelFormat   uint32
	Width, Height int
	BytesPerLine  int
	SizeImage     int
	// FPS is the frame rate the driver accepted (0 when it does not report one).
	FPS float64
}

// String renders a format as "H264 1280x720@30".
func (f Format) String() string {
	s := fmt.Sprintf("%s %dx%d", uapi.FourCCString(f.PixelFormat), f.Width, f.Height)
	if f.FPS > 0 {
		s += fmt.Sprintf("@%g", f.FPS)
	}
	return s
}

// IsH264 reports whether the camera delivers H.264 itself.
func (f Format) IsH264() bool { return f.PixelFormat == uapi.PixFmtH264 }
