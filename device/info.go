package device

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/camerad/camerad/device/uapi"
)

// CameraInfo is what a V4L2 node says about itself.
type CameraInfo struct {
	Path, Driver, Card, Bus string
	Caps                    uint32
	Formats                 []FormatInfo
	Controls                []ControlInfo
}

// FormatInfo is one pixel format with its frame sizes.
type FormatInfo struct {
	PixelFormat uint32
	Description string
	Compressed  bool
	Sizes       []SizeInfo
}

// SizeInfo is a frame size (Stepwise: the largest of a range) with its frame rates.
type SizeInfo struct {
	Width, Height int
	Stepwise      bool
	FPS           []float64
}

// ControlInfo is one control with its range and current value.
type ControlInfo struct {
	ID                       uint32
	Name                     string
	Key                      string // camera.yml's name for it (ControlKey: "Horizontal Flip" is horizontal_flip)
	Min, Max, Default, Value int32
	Type, Flags              uint32 // as QUERYCTRL says (uapi.CtrlType*, uapi.CtrlFlag*): whether camera.yml can set it
}

// IsCamera reports whether the node captures video (single-planar streaming).
func (c CameraInfo) IsCamera() bool {
	return c.Caps&uapi.CapVideoCapture != 0 && c.Caps&uapi.CapStreaming != 0
}

// IsM2M reports whether the node is a multi-planar memory-to-memory device (an encoder).
func (c CameraInfo) IsM2M() bool { return c.Caps&uapi.CapVideoM2MMplane != 0 }

// HasFormat reports whether the camera offers pixel format f.
func (c CameraInfo) HasFormat(f uint32) bool {
	for _, fi := range c.Formats {
		if fi.PixelFormat == f {
			return true
		}
	}
	return false
}

// ErrNoCameraSupport is returned where camerad cannot drive V4L2.
var ErrNoCameraSupport = errors.New("camera support not compiled in (V4L2 needs Linux)")

// rawFormats are the raw formats an M2M encoder takes, best first (YUV420 is the encoder's
// native input on the Pi; YUYV is what most UVC cameras give).
var rawFormats = []uint32{uapi.PixFmtYUV420, uapi.PixFmtNV12, uapi.PixFmtYUYV}

// Path is how frames from a camera become H.264.
type Path int

// Capture paths.
const (
	PathNone        Path = iota // nothing usable
	PathPassthrough             // the camera encodes H.264
	PathRaw                     // raw frames for an M2M encoder
)

func (p Path) String() string {
	switch p {
	case PathPassthrough:
		return "passthrough"
	case PathRaw:
		return "raw+m2m"
	}
	return "none"
}

// Choose picks the capture path and pixel format: H.264 when the camera offers it, else the
// best raw format when an encoder is available.
func (c CameraInfo) Choose(haveEncoder bool) (Path, uint32) {
	if !c.IsCamera() {
		return PathNone, 0
	}
	if c.HasFormat(uapi.PixFmtH264) {
		return PathPassthrough, uapi.PixFmtH264
	}
	if haveEncoder {
		for _, f := range rawFormats {
			if c.HasFormat(f) {
				return PathRaw, f
			}
		}
	}
	return PathNone, 0
}

// Print writes a human-readable description, as `camerad -list-cameras` shows it.
func (c CameraInfo) Print(w io.Writer) {
	kind := "other"
	switch {
	case c.IsM2M():
		kind = "memory-to-memory (encoder/decoder)"
	case c.IsCamera():
		kind = "camera"
	}
	fmt.Fprintf(w, "%s: %s (driver %s, bus %s) — %s\n", c.Path, c.Card, c.Driver, c.Bus, kind)
	for _, f := range c.Formats {
		tag := ""
		if f.Compressed {
			tag = ", compressed"
		}
		fmt.Fprintf(w, "  format %s (%s%s)\n", uapi.FourCCString(f.PixelFormat), f.Description, tag)
		for _, s := range f.Sizes {
			var rates []string
			for _, r := range s.FPS {
				rates = append(rates, fmt.Sprintf("%g", r))
			}
			up := ""
			if s.Stepwise {
				up = "up to "
			}
			fmt.Fprintf(w, "    %s%dx%d", up, s.Width, s.Height)
			if len(rates) > 0 {
				fmt.Fprintf(w, " @ %s fps", strings.Join(rates, ", "))
			}
			fmt.Fprintln(w)
		}
	}
	if len(c.Controls) > 0 {
		fmt.Fprintln(w, "  controls (set in camera.yml as controls: {<name>: <value>}):")
	}
	// A control camera.yml cannot set is listed all the same, marked with the reason in place
	// of its range: a read-only one reports the camera's state (its value is shown), and one
	// that v4l2-ctl lists but camerad left out would look like a misspelling. The mark is on
	// the control's own line, so that it survives a grep.
	for _, ct := range c.Controls {
		label, _ := ct.cannotSet()
		switch {
		case label == "":
			fmt.Fprintf(w, "    %-32s = %d (min %d, max %d, default %d) %q %#08x\n", ct.Key, ct.Value, ct.Min, ct.Max, ct.Default, ct.Name, ct.ID)
		case ct.hasValue():
			fmt.Fprintf(w, "    %-32s = %d (%s: cannot be set from camera.yml) %q %#08x\n", ct.Key, ct.Value, label, ct.Name, ct.ID)
		default:
			fmt.Fprintf(w, "    %-32s (%s: cannot be set from camera.yml) %q %#08x\n", ct.Key, label, ct.Name, ct.ID)
		}
	}
	if p, f := c.Choose(true); p != PathNone {
		fmt.Fprintf(w, "  camerad would use: %s %s\n", uapi.FourCCString(f), p)
	}
}
