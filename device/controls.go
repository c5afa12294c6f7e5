package device

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device/uapi"
)

// Control is one control value to apply after opening a camera.
type Control struct {
	ID    uint32
	Value int32
}

// EncoderControls returns the controls that configure a camera's (or encoder's) H.264:
// zero values are left at the driver's default.
func EncoderControls(bitrate, iPeriod int, profile int32, levelIDC int) []Control {
	var cs []Control
	if bitrate > 0 {
		cs = append(cs, Control{uapi.CIDVideoBitrate, int32(bitrate)})
	}
	if iPeriod > 0 {
		cs = append(cs, Control{uapi.CIDVideoH264IPeriod, int32(iPeriod)})
	}
	if profile >= 0 {
		cs = append(cs, Control{uapi.CIDVideoH264Profile, profile})
	}
	if lv, ok := uapi.H264Level(levelIDC); ok {
		cs = append(cs, Control{uapi.CIDVideoH264Level, lv})
	}
	// Every IDR must carry SPS and PPS so a viewer can join at any keyframe.
	cs = append(cs, Control{uapi.CIDVideoRepeatSeqHeader, 1})
	return cs
}

// ErrNoControl means the device does not have the control.
var ErrNoControl = errors.New("no such control")

// SetControl sets a control with VIDIOC_S_CTRL (the kernel maps it onto extended controls of
// any class) and returns the value the driver kept, which it may have clamped.
func SetControl(sys uapi.Sys, fd int, id uint32, v int32) (int32, error) {
	c := uapi.Control{ID: id, Value: v}
	if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_S_CTRL, &c); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return 0, fmt.Errorf("control %#x: %w", id, ErrNoControl)
		}
		return 0, fmt.Errorf("set control %#x=%d: %w", id, v, err)
	}
	return c.Value, nil
}

// GetControl reads a control's current value.
func GetControl(sys uapi.Sys, fd int, id uint32) (int32, error) {
	c := uapi.Control{ID: id}
	if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_G_CTRL, &c); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return 0, fmt.Errorf("control %#x: %w", id, ErrNoControl)
		}
		return 0, fmt.Errorf("get control %#x: %w", id, err)
	}
	return c.Value, nil
}

// applyControls sets each control. A control the camera lacks is skipped (reported through
// skipped) — cameras differ and none is essential; a device fault aborts.
func applyControls(sys uapi.Sys, fd int, cs []Control, skipped func(Control, error)) error {
	for _, c := range cs {
		if _, err := SetControl(sys, fd, c.ID, c.Value); err != nil {
			if uapi.IsGone(err) {
				return err
			}
			skipped(c, err)
		}
	}
	return nil
}
