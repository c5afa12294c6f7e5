package device

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device/uapi"
)

// stream is the mmap buffer ring of one open capture node. It exists between STREAMON and
// close, which undoes everything start did, in reverse, whatever state it failed in.
type stream struct {
	sys    uapi.Sys
	fd     int
	bufs   [][]byte
	format Format
	on     bool
}

// Errors that end a streaming session and make Capture reopen the camera.
var (
	ErrStalled        = errors.New("no frame from the camera")
	ErrErroredBuffers = errors.New("camera keeps returning errored buffers")
)

// startStream allocates count MMAP buffers, maps and queues them, and turns streaming on.
func startStream(sys uapi.Sys, fd int, count int, format Format) (*stream, error) {
	s := &stream{sys: sys, fd: fd, format: format}
	req := uapi.RequestBuffers{Count: uint32(count), Type: uapi.BufTypeVideoCapture, Memory: uapi.MemoryMMAP}
	if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_REQBUFS, &req); err != nil {
		return nil, err
	}
	if req.Count < 2 {
		s.close()
		return nil, fmt.Errorf("driver granted %d buffers, need at least 2", req.Count)
	}
	for i := uint32(0); i < req.Count; i++ {
		b := uapi.Buffer{Index: i, Type: uapi.BufTypeVideoCapture, Memory: uapi.MemoryMMAP}
		if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_QUERYBUF, &b); err != nil {
			s.close()
			return nil, err
		}
		m, err := sys.Mmap(fd, b.Offset(), int(b.Length))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("mmap buffer %d (%d bytes): %w", i, b.Length, err)
		}
		s.bufs = append(s.bufs, m)
	}
	for i := range s.bufs {
		if err := s.queue(uint32(i)); err != nil {
			s.close()
			return nil, err
		}
	}
	typ := int32(uapi.BufTypeVideoCapture)
	if err := uapi.Ioctl(sys, fd, uapi.VIDIOC_STREAMON, &typ); err != nil {
		s.close()
		return nil, err
	}
	s.on = true
	return s, nil
}

func (s *stream) queue(i uint32) error {
	b := uapi.Buffer{Index: i, Type: uapi.BufTypeVideoCapture, Memory: uapi.MemoryMMAP}
	return uapi.Ioctl(s.sys, s.fd, uapi.VIDIOC_QBUF, &b)
}

// pollSlice bounds each poll so that a cancelled context is noticed promptly without a
// wake-up fd; stall detection counts slices, so it needs no clock either.
const pollSlice = 100 * time.Millisecond

// limits of one streaming session.
type limits struct {
	stallSlices     int // polls in a row without a frame before ErrStalled
	maxErrored      int // errored buffers in a row before ErrErroredBuffers
	beforeEachFrame func() error
}

// run dequeues frames and hands each to fn while it is still in the driver's buffer, then
// queues the buffer back. It returns nil when ctx ends, fn's error, or the device fault that
// ended the stream.
func (s *stream) run(ctx context.Context, lim limits, fn func(Frame) error) error {
	idle, errored := 0, 0
	for ctx.Err() == nil {
		if lim.beforeEachFrame != nil {
			if err := lim.beforeEachFrame(); err != nil {
				return err
			}
		}
		rev, err := s.sys.Poll(s.fd, unix.POLLIN, int(pollSlice/time.Millisecond))
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		if rev == 0 {
			if idle++; idle >= lim.stallSlices {
				return fmt.Errorf("%w for %v", ErrStalled, time.Duration(idle)*pollSlice)
			}
			continue
		}
		b := uapi.Buffer{Type: uapi.BufTypeVideoCapture, Memory: uapi.MemoryMMAP}
		if err := uapi.Ioctl(s.sys, s.fd, uapi.VIDIOC_DQBUF, &b); err != nil {
			if errors.Is(err, unix.EAGAIN) {
				if rev&(unix.POLLERR|unix.POLLHUP) != 0 {
					return fmt.Errorf("poll reported an error on the device (revents %#x)", rev)
				}
				continue
			}
			return err
		}
		idle = 0
		if int(b.Index) >= len(s.bufs) {
			return fmt.Errorf("driver returned buffer %d of %d", b.Index, len(s.bufs))
		}
		if b.Flags&uapi.BufFlagError != 0 || b.BytesUsed == 0 || int(b.BytesUsed) > len(s.bufs[b.Index]) {
			// A corrupt frame is dropped; a camera that produces nothing else is reopened.
			if err := s.queue(b.Index); err != nil {
				return err
			}
			if errored++; errored >= lim.maxErrored {
				return fmt.Errorf("%w (%d in a row)", ErrErroredBuffers, errored)
			}
			continue
		}
		errored = 0
		f := Frame{
			Data:      s.bufs[b.Index][:b.BytesUsed:b.BytesUsed],
			Timestamp: time.Duration(b.Timestamp.Nano()),
			Sequence:  b.Sequence,
			Keyframe:  b.Flags&uapi.BufFlagKeyframe != 0,
			Format:    s.format,
		}
		ferr := fn(f)
		if err := s.queue(b.Index); err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// close turns streaming off, unmaps and frees the buffers. Errors are joined: on a vanished
// device STREAMOFF and REQBUFS fail with ENODEV, and the unmapping must still happen.
func (s *stream) close() error {
	var errs []error
	if s.on {
		typ := int32(uapi.BufTypeVideoCapture)
		errs = append(errs, uapi.Ioctl(s.sys, s.fd, uapi.VIDIOC_STREAMOFF, &typ))
		s.on = false
	}
	for _, m := range s.bufs {
		if err := s.sys.Munmap(m); err != nil {
			errs = append(errs, fmt.Errorf("munmap: %w", err))
		}
	}
	s.bufs = nil
	req := uapi.RequestBuffers{Count: 0, Type: uapi.BufTypeVideoCapture, Memory: uapi.MemoryMMAP}
	errs = append(errs, uapi.Ioctl(s.sys, s.fd, uapi.VIDIOC_REQBUFS, &req))
	return errors.Join(errs...)
}
