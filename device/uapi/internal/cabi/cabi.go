//go:build linux && cgo

// Package cabi reports what the C compiler thinks of <linux/videodev2.h>: request numbers,
// struct sizes and member offsets. It exists only so uapi's tests can compare its pure-Go
// layouts with the headers, for the host and (built with a cross compiler) for arm64.
package cabi

/*
#include <stddef.h>
#include <linux/videodev2.h>

enum { offsetof_v4l2_pix_format_mplane_num_planes = offsetof(struct v4l2_pix_format_mplane, num_planes) };
enum { offsetof_v4l2_format_fmt = offsetof(struct v4l2_format, fmt) };
enum { offsetof_v4l2_buffer_timestamp = offsetof(struct v4l2_buffer, timestamp) };
enum { offsetof_v4l2_buffer_sequence = offsetof(struct v4l2_buffer, sequence) };
enum { offsetof_v4l2_buffer_m = offsetof(struct v4l2_buffer, m) };
enum { offsetof_v4l2_buffer_length = offsetof(struct v4l2_buffer, length) };
enum { offsetof_v4l2_plane_m = offsetof(struct v4l2_plane, m) };
enum { offsetof_v4l2_plane_data_offset = offsetof(struct v4l2_plane, data_offset) };
*/
import "C"

// Requests are the request numbers from the headers, by name.
var Requests = map[string]uint{
	"VIDIOC_QUERYCAP":            C.VIDIOC_QUERYCAP,
	"VIDIOC_ENUM_FMT":            C.VIDIOC_ENUM_FMT,
	"VIDIOC_G_FMT":               C.VIDIOC_G_FMT,
	"VIDIOC_S_FMT":               C.VIDIOC_S_FMT,
	"VIDIOC_REQBUFS":             C.VIDIOC_REQBUFS,
	"VIDIOC_QUERYBUF":            C.VIDIOC_QUERYBUF,
	"VIDIOC_QBUF":                C.VIDIOC_QBUF,
	"VIDIOC_DQBUF":               C.VIDIOC_DQBUF,
	"VIDIOC_STREAMON":            C.VIDIOC_STREAMON,
	"VIDIOC_STREAMOFF":           C.VIDIOC_STREAMOFF,
	"VIDIOC_G_PARM":              C.VIDIOC_G_PARM,
	"VIDIOC_S_PARM":              C.VIDIOC_S_PARM,
	"VIDIOC_G_CTRL":              C.VIDIOC_G_CTRL,
	"VIDIOC_S_CTRL":              C.VIDIOC_S_CTRL,
	"VIDIOC_QUERYCTRL":           C.VIDIOC_QUERYCTRL,
	"VIDIOC_ENUM_FRAMESIZES":     C.VIDIOC_ENUM_FRAMESIZES,
	"VIDIOC_ENUM_FRAMEINTERVALS": C.VIDIOC_ENUM_FRAMEINTERVALS,
}

// Layout holds sizes and offsets from the headers, by "struct" or "struct.member".
var Layout = map[string]uintptr{
	"v4l2_capability":                   C.sizeof_struct_v4l2_capability,
	"v4l2_pix_format":                   C.sizeof_struct_v4l2_pix_format,
	"v4l2_pix_format_mplane":            C.sizeof_struct_v4l2_pix_format_mplane,
	"v4l2_pix_format_mplane.num_planes": uintptr(C.offsetof_v4l2_pix_format_mplane_num_planes),
	"v4l2_plane_pix_format":             C.sizeof_struct_v4l2_plane_pix_format,
	"v4l2_format":                       C.sizeof_struct_v4l2_format,
	"v4l2_format.fmt":                   uintptr(C.offsetof_v4l2_format_fmt),
	"v4l2_requestbuffers":               C.sizeof_struct_v4l2_requestbuffers,
	"v4l2_buffer":                       C.sizeof_struct_v4l2_buffer,
	"v4l2_buffer.timestamp":             uintptr(C.offsetof_v4l2_buffer_timestamp),
	"v4l2_buffer.sequence":              uintptr(C.offsetof_v4l2_buffer_sequence),
	"v4l2_buffer.m":                     uintptr(C.offsetof_v4l2_buffer_m),
	"v4l2_buffer.length":                uintptr(C.offsetof_v4l2_buffer_length),
	"v4l2_plane":                        C.sizeof_struct_v4l2_plane,
	"v4l2_plane.m":                      uintptr(C.offsetof_v4l2_plane_m),
	"v4l2_plane.data_offset":            uintptr(C.offsetof_v4l2_plane_data_offset),
	"v4l2_streamparm":                   C.sizeof_struct_v4l2_streamparm,
	"v4l2_control":                      C.sizeof_struct_v4l2_control,
	"v4l2_queryctrl":                    C.sizeof_struct_v4l2_queryctrl,
	"v4l2_fmtdesc":                      C.sizeof_struct_v4l2_fmtdesc,
	"v4l2_frmsizeenum":                  C.sizeof_struct_v4l2_frmsizeenum,
	"v4l2_frmivalenum":                  C.sizeof_struct_v4l2_frmivalenum,
}
