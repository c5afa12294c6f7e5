// Package uapi is the part of the Linux V4L2 user-space API that camerad drives itself: the
// structs of <linux/videodev2.h> laid out as the kernel expects them on the running GOARCH,
// the ioctl request numbers derived from those layouts, and a Sys interface at the syscall
// boundary so that the ioctl sequences of capture and of the M2M encoder can be checked
// against a fake without a kernel.
//
// It needs no cgo: the request numbers are computed from unsafe.Sizeof of the Go structs
// with the _IOC encoding, so a struct laid out wrongly also gives a wrong request number,
// which the kernel rejects with ENOTTY instead of reading garbage. layout_test.go pins the
// numbers for 64-bit and 32-bit targets and, where cgo is available, compares every size
// and offset with the C headers.
package uapi

import (
	"strconv"
	"unsafe"
)

// The generic _IOC encoding (asm-generic/ioctl.h), used by x86, arm and arm64.
const (
	iocNRBits   = 8
	iocTypeBits = 8
	iocSizeBits = 14

	iocNRShift   = 0
	iocTypeShift = iocNRShift + iocNRBits
	iocSizeShift = iocTypeShift + iocTypeBits
	iocDirShift  = iocSizeShift + iocSizeBits

	iocWrite = 1
	iocRead  = 2
)

func ioc(dir, nr, size uintptr) uint {
	return uint(dir<<iocDirShift | 'V'<<iocTypeShift | nr<<iocNRShift | size<<iocSizeShift)
}

func ior(nr, size uintptr) uint  { return ioc(iocRead, nr, size) }
func iow(nr, size uintptr) uint  { return ioc(iocWrite, nr, size) }
func iowr(nr, size uintptr) uint { return ioc(iocRead|iocWrite, nr, size) }

// Request numbers of the V4L2 ioctls camerad uses (videodev2.h).
var (
	VIDIOC_QUERYCAP            = ior(0, unsafe.Sizeof(Capability{}))
	VIDIOC_ENUM_FMT            = iowr(2, unsafe.Sizeof(FmtDesc{}))
	VIDIOC_G_FMT               = iowr(4, unsafe.Sizeof(Format{}))
	VIDIOC_S_FMT               = iowr(5, unsafe.Sizeof(Format{}))
	VIDIOC_REQBUFS             = iowr(8, unsafe.Sizeof(RequestBuffers{}))
	VIDIOC_QUERYBUF            = iowr(9, unsafe.Sizeof(Buffer{}))
	VIDIOC_QBUF                = iowr(15, unsafe.Sizeof(Buffer{}))
	VIDIOC_DQBUF               = iowr(17, unsafe.Sizeof(Buffer{}))
	VIDIOC_STREAMON            = iow(18, unsafe.Sizeof(int32(0)))
	VIDIOC_STREAMOFF           = iow(19, unsafe.Sizeof(int32(0)))
	VIDIOC_G_PARM              = iowr(21, unsafe.Sizeof(StreamParm{}))
	VIDIOC_S_PARM              = iowr(22, unsafe.Sizeof(StreamParm{}))
	VIDIOC_G_CTRL              = iowr(27, unsafe.Sizeof(Control{}))
	VIDIOC_S_CTRL              = iowr(28, unsafe.Sizeof(Control{}))
	VIDIOC_QUERYCTRL           = iowr(36, unsafe.Sizeof(QueryCtrl{}))
	VIDIOC_ENUM_FRAMESIZES     = iowr(74, unsafe.Sizeof(FrmSizeEnum{}))
	VIDIOC_ENUM_FRAMEINTERVALS = iowr(75, unsafe.Sizeof(FrmIvalEnum{}))
)

// RequestName names a request number for logs and test failures.
func RequestName(req uint) string {
	switch req {
	case VIDIOC_QUERYCAP:
		return "VIDIOC_QUERYCAP"
	case VIDIOC_ENUM_FMT:
		return "VIDIOC_ENUM_FMT"
	case VIDIOC_G_FMT:
		return "VIDIOC_G_FMT"
	case VIDIOC_S_FMT:
		return "VIDIOC_S_FMT"
	case VIDIOC_REQBUFS:
		return "VIDIOC_REQBUFS"
	case VIDIOC_QUERYBUF:
		return "VIDIOC_QUERYBUF"
	case VIDIOC_QBUF:
		return "VIDIOC_QBUF"
	case VIDIOC_DQBUF:
		return "VIDIOC_DQBUF"
	case VIDIOC_STREAMON:
		return "VIDIOC_STREAMON"
	case VIDIOC_STREAMOFF:
		return "VIDIOC_STREAMOFF"
	case VIDIOC_G_PARM:
		return "VIDIOC_G_PARM"
	case VIDIOC_S_PARM:
		return "VIDIOC_S_PARM"
	case VIDIOC_G_CTRL:
		return "VIDIOC_G_CTRL"
	case VIDIOC_S_CTRL:
		return "VIDIOC_S_CTRL"
	case VIDIOC_QUERYCTRL:
		return "VIDIOC_QUERYCTRL"
	case VIDIOC_ENUM_FRAMESIZES:
		return "VIDIOC_ENUM_FRAMESIZES"
	case VIDIOC_ENUM_FRAMEINTERVALS:
		return "VIDIOC_ENUM_FRAMEINTERVALS"
	}
	return "ioctl(0x" + strconv.FormatUint(uint64(req), 16) + ")"
}
