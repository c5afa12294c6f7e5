package uapi

import (
	"testing"
	"unsafe"
)

// The request numbers as <linux/videodev2.h> defines them. They encode the struct sizes, so
// they pin the layouts: 64-bit targets (amd64, arm64) differ from 32-bit ones (arm) in
// v4l2_format (pointer-aligned union), v4l2_buffer (timeval, union m) and v4l2_plane.
var want64 = map[string]uint{
	"VIDIOC_QUERYCAP":            0x80685600,
	"VIDIOC_ENUM_FMT":            0xc0405602,
	"VIDIOC_G_FMT":               0xc0d05604,
	"VIDIOC_S_FMT":               0xc0d05605,
	"VIDIOC_REQBUFS":             0xc0145608,
	"VIDIOC_QUERYBUF":            0xc0585609,
	"VIDIOC_QBUF":                0xc058560f,
	"VIDIOC_DQBUF":               0xc0585611,
	"VIDIOC_STREAMON":            0x40045612,
	"VIDIOC_STREAMOFF":           0x40045613,
	"VIDIOC_G_PARM":              0xc0cc5615,
	"VIDIOC_S_PARM":              0xc0cc5616,
	"VIDIOC_G_CTRL":              0xc008561b,
	"VIDIOC_S_CTRL":              0xc008561c,
	"VIDIOC_QUERYCTRL":           0xc0445624,
	"VIDIOC_ENUM_FRAMESIZES":     0xc02c564a,
	"VIDIOC_ENUM_FRAMEINTERVALS": 0xc034564b,
}

func requests() map[string]uint {
	return map[string]uint{
		"VIDIOC_QUERYCAP": VIDIOC_QUERYCAP, "VIDIOC_ENUM_FMT": VIDIOC_ENUM_FMT,
		"VIDIOC_G_FMT": VIDIOC_G_FMT, "VIDIOC_S_FMT": VIDIOC_S_FMT,
		"VIDIOC_REQBUFS": VIDIOC_REQBUFS, "VIDIOC_QUERYBUF": VIDIOC_QUERYBUF,
		"VIDIOC_QBUF": VIDIOC_QBUF, "VIDIOC_DQBUF": VIDIOC_DQBUF,
		"VIDIOC_STREAMON": VIDIOC_STREAMON, "VIDIOC_STREAMOFF": VIDIOC_STREAMOFF,
		"VIDIOC_G_PARM": VIDIOC_G_PARM, "VIDIOC_S_PARM": VIDIOC_S_PARM,
		"VIDIOC_G_CTRL": VIDIOC_G_CTRL, "VIDIOC_S_CTRL": VIDIOC_S_CTRL,
		"VIDIOC_QUERYCTRL":           VIDIOC_QUERYCTRL,
		"VIDIOC_ENUM_FRAMESIZES":     VIDIOC_ENUM_FRAMESIZES,
		"VIDIOC_ENUM_FRAMEINTERVALS": VIDIOC_ENUM_FRAMEINTERVALS,
	}
}

func TestRequestNumbers(t *testing.T) {
	want := want64
	if unsafe.Sizeof(uintptr(0)) == 4 {
		// 32-bit ARM: only the structs with pointers or timevals change size.
		want = map[string]uint{}
		for k, v := range want64 {
			want[k] = v
		}
		want["VIDIOC_G_FMT"], want["VIDIOC_S_FMT"] = 0xc0cc5604, 0xc0cc5605
		want["VIDIOC_QUERYBUF"], want["VIDIOC_QBUF"], want["VIDIOC_DQBUF"] = 0xc0445609, 0xc044560f, 0xc0445611
	}
	for name, got := range requests() {
		if got != want[name] {
			t.Errorf("%s = %#x, want %#x", name, got, want[name])
		}
		if RequestName(got) != name {
			t.Errorf("RequestName(%#x) = %q, want %q", got, RequestName(got), name)
		}
	}
}

func TestLayouts64(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("offsets below are those of 64-bit targets")
	}
	var b Buffer
	var bm BufferMplane
	var f Format
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof v4l2_pix_format_mplane", unsafe.Sizeof(PixFormatMplane{}), 192},
		{"sizeof v4l2_plane_pix_format", unsafe.Sizeof(PlanePixFormat{}), 20},
		{"sizeof v4l2_plane", unsafe.Sizeof(Plane{}), 64},
		{"offsetof v4l2_plane.m", unsafe.Offsetof(Plane{}.M), 8},
		{"offsetof v4l2_plane.data_offset", unsafe.Offsetof(Plane{}.DataOffset), 16},
		{"offsetof v4l2_format.fmt", unsafe.Offsetof(f.fmt), 8},
		{"offsetof v4l2_buffer.timestamp", unsafe.Offsetof(b.Timestamp), 24},
		{"offsetof v4l2_buffer.sequence", unsafe.Offsetof(b.Sequence), 56},
		{"offsetof v4l2_buffer.m", unsafe.Offsetof(b.M), 64},
		{"offsetof v4l2_buffer.length", unsafe.Offsetof(b.Length), 72},
		{"offsetof v4l2_buffer.request_fd", unsafe.Offsetof(b.RequestFD), 80},
		{"offsetof v4l2_buffer.m (mplane)", unsafe.Offsetof(bm.Planes), 64},
		{"sizeof v4l2_buffer (mplane)", unsafe.Sizeof(bm), 88},
		{"offsetof v4l2_pix_format_mplane.num_planes", unsafe.Offsetof(PixFormatMplane{}.NumPlanes), 180},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestFourCC(t *testing.T) {
	if PixFmtH264 != 0x34363248 {
		t.Errorf("H264 fourcc = %#x", PixFmtH264)
	}
	if s := FourCCString(PixFmtYUYV); s != "YUYV" {
		t.Errorf("FourCCString = %q", s)
	}
	if v, ok := H264Level(40); !ok || v != 11 {
		t.Errorf("H264Level(40) = %d, %v; want 11 (V4L2_MPEG_VIDEO_H264_LEVEL_4_0)", v, ok)
	}
	if _, ok := H264Level(0); ok {
		t.Error("H264Level(0) should be unknown")
	}
}
