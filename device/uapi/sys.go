package uapi

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sys is the syscall boundary of V4L2 streaming: everything capture and the M2M encoder ask
// of the kernel goes through it, so tests can substitute a fake that checks the sequence and
// the structs and plays a device, including its failures.
type Sys interface {
	Open(path string) (fd int, err error)
	Close(fd int) error
	// Ioctl issues request req with arg pointing to the request's struct.
	Ioctl(fd int, req uint, arg unsafe.Pointer) error
	Mmap(fd int, offset int64, length int) ([]byte, error)
	Munmap(b []byte) error
	// Poll waits up to timeoutMS for events on fd and returns the events that occurred (0 on
	// timeout).
	Poll(fd int, events int16, timeoutMS int) (revents int16, err error)
}

// Kernel is the real Sys.
type Kernel struct{}

// Open opens a device node non-blocking (DQBUF must not block: readiness comes from Poll)
// and close-on-exec.
func (Kernel) Open(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", path, err)
		}
		return fd, nil
	}
}

// Close closes fd.
func (Kernel) Close(fd int) error { return unix.Close(fd) }

// Ioctl issues the request, retrying on EINTR.
func (Kernel) Ioctl(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		default:
			return errno
		}
	}
}

// Mmap maps a driver buffer shared, read-write.
func (Kernel) Mmap(fd int, offset int64, length int) ([]byte, error) {
	return unix.Mmap(fd, offset, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// Munmap unmaps a buffer mapped by Mmap.
func (Kernel) Munmap(b []byte) error { return unix.Munmap(b) }

// Poll waits for events on one fd.
func (Kernel) Poll(fd int, events int16, timeoutMS int) (int16, error) {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
	for {
		n, err := unix.Poll(pfd, timeoutMS)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return 0, err
		}
		return pfd[0].Revents, nil
	}
}

// Ioctl calls s.Ioctl with a typed argument and names the request in the error.
func Ioctl[T any](s Sys, fd int, req uint, arg *T) error {
	if err := s.Ioctl(fd, req, unsafe.Pointer(arg)); err != nil {
		return fmt.Errorf("%s: %w", RequestName(req), err)
	}
	return nil
}

// IsGone reports whether err means the device is no longer there (unplugged, driver
// removed): the node has to be closed and opened again.
func IsGone(err error) bool {
	return errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.EIO) ||
		errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPIPE)
}
