package rtspsrv

import (
	"errors"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// iovMax is the kernel's limit on iovecs per writev (UIO_MAXIOV).
const iovMax = 1024

// writevOnce makes one non-blocking writev on a socket managed by Go's poller, through its
// syscall.RawConn so that the descriptor cannot be closed and reused under the call. It
// never waits for room: the caller keeps what was not written.
//
// The call is raw (see mmsgWriter.send for why), and its function is bound once: a closure
// made per call would escape through the RawConn interface and allocate every frame.
type writevOnce struct {
	raw  syscall.RawConn
	iovs []unix.Iovec
	n    int
	err  error
	fn   func(fd uintptr) bool
}

func newWritevOnce(nc net.Conn) *writevOnce {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &writevOnce{raw: raw}
	w.fn = w.call
	return w
}

// write writes what the socket takes of bufs now and consumes it from bufs.
func (w *writevOnce) write(bufs *net.Buffers) error {
	w.iovs = w.iovs[:0]
	for _, b := range *bufs {
		if len(w.iovs) == iovMax {
			break
		}
		if len(b) > 0 {
			w.iovs = append(w.iovs, unix.Iovec{Base: &b[0]})
			w.iovs[len(w.iovs)-1].SetLen(len(b))
		}
	}
	if len(w.iovs) == 0 {
		*bufs = (*bufs)[:0]
		return nil
	}
	w.n, w.err = 0, nil
	err := w.raw.Write(w.fn)
	clear(w.iovs) // no pointers into frames kept
	if err == nil {
		err = w.err
	}
	consumeBuffers(bufs, w.n)
	if errors.Is(err, unix.EAGAIN) {
		return nil
	}
	return err
}

func (w *writevOnce) call(fd uintptr) bool {
	r, _, errno := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iovs[0])), uintptr(len(w.iovs)))
	if errno != 0 {
		w.err = os.NewSyscallError("writev", errno)
		return true
	}
	w.n = int(r)
	return true
}

// consumeBuffers drops the first n bytes of bufs.
func consumeBuffers(bufs *net.Buffers, n int) {
	for len(*bufs) > 0 {
		l := len((*bufs)[0])
		if l > n {
			(*bufs)[0] = (*bufs)[0][n:]
			return
		}
		n -= l
		(*bufs)[0] = nil
		*bufs = (*bufs)[1:]
	}
}
