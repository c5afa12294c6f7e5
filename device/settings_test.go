package device

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device/uapi"
	"github.com/camerad/camerad/device/uapi/uapitest"
)

func TestControlKey(t *testing.T) {
	for name, want := range map[string]string{
		"Horizontal Flip":            "horizontal_flip",
		"White Balance, Automatic":   "white_balance_automatic",
		"Exposure Time, Absolute":    "exposure_time_absolute",
		"Y'CbCr Encoding":            "y_cbcr_encoding",
		"Limited RGB Range (16-235)": "limited_rgb_range_16_235",
		"Inject V4L2_BUF_FLAG_ERROR": "inject_v4l2_buf_flag_error",
		" (Brightness) ":             "brightness",
		"H264 I-Frame Period":        "h264_i_frame_period",
		"Schärfe":                    "sch_rfe", // v4l2-ctl works on bytes: ä is two non-alphanumeric ones
		"":                           "",
	} {
		if got := ControlKey(name); got != want {
			t.Errorf("ControlKey(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestOrientation: a half turn is both flips, and combines with hflip and vflip by XOR; both
// flips are always set, and an "on" one names the setting that asked for it.
func TestOrientation(t *testing.T) {
	type flip struct {
		value int32
		field string
	}
	for _, tc := range []struct {
		rotation     int
		hflip, vflip bool
		h, v         flip
	}{
		{0, false, false, flip{0, ""}, flip{0, ""}},
		{0, true, false, flip{1, "hflip"}, flip{0, ""}},
		{0, false, true, flip{0, ""}, flip{1, "vflip"}},
		{0, true, true, flip{1, "hflip"}, flip{1, "vflip"}},
		{180, false, false, flip{1, "rotation"}, flip{1, "rotation"}},
		{180, true, false, flip{0, ""}, flip{1, "rotation"}},
		{180, false, true, flip{1, "rotation"}, flip{0, ""}},
		{180, true, true, flip{0, ""}, flip{0, ""}},
	} {
		ss := Orientation(tc.rotation, tc.hflip, tc.vflip)
		want := []Setting{
			{Field: tc.h.field, ID: uapi.CIDHFlip, Key: "horizontal_flip", Value: tc.h.value},
			{Field: tc.v.field, ID: uapi.CIDVFlip, Key: "vertical_flip", Value: tc.v.value},
		}
		if fmt.Sprint(ss) != fmt.Sprint(want) {
			t.Errorf("Orientation(%d, %v, %v) = %+v, want %+v", tc.rotation, tc.hflip, tc.vflip, ss, want)
		}
	}
}

// cidExposureAbsolute is V4L2_CID_EXPOSURE_ABSOLUTE, a camera-class control.
const cidExposureAbsolute = 0x009a0902

// settingsNode is a camera with flips, a brightness with a range, and the encoder's bitrate
// under its driver name.
func settingsNode() *uapitest.Node {
	n := h264Node(frames(3, time.Second)...)
	n.Controls[uapi.CIDHFlip] = 0
	n.Controls[uapi.CIDVFlip] = 1 // left on by an earlier run
	n.Controls[uapi.CIDBrightness] = 50
	n.Controls[cidExposureAbsolute] = 100
	n.ControlDescs = map[uint32]uapitest.ControlDesc{
		uapi.CIDHFlip:        {Name: "Horizontal Flip", Max: 1},
		uapi.CIDVFlip:        {Name: "Vertical Flip", Max: 1},
		uapi.CIDBrightness:   {Name: "Brightness", Max: 100, Default: 50},
		cidExposureAbsolute:  {Name: "Exposure Time, Absolute", Min: 1, Max: 5000, Default: 100},
		uapi.CIDVideoBitrate: {Name: "Video Bitrate", Min: 25000, Max: 25000000},
	}
	return n
}

// logTo returns a logger writing every level into buf.
func logTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// warnings returns the log's WARN lines.
func warnings(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=WARN") {
			out = append(out, l)
		}
	}
	return out
}

// TestCaptureAppliesSettings: the user's settings are set after camerad's own controls (so a
// named control overrides the encoder's bitrate), named controls are found by their key, a
// clamped value and a missing control are warnings that name the setting, and the camera
// streams all the same.
func TestCaptureAppliesSettings(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{cam: settingsNode()})
	cfg := testConfig(fake)
	var logs bytes.Buffer
	cfg.Log = logTo(&logs)
	cfg.Settings = append(Orientation(0, true, false),
		Setting{Field: "controls.brightness", Key: "brightness", Value: 300},
		Setting{Field: "controls.contrast", Key: "contrast", Value: 10},
		Setting{Field: "controls.exposure_time_absolute", Key: "exposure_time_absolute", Value: 250},
		Setting{Field: "controls.video_bitrate", Key: "video_bitrate", Value: 5_000_000},
	)
	c := NewCapture(cfg)
	if out := collect(t, c, fake, func(g []got) bool { return len(g) == 3 }); len(out) != 3 {
		t.Fatalf("%d frames, want 3", len(out))
	}

	var sets []string
	for _, call := range fake.Calls() {
		if strings.HasPrefix(call, "VIDIOC_S_CTRL") {
			sets = append(sets, strings.TrimPrefix(call, "VIDIOC_S_CTRL "))
		}
	}
	want := []string{
		fmt.Sprintf("id=%#x value=2000000", uapi.CIDVideoBitrate),
		fmt.Sprintf("id=%#x value=30", uapi.CIDVideoH264IPeriod),
		fmt.Sprintf("id=%#x value=1", uapi.CIDVideoRepeatSeqHeader),
		fmt.Sprintf("id=%#x value=1", uapi.CIDHFlip),
		fmt.Sprintf("id=%#x value=0", uapi.CIDVFlip),
		fmt.Sprintf("id=%#x value=100", uapi.CIDBrightness), // as kept: clamped
		fmt.Sprintf("id=%#x value=250", cidExposureAbsolute),
		fmt.Sprintf("id=%#x value=5000000", uapi.CIDVideoBitrate),
	}
	if strings.Join(sets, "\n") != strings.Join(want, "\n") {
		t.Errorf("S_CTRL calls:\n%s\nwant:\n%s", strings.Join(sets, "\n"), strings.Join(want, "\n"))
	}
	n := fake.Node(cam)
	for id, v := range map[uint32]int32{uapi.CIDHFlip: 1, uapi.CIDVFlip: 0, uapi.CIDBrightness: 100,
		cidExposureAbsolute: 250, uapi.CIDVideoBitrate: 5_000_000} {
		if n.Controls[id] != v {
			t.Errorf("control %#x = %d, want %d", id, n.Controls[id], v)
		}
	}

	warns := warnings(logs.String())
	if len(warns) != 2 {
		t.Fatalf("%d warnings, want 2 (brightness clamped, contrast missing):\n%s", len(warns), logs.String())
	}
	for _, w := range []string{`msg="camera changed a setting's value" camera=/dev/video0 setting=controls.brightness control=brightness asked=300 kept=100`,
		`msg="camera cannot apply a setting" camera=/dev/video0 setting=controls.contrast control=contrast value=10`} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %s:\n%s", w, logs.String())
		}
	}
	// A misspelt or missing name comes with the names the camera has.
	if !strings.Contains(warns[1], "brightness") || !strings.Contains(warns[1], "exposure_time_absolute") ||
		!strings.Contains(warns[1], "horizontal_flip") {
		t.Errorf("missing-control warning does not list the camera's controls: %s", warns[1])
	}
	assertNoLeaks(t, fake)
}

// TestCaptureSettingsCameraLacks: a flip asked for on a camera without flips is a warning
// naming the config setting, at every open; one left off is not worth a warning.
func TestCaptureSettingsCameraLacks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings []Setting
		want     []string // setting= of each warning
	}{
		{"rotation", Orientation(180, false, false), []string{"setting=rotation", "setting=rotation"}},
		{"hflip", Orientation(0, true, false), []string{"setting=hflip"}},
		{"vflip over rotation", Orientation(180, false, true), []string{"setting=rotation control=horizontal_flip"}},
		{"none asked", Orientation(0, false, false), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := uapitest.New(map[string]*uapitest.Node{cam: h264Node(frames(2, time.Second)...)})
			cfg := testConfig(fake)
			var logs bytes.Buffer
			cfg.Log = logTo(&logs)
			cfg.Settings = tc.settings
			collect(t, NewCapture(cfg), fake, func(g []got) bool { return len(g) == 2 })
			warns := warnings(logs.String())
			if len(warns) != len(tc.want) {
				t.Fatalf("%d warnings, want %d:\n%s", len(warns), len(tc.want), logs.String())
			}
			for i, w := range tc.want {
				if !strings.Contains(warns[i], `msg="camera cannot apply a setting"`) || !strings.Contains(warns[i], w) {
					t.Errorf("warning %q, want one with %s", warns[i], w)
				}
			}
		})
	}
}

// TestCaptureSettingsDeviceFault: a camera that goes away while the settings are applied is
// reopened, as for camerad's own controls; an error that is no fault (a read-only control,
// a refused value) is a warning and the camera streams.
func TestCaptureSettingsDeviceFault(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fail    string
		err     error
		reopens bool
		warn    string // in the warning, when the camera streams on
	}{
		{"gone in S_CTRL", "VIDIOC_S_CTRL", unix.ENODEV, true, ""},
		{"gone in QUERYCTRL", "VIDIOC_QUERYCTRL", unix.ENODEV, true, ""},
		// A driver that refuses a control QUERYCTRL did not mark read-only (EACCES is what
		// S_CTRL says of a read-only one).
		{"read-only", "VIDIOC_S_CTRL", unix.EACCES, false, "the control is read-only: set control 0x980900=60: VIDIOC_S_CTRL: permission denied"},
		// EINVAL for a control QUERYCTRL listed is about the value (a menu item the driver
		// skips), not a missing control.
		{"value refused", "VIDIOC_S_CTRL", unix.EINVAL, false, "the camera refused the value (min 0, max 100)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := settingsNode()
			n.Fail = map[string]error{tc.fail: tc.err}
			fake := uapitest.New(map[string]*uapitest.Node{cam: n})
			cfg := testConfig(fake)
			cfg.Controls = nil // the settings are the first controls set
			var logs bytes.Buffer
			cfg.Log = logTo(&logs)
			cfg.Settings = []Setting{{Field: "controls.brightness", Key: "brightness", Value: 60}}
			c := NewCapture(cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			frames := 0
			go func() {
				for fake.Count("open") < 3 && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			if err := c.Run(ctx, func(Frame) error {
				if frames++; frames == 3 {
					cancel()
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if tc.reopens {
				if c.Opens() != 0 || fake.Count("VIDIOC_STREAMON") != 0 || !strings.Contains(logs.String(), "camera fault, reopening") {
					t.Errorf("opens %d, STREAMON %d; want the open abandoned and retried:\n%s", c.Opens(),
						fake.Count("VIDIOC_STREAMON"), logs.String())
				}
			} else {
				warns := warnings(logs.String())
				if frames != 3 || len(warns) != 1 || !strings.Contains(warns[0], "setting=controls.brightness") ||
					!strings.Contains(warns[0], tc.warn) {
					t.Errorf("%d frames, warnings %q; want 3 frames and one warning naming the setting", frames, warns)
				}
			}
			assertNoLeaks(t, fake)
		})
	}
}

// TestInspectPrintsControlKeys: -list-cameras shows each control by the name camera.yml
// takes, with the driver's own.
func TestInspectPrintsControlKeys(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{cam: settingsNode()})
	info, err := Inspect(fake, cam)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	info.Print(&out)
	for _, want := range []string{
		"    horizontal_flip                  = 0 (min 0, max 1, default 0) \"Horizontal Flip\" 0x00980914\n",
		"    exposure_time_absolute           = 100 (min 1, max 5000, default 100) \"Exposure Time, Absolute\" 0x009a0902\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-list-cameras lacks %q:\n%s", want, out.String())
		}
	}
}

// Controls camera.yml cannot set, numbered after vivid's test controls
// (V4L2_CID_USER_BASE | 0xf000...), which have all these kinds.
const (
	cidUserClass = 0x00980001 // V4L2_CID_USER_CLASS
	cidButton    = 0x0098f000
	cidInteger64 = 0x0098f002
	cidString    = 0x0098f005
	cidReadOnly  = 0x0098f00a
	cidArea      = 0x0098f00b
	cidDisabled  = 0x0098f00c
)

// unsettableNode is settingsNode with a control of each kind camera.yml cannot set.
func unsettableNode() *uapitest.Node {
	n := settingsNode()
	for id, d := range map[uint32]uapitest.ControlDesc{
		// The kernel marks a class read-only and write-only.
		cidUserClass: {Name: "User Controls", Type: uapi.CtrlTypeClass, Flags: uapi.CtrlFlagReadOnly | uapi.CtrlFlagWriteOnly},
		cidButton:    {Name: "Button", Type: uapi.CtrlTypeButton, Flags: uapi.CtrlFlagWriteOnly},
		cidInteger64: {Name: "Integer 64 Bits", Type: uapi.CtrlTypeInteger64, Min: math.MinInt32, Max: math.MaxInt32},
		cidString:    {Name: "String", Type: uapi.CtrlTypeString, Max: 32},
		cidReadOnly:  {Name: "Read-Only Integer 32 Bits", Max: 255, Flags: uapi.CtrlFlagReadOnly},
		cidArea:      {Name: "Area", Type: uapi.CtrlTypeCompound + 6 /* V4L2_CTRL_TYPE_AREA */},
		cidDisabled:  {Name: "Disabled Control", Max: 10, Flags: uapi.CtrlFlagDisabled},
	} {
		n.ControlDescs[id] = d
		n.Controls[id] = 0
	}
	n.Controls[cidReadOnly] = 7
	return n
}

// TestInspectMarksControlsCameraYMLCannotSet: -list-cameras leaves out control classes and
// disabled controls, and marks on its line each control camera.yml cannot set, with why
// (and the value of a read-only one, which is the camera's state).
func TestInspectMarksControlsCameraYMLCannotSet(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{cam: unsettableNode()})
	info, err := Inspect(fake, cam)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	info.Print(&b)
	out := b.String()
	for _, want := range []string{
		"    brightness                       = 50 (min 0, max 100, default 50) \"Brightness\" 0x00980900\n",
		"    button                           (button: cannot be set from camera.yml) \"Button\" 0x0098f000\n",
		"    integer_64_bits                  (64-bit: cannot be set from camera.yml) \"Integer 64 Bits\" 0x0098f002\n",
		"    string                           (text: cannot be set from camera.yml) \"String\" 0x0098f005\n",
		"    read_only_integer_32_bits        = 7 (read-only: cannot be set from camera.yml) \"Read-Only Integer 32 Bits\" 0x0098f00a\n",
		"    area                             (compound: cannot be set from camera.yml) \"Area\" 0x0098f00b\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-list-cameras lacks %q:\n%s", want, out)
		}
	}
	for _, gone := range []string{"user_controls", "User Controls", "disabled_control"} {
		if strings.Contains(out, gone) {
			t.Errorf("-list-cameras shows %s:\n%s", gone, out)
		}
	}
	// Only controls with a value are read: G_CTRL would fail for the others.
	for _, id := range []uint32{cidButton, cidInteger64, cidString, cidArea} {
		if n := fake.Count(fmt.Sprintf("VIDIOC_G_CTRL id=%#x", id)); n != 0 {
			t.Errorf("G_CTRL for control %#x, which has no value to read", id)
		}
	}
}

// TestCaptureSettingsCameraYMLCannotSet: a setting that names a control S_CTRL cannot set is
// not tried; its warning says why, and the camera streams with the settings that can be set.
// A misspelt name is answered with the controls camera.yml can set, not the others.
func TestCaptureSettingsCameraYMLCannotSet(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{cam: unsettableNode()})
	cfg := testConfig(fake)
	var logs bytes.Buffer
	cfg.Log = logTo(&logs)
	want := map[string]string{ // setting key: the warning's reason
		"read_only_integer_32_bits": `err="the control is read-only"`,
		"button":                    `err="the control is a button, an action with no value: camerad does not press buttons"`,
		"integer_64_bits":           `err="the control holds a 64-bit value: camerad sets 32-bit controls only"`,
		"string":                    `err="the control holds text: camerad sets numeric controls only"`,
		"area":                      `err="the control is a compound one (an array or a structure): camerad sets single values only"`,
		"disabled_control":          `err="the driver has disabled the control"`,
		"user_controls":             `err="it names a class of controls, not a control"`,
	}
	for _, key := range []string{"read_only_integer_32_bits", "button", "integer_64_bits", "string", "area",
		"disabled_control", "user_controls", "brightnes"} {
		cfg.Settings = append(cfg.Settings, Setting{Field: "controls." + key, Key: key, Value: 1})
	}
	cfg.Settings = append(cfg.Settings, Setting{Field: "controls.brightness", Key: "brightness", Value: 60})
	if out := collect(t, NewCapture(cfg), fake, func(g []got) bool { return len(g) == 3 }); len(out) != 3 {
		t.Fatalf("%d frames, want 3", len(out))
	}

	warns := warnings(logs.String())
	if len(warns) != len(want)+1 {
		t.Fatalf("%d warnings, want %d (one per control that cannot be set, one for the misspelt name):\n%s",
			len(warns), len(want)+1, logs.String())
	}
	for key, reason := range want {
		w := fmt.Sprintf(`msg="camera cannot apply a setting" camera=/dev/video0 setting=controls.%s control=%s value=1 %s`, key, key, reason)
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %s:\n%s", w, logs.String())
		}
	}
	for _, id := range []uint32{cidUserClass, cidButton, cidInteger64, cidString, cidReadOnly, cidArea, cidDisabled} {
		if n := fake.Count(fmt.Sprintf("VIDIOC_S_CTRL id=%#x ", id)); n != 0 {
			t.Errorf("S_CTRL tried %d times for control %#x, which cannot be set", n, id)
		}
	}
	if v := fake.Node(cam).Controls[uapi.CIDBrightness]; v != 60 {
		t.Errorf("brightness = %d, want 60: the settings after those refused are applied", v)
	}

	var offered []string
	for _, w := range warns {
		if _, list, ok := strings.Cut(w, `camera_controls="`); ok {
			offered = strings.Fields(strings.TrimSuffix(list, `"`))
		}
	}
	if !slices.Contains(offered, "brightness") || !slices.Contains(offered, "horizontal_flip") {
		t.Errorf("misspelt name answered with %q; want the controls camera.yml can set", offered)
	}
	for key := range want {
		if slices.Contains(offered, key) {
			t.Errorf("misspelt name answered with %q, which camera.yml cannot set: %q", key, offered)
		}
	}
	assertNoLeaks(t, fake)
}
