//go:build linux && cgo

package uapi

import (
	"testing"
	"unsafe"

	"github.com/camerad/camerad/device/uapi/internal/cabi"
)

// TestLayoutMatchesHeaders compares the pure-Go layouts with what the C compiler makes of
// <linux/videodev2.h> for this GOARCH (run it cross-built for arm64 to check that target).
func TestLayoutMatchesHeaders(t *testing.T) {
	for name, got := range requests() {
		if want := cabi.Requests[name]; got != want {
			t.Errorf("%s = %#x, C says %#x", name, got, want)
		}
	}
	var b Buffer
	var bm BufferMplane
	var f Format
	got := map[string]uintptr{
		"v4l2_capability":                   unsafe.Sizeof(Capability{}),
		"v4l2_pix_format":                   unsafe.Sizeof(PixFormat{}),
		"v4l2_pix_format_mplane":            unsafe.Sizeof(PixFormatMplane{}),
		"v4l2_pix_format_mplane.num_planes": unsafe.Offsetof(PixFormatMplane{}.NumPlanes),
		"v4l2_plane_pix_format":             unsafe.Sizeof(PlanePixFormat{}),
		"v4l2_format":                       unsafe.Sizeof(f),
		"v4l2_format.fmt":                   unsafe.Offsetof(f.fmt),
		"v4l2_requestbuffers":               unsafe.Sizeof(RequestBuffers{}),
		"v4l2_buffer":                       unsafe.Sizeof(b),
		"v4l2_buffer.timestamp":             unsafe.Offsetof(b.Timestamp),
		"v4l2_buffer.sequence":              unsafe.Offsetof(b.Sequence),
		"v4l2_buffer.m":                     unsafe.Offsetof(b.M),
		"v4l2_buffer.length":                unsafe.Offsetof(b.Length),
		"v4l2_plane":                        unsafe.Sizeof(Plane{}),
		"v4l2_plane.m":                      unsafe.Offsetof(Plane{}.M),
		"v4l2_plane.data_offset":            unsafe.Offsetof(Plane{}.DataOffset),
		"v4l2_streamparm":                   unsafe.Sizeof(StreamParm{}),
		"v4l2_control":                      unsafe.Sizeof(Control{}),
		"v4l2_queryctrl":                    unsafe.Sizeof(QueryCtrl{}),
		"v4l2_fmtdesc":                      unsafe.Sizeof(FmtDesc{}),
		"v4l2_frmsizeenum":                  unsafe.Sizeof(FrmSizeEnum{}),
		"v4l2_frmivalenum":                  unsafe.Sizeof(FrmIvalEnum{}),
	}
	if unsafe.Sizeof(bm) != unsafe.Sizeof(b) || unsafe.Offsetof(bm.Planes) != unsafe.Offsetof(b.M) {
		t.Errorf("BufferMplane differs from Buffer in size or union offset")
	}
	for name, want := range cabi.Layout {
		if got[name] != want {
			t.Errorf("%s = %d, C says %d", name, got[name], want)
		}
	}
}
