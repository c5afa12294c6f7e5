package device

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device/uapi"
)

// ListCameras inspects every /dev/video* node (cameras, encoders and anything else V4L2).
func ListCameras() ([]CameraInfo, error) {
	paths, err := filepath.Glob("/dev/video*")
	if err != nil {
		return nil, fmt.Errorf("list /dev/video*: %w", err)
	}
	sort.Slice(paths, func(i, j int) bool {
		if len(paths[i]) != len(paths[j]) {
			return len(paths[i]) < len(paths[j])
		}
		return paths[i] < paths[j]
	})
	var out []CameraInfo
	var errs []error
	for _, p := range paths {
		info, err := Inspect(uapi.Kernel{}, p)
		if err != nil {
			errs = append(errs, err) // a busy or vanished node does not hide the others
			continue
		}
		out = append(out, info)
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Inspect queries one node: capabilities, formats with their sizes and rates, and controls
// with their current values.
func Inspect(sys uapi.Sys, path string) (CameraInfo, error) {
	fd, err := sys.Open(path)
	if err != nil {
		return CameraInfo{}, err
	}
	defer sys.Close(fd)
	var c uapi.Capability
	if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_QUERYCAP, &c); err != nil {
		return CameraInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	info := CameraInfo{Path: path, Driver: uapi.CString(c.Driver[:]), Card: uapi.CString(c.Card[:]),
		Bus: uapi.CString(c.BusInfo[:]), Caps: c.Caps()}
	if !info.IsCamera() {
		return info, nil
	}
	for i := uint32(0); i < 64; i++ {
		d := uapi.FmtDesc{Index: i, Type: uapi.BufTypeVideoCapture}
		if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_ENUM_FMT, &d); err != nil {
			break // EINVAL ends the list
		}
		fi := FormatInfo{PixelFormat: d.PixelFormat, Description: uapi.CString(d.Description[:]), Compressed: d.Flags&1 != 0}
		fi.Sizes = frameSizes(sys, fd, d.PixelFormat)
		info.Formats = append(info.Formats, fi)
	}
	info.Controls = controls(sys, fd)
	return info, nil
}

func frameSizes(sys uapi.Sys, fd int, pixfmt uint32) []SizeInfo {
	var out []SizeInfo
	for i := uint32(0); i < 64; i++ {
		fs := uapi.FrmSizeEnum{Index: i, PixelFormat: pixfmt}
		if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_ENUM_FRAMESIZES, &fs); err != nil {
			break
		}
		si := SizeInfo{Width: int(fs.Sizes[0]), Height: int(fs.Sizes[1])}
		if fs.Type != uapi.FrmSizeTypeDiscrete {
			// Stepwise: {min_w, max_w, step_w, min_h, max_h, step_h}; show the largest.
			si = SizeInfo{Width: int(fs.Sizes[1]), Height: int(fs.Sizes[4]), Stepwise: true}
		}
		si.FPS = frameRates(sys, fd, pixfmt, si.Width, si.Height)
		out = append(out, si)
		if fs.Type != uapi.FrmSizeTypeDiscrete {
			break
		}
	}
	return out
}

func frameRates(sys uapi.Sys, fd int, pixfmt uint32, w, h int) []float64 {
	var out []float64
	for i := uint32(0); i < 32; i++ {
		iv := uapi.FrmIvalEnum{Index: i, PixelFormat: pixfmt, Width: uint32(w), Height: uint32(h)}
		if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_ENUM_FRAMEINTERVALS, &iv); err != nil {
			break
		}
		// Discrete: {num, den}; stepwise/continuous: min first, which is the highest rate.
		if num, den := iv.Intervals[0], iv.Intervals[1]; num > 0 {
			out = append(out, float64(den)/float64(num))
		}
		if iv.Type != uapi.FrmIvalTypeDiscrete {
			break
		}
	}
	return out
}

// controls lists the node's controls for Inspect; a list cut short by an error is still
// worth showing. Control classes are left out (they only head a group in v4l2-ctl's list, and
// their IDs tell the class anyway), and so are disabled controls, which V4L2 says an
// application should ignore.
func controls(sys uapi.Sys, fd int) []ControlInfo {
	all, _ := queryControls(sys, fd)
	var out []ControlInfo
	for _, c := range all {
		if c.Type != uapi.CtrlTypeClass && c.Flags&uapi.CtrlFlagDisabled == 0 {
			out = append(out, c)
		}
	}
	return out
}

// queryControls lists all the node's controls with their type, flags and current values:
// those camera.yml cannot set too, so that a setting naming one is told why. An error other
// than the EINVAL that ends the list comes with the controls listed before it.
func queryControls(sys uapi.Sys, fd int) ([]ControlInfo, error) {
	var out []ControlInfo
	id := uapi.CtrlFlagNextCtrl
	for i := 0; i < 1024; i++ {
		q := uapi.QueryCtrl{ID: id}
		if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_QUERYCTRL, &q); err != nil {
			if !errors.Is(err, unix.EINVAL) {
				return out, err
			}
			break
		}
		id = q.ID | uapi.CtrlFlagNextCtrl
		name := uapi.CString(q.Name[:])
		ci := ControlInfo{ID: q.ID, Name: name, Key: ControlKey(name), Min: q.Minimum, Max: q.Maximum, Default: q.DefaultValue,
			Type: q.Type, Flags: q.Flags}
		if ci.hasValue() {
			if v, err := GetControl(sys, fd, q.ID); err == nil {
				ci.Value = v
			}
		}
		out = append(out, ci)
	}
	return out, nil
}
