package device

import (
	"fmt"

	"github.com/camerad/camerad/device/uapi"
)

// querycap checks that the node is a streaming single-planar capture device.
func querycap(sys uapi.Sys, fd int) (uapi.Capability, error) {
	var c uapi.Capability
	if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_QUERYCAP, &c); err != nil {
		return c, err
	}
	caps := c.Caps()
	if caps&uapi.CapVideoCapture == 0 {
		return c, fmt.Errorf("%s (%s) is not a single-planar video capture device (caps %#x)",
			uapi.CString(c.Card[:]), uapi.CString(c.Driver[:]), caps)
	}
	if caps&uapi.CapStreaming == 0 {
		return c, fmt.Errorf("%s does not support streaming I/O", uapi.CString(c.Card[:]))
	}
	return c, nil
}

// negotiate asks for the format, size and rate in want and returns what the driver granted:
// S_FMT may adjust size and format, S_PARM may adjust the rate; both answers are reported
// back rather than treated as errors, as the driver knows what the sensor can do.
func negotiate(sys uapi.Sys, fd int, want Format) (Format, error) {
	f := uapi.Format{Type: uapi.BufTypeVideoCapture}
	pix := f.Pix()
	pix.Width, pix.Height = uint32(want.Width), uint32(want.Height)
	pix.PixelFormat = want.PixelFormat
	pix.Field = uapi.FieldNone
	if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_S_FMT, &f); err != nil {
		return Format{}, fmt.Errorf("set format %v: %w", want, err)
	}
	got := Format{
		PixelFormat:  pix.PixelFormat,
		Width:        int(pix.Width),
		Height:       int(pix.Height),
		BytesPerLine: int(pix.BytesPerLine),
		SizeImage:    int(pix.SizeImage),
	}
	if got.PixelFormat != want.PixelFormat {
		return got, fmt.Errorf("driver replaced %s with %s", uapi.FourCCString(want.PixelFormat), uapi.FourCCString(got.PixelFormat))
	}

	parm := uapi.StreamParm{Type: uapi.BufTypeVideoCapture}
	if want.FPS > 0 {
		cp := parm.Capture()
		cp.TimePerFrame = uapi.Fract{Numerator: 1000, Denominator: uint32(want.FPS * 1000)}
		if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_S_PARM, &parm); err != nil {
			// Some UVC cameras have a fixed rate and reject S_PARM; the stream still works.
			parm = uapi.StreamParm{Type: uapi.BufTypeVideoCapture}
			if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_G_PARM, &parm); err != nil {
				return got, nil
			}
		}
	} else if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_G_PARM, &parm); err != nil {
		return got, nil
	}
	if tpf := parm.Capture().TimePerFrame; tpf.Numerator > 0 && tpf.Denominator > 0 {
		got.FPS = float64(tpf.Denominator) / float64(tpf.Numerator)
	}
	return got, nil
}
