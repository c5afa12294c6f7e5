package uapi

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Buffer types (enum v4l2_buf_type).
const (
	BufTypeVideoCapture       uint32 = 1
	BufTypeVideoOutput        uint32 = 2
	BufTypeVideoCaptureMplane uint32 = 9
	BufTypeVideoOutputMplane  uint32 = 10
)

// MemoryMMAP is V4L2_MEMORY_MMAP: buffers allocated by the driver and mapped by us.
const MemoryMMAP uint32 = 1

// FieldNone is V4L2_FIELD_NONE (progressive frames).
const FieldNone uint32 = 1

// Capability flags (V4L2_CAP_*).
const (
	CapVideoCapture       uint32 = 0x00000001
	CapVideoOutput        uint32 = 0x00000002
	CapVideoCaptureMplane uint32 = 0x00001000
	CapVideoOutputMplane  uint32 = 0x00002000
	CapVideoM2MMplane     uint32 = 0x00004000
	CapVideoM2M           uint32 = 0x00008000
	CapStreaming          uint32 = 0x04000000
	CapDeviceCaps         uint32 = 0x80000000
)

// Buffer flags (V4L2_BUF_FLAG_*).
const (
	BufFlagMapped             uint32 = 0x00000001
	BufFlagQueued             uint32 = 0x00000002
	BufFlagDone               uint32 = 0x00000004
	BufFlagKeyframe           uint32 = 0x00000008
	BufFlagPFrame             uint32 = 0x00000010
	BufFlagBFrame             uint32 = 0x00000020
	BufFlagError              uint32 = 0x00000040
	BufFlagTimestampMask      uint32 = 0x0000e000
	BufFlagTimestampMonotonic uint32 = 0x00002000
	BufFlagTimestampCopy      uint32 = 0x00004000
	BufFlagLast               uint32 = 0x00100000
)

// Frame size and interval enumeration kinds.
const (
	FrmSizeTypeDiscrete   uint32 = 1
	FrmSizeTypeContinuous uint32 = 2
	FrmSizeTypeStepwise   uint32 = 3
	FrmIvalTypeDiscrete   uint32 = 1
)

// CapTimePerFrame is V4L2_CAP_TIMEPERFRAME in StreamParm: the driver honours frame rates.
const CapTimePerFrame uint32 = 0x1000

// Capability is struct v4l2_capability.
type Capability struct {
	Driver       [16]byte
	Card         [32]byte
	BusInfo      [32]byte
	Version      uint32
	Capabilities uint32
	DeviceCaps   uint32
	Reserved     [3]uint32
}

// Caps returns the capabilities of the opened node (device_caps when the driver fills it).
func (c *Capability) Caps() uint32 {
	if c.Capabilities&CapDeviceCaps != 0 {
		return c.DeviceCaps
	}
	return c.Capabilities
}

// PixFormat is struct v4l2_pix_format (single-planar).
type PixFormat struct {
	Width        uint32
	Height       uint32
	PixelFormat  uint32
	Field        uint32
	BytesPerLine uint32
	SizeImage    uint32
	Colorspace   uint32
	Priv         uint32
	Flags        uint32
	YcbcrEnc     uint32
	Quantization uint32
	XferFunc     uint32
}

// PlanePixFormat is struct v4l2_plane_pix_format (packed, 20 bytes).
type PlanePixFormat struct {
	SizeImage    uint32
	BytesPerLine uint32
	Reserved     [6]uint16
}

// PixFormatMplane is struct v4l2_pix_format_mplane (packed, 192 bytes). All its fields are
// naturally aligned, so Go lays it out like the packed C struct.
type PixFormatMplane struct {
	Width        uint32
	Height       uint32
	PixelFormat  uint32
	Field        uint32
	Colorspace   uint32
	PlaneFmt     [8]PlanePixFormat
	NumPlanes    uint8
	Flags        uint8
	YcbcrEnc     uint8
	Quantization uint8
	XferFunc     uint8
	Reserved     [7]uint8
}

// Format is struct v4l2_format: a type and a 200-byte union. The union holds pointers in
// one member (v4l2_window), so it is pointer-aligned: 8 bytes after Type on 64-bit targets,
// 4 on 32-bit ones. fmtUnion reproduces that alignment.
type Format struct {
	Type uint32
	fmt  fmtUnion
}

type fmtUnion struct {
	_   [0]uintptr // pointer alignment of the C union
	Raw [200]byte
}

// Pix returns the single-planar member of the union.
func (f *Format) Pix() *PixFormat { return (*PixFormat)(unsafe.Pointer(&f.fmt.Raw[0])) }

// PixMP returns the multi-planar member of the union.
func (f *Format) PixMP() *PixFormatMplane {
	return (*PixFormatMplane)(unsafe.Pointer(&f.fmt.Raw[0]))
}

// RequestBuffers is struct v4l2_requestbuffers.
type RequestBuffers struct {
	Count        uint32
	Type         uint32
	Memory       uint32
	Capabilities uint32
	Flags        uint8
	Reserved     [3]uint8
}

// Timecode is struct v4l2_timecode.
type Timecode struct {
	Type     uint32
	Flags    uint32
	Frames   uint8
	Seconds  uint8
	Minutes  uint8
	Hours    uint8
	UserBits [4]uint8
}

// Buffer is struct v4l2_buffer for single-planar queues. The union m is an unsigned long
// here (Offset reads the mmap offset from it); BufferMplane is the same struct with the union
// holding the planes pointer, kept as a real pointer so the garbage collector sees it.
type Buffer struct {
	Index     uint32
	Type      uint32
	BytesUsed uint32
	Flags     uint32
	Field     uint32
	Timestamp unix.Timeval
	Timecode  Timecode
	Sequence  uint32
	Memory    uint32
	M         uintptr // union { __u32 offset; unsigned long userptr; ...; __s32 fd; }
	Length    uint32
	Reserved2 uint32
	RequestFD int32
}

// Offset is m.offset, the mmap offset of an MMAP buffer.
func (b *Buffer) Offset() int64 { return int64(uint32(b.M)) }

// BufferMplane is struct v4l2_buffer for multi-planar queues: m.planes points to Length
// Plane structs.
type BufferMplane struct {
	Index     uint32
	Type      uint32
	BytesUsed uint32
	Flags     uint32
	Field     uint32
	Timestamp unix.Timeval
	Timecode  Timecode
	Sequence  uint32
	Memory    uint32
	Planes    *Plane
	Length    uint32
	Reserved2 uint32
	RequestFD int32
}

// Plane is struct v4l2_plane.
type Plane struct {
	BytesUsed  uint32
	Length     uint32
	M          uintptr // union { __u32 mem_offset; unsigned long userptr; __s32 fd; }
	DataOffset uint32
	Reserved   [11]uint32
}

// Offset is m.mem_offset, the mmap offset of the plane.
func (p *Plane) Offset() int64 { return int64(uint32(p.M)) }

// Fract is struct v4l2_fract.
type Fract struct {
	Numerator   uint32
	Denominator uint32
}

// CaptureParm is struct v4l2_captureparm; OutputParm has the same layout.
type CaptureParm struct {
	Capability   uint32
	CaptureMode  uint32
	TimePerFrame Fract
	ExtendedMode uint32
	ReadBuffers  uint32
	Reserved     [4]uint32
}

// StreamParm is struct v4l2_streamparm: a type and a 200-byte union of capture/output
// parameters (only 32-bit members, so 4-byte aligned on every target).
type StreamParm struct {
	Type uint32
	parm [200]byte
}

// Capture returns the capture member of the union (also used for OUTPUT queues, whose
// v4l2_outputparm has the same layout).
func (s *StreamParm) Capture() *CaptureParm { return (*CaptureParm)(unsafe.Pointer(&s.parm[0])) }

// Control is struct v4l2_control.
type Control struct {
	ID    uint32
	Value int32
}

// QueryCtrl is struct v4l2_queryctrl.
type QueryCtrl struct {
	ID           uint32
	Type         uint32
	Name         [32]byte
	Minimum      int32
	Maximum      int32
	Step         int32
	DefaultValue int32
	Flags        uint32
	Reserved     [2]uint32
}

// FmtDesc is struct v4l2_fmtdesc.
type FmtDesc struct {
	Index       uint32
	Type        uint32
	Flags       uint32
	Description [32]byte
	PixelFormat uint32
	MbusCode    uint32
	Reserved    [3]uint32
}

// FrmSizeEnum is struct v4l2_frmsizeenum; for discrete sizes the union holds width and
// height, for stepwise ones min/max/step of each.
type FrmSizeEnum struct {
	Index       uint32
	PixelFormat uint32
	Type        uint32
	Sizes       [6]uint32 // discrete: {width, height}; stepwise: {min_w, max_w, step_w, min_h, max_h, step_h}
	Reserved    [2]uint32
}

// FrmIvalEnum is struct v4l2_frmivalenum; for discrete intervals the union holds a Fract.
type FrmIvalEnum struct {
	Index       uint32
	PixelFormat uint32
	Width       uint32
	Height      uint32
	Type        uint32
	Intervals   [6]uint32 // discrete: {num, den}; stepwise: min, max, step fractions
	Reserved    [2]uint32
}

// CString returns a NUL-terminated byte array as a string.
func CString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
