package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device/uapi"
)

// Setting is a control the user asked for: the picture's orientation, or one of camera.yml's
// `controls:`. Unlike camerad's own Controls (bitrate, I-period...), a setting the camera
// cannot apply as asked is reported at warning level: the user expects to see its effect.
type Setting struct {
	// Field is the config setting it comes from, for the log ("hflip",
	// "controls.brightness"); "" for one nobody asked for (a flip set back to off), which a
	// camera may lack without a word.
	Field string
	// ID is the control; 0 looks Key up among the camera's own controls when it is opened.
	ID uint32
	// Key names the control as ControlKey does (and camera.yml and v4l2-ctl name it).
	Key   string
	Value int32
}

// Orientation returns the flip settings for a picture turned by rotation (0 or 180: a half
// turn is both flips) and mirrored by hflip and vflip; they combine by XOR, so rotation 180
// with hflip is vflip alone. Other rotations need a transpose that V4L2 cameras do not do
// (V4L2_CID_ROTATE is a hint for the application); they count as 0 here, and the config
// refuses them.
//
// Both flips are set at every open, off ones too: a driver keeps its controls between opens
// (until it is reloaded), so a flip that camera.yml no longer asks for must be undone.
func Orientation(rotation int, hflip, vflip bool) []Setting {
	half := rotation == 180
	flip := func(id uint32, key string, own bool, field string) Setting {
		s := Setting{ID: id, Key: key}
		if own != half {
			s.Value, s.Field = 1, field
			if !own {
				s.Field = "rotation"
			}
		}
		return s
	}
	return []Setting{
		flip(uapi.CIDHFlip, "horizontal_flip", hflip, "hflip"),
		flip(uapi.CIDVFlip, "vertical_flip", vflip, "vflip"),
	}
}

// ControlKey is the name camera.yml gives a control: the driver's name ("White Balance,
// Automatic") lowercased, each run of other characters than ASCII letters and digits one '_',
// none at either end ("white_balance_automatic"). It is v4l2-ctl's, so names from
// `v4l2-ctl --list-ctrls` work as they are.
func ControlKey(name string) string {
	var b strings.Builder
	gap := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			gap = true
			continue
		}
		if gap && b.Len() > 0 {
			b.WriteByte('_')
		}
		gap = false
		b.WriteByte(c)
	}
	return b.String()
}

// applySettings sets the user's settings in order, looking named controls up among the
// camera's own. A setting the camera lacks, cannot take (a read-only control, a button...),
// refuses or changes is logged (naming its config field) and the rest go on; a device fault
// aborts, as for Controls.
func applySettings(sys uapi.Sys, fd int, ss []Setting, log *slog.Logger) error {
	var have []ControlInfo // the camera's controls, queried when a name first needs them
	queried := false
	for _, s := range ss {
		id := s.ID
		var info *ControlInfo
		if id == 0 {
			if !queried {
				var err error
				if have, err = queryControls(sys, fd); err != nil && uapi.IsGone(err) {
					return err
				}
				queried = true
			}
			i := slices.IndexFunc(have, func(c ControlInfo) bool { return c.Key == s.Key })
			if i < 0 {
				cannot(log, s, fmt.Errorf("the camera has no control %q", s.Key), "camera_controls", keys(have))
				continue
			}
			info = &have[i]
			id = info.ID
			// One that S_CTRL cannot set is not tried: the driver's errno (EACCES, EINVAL)
			// would not say which of the reasons it is.
			if _, reason := info.cannotSet(); reason != "" {
				cannot(log, s, errors.New(reason))
				continue
			}
		}
		kept, err := SetControl(sys, fd, id, s.Value)
		switch {
		case err != nil && uapi.IsGone(err):
			return err
		case err != nil && info != nil && errors.Is(err, ErrNoControl):
			// The control is there (QUERYCTRL listed it): EINVAL is about the value, e.g. a
			// menu item the driver skips.
			cannot(log, s, fmt.Errorf("the camera refused the value (min %d, max %d): %w", info.Min, info.Max, err))
		case err != nil && errors.Is(err, unix.EACCES):
			// What S_CTRL says of a read-only control; a flip set by its ID, without
			// QUERYCTRL, meets it here.
			cannot(log, s, fmt.Errorf("the control is read-only: %w", err))
		case err != nil:
			cannot(log, s, err)
		case kept != s.Value:
			log.Log(context.Background(), level(s), "camera changed a setting's value", "setting", s.Field, "control", s.Key,
				"asked", s.Value, "kept", kept)
		}
	}
	return nil
}

// level is the log level of a setting the camera does not apply as asked.
func level(s Setting) slog.Level {
	if s.Field == "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func cannot(log *slog.Logger, s Setting, err error, args ...any) {
	log.Log(context.Background(), level(s), "camera cannot apply a setting",
		append([]any{"setting", s.Field, "control", s.Key, "value", s.Value, "err", err}, args...)...)
}

// keys lists the keys of the camera's controls that camera.yml can set, for a user who
// misspelt one: the others would only be refused next.
func keys(cs []ControlInfo) string {
	var ks []string
	for _, c := range cs {
		if label, _ := c.cannotSet(); label == "" {
			ks = append(ks, c.Key)
		}
	}
	return strings.Join(ks, " ")
}
