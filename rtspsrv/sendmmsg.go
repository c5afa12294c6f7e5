package rtspsrv

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// datagram is one sendmmsg message: a single RTP packet, or with segmented set a GSO run of
// packets that the kernel cuts into datagrams (see gso.go). iov points into the viewer's
// header scratch and the frame's payload; nothing is copied in user space.
type datagram struct {
	iov       [][]byte
	to        *rawAddr
	from      *rawUDPConn // nil: the server's RTP socket of to's family
	segmented bool
}

// mmsgBatchMax bounds the messages of one sendmmsg call, so a call (made without leaving the
// Go scheduler, see send) stays around a millisecond even when every message is a full run.
const mmsgBatchMax = 64

// mmsgWriter turns datagrams into the kernel's mmsghdr array. Its arrays are reused from call
// to call, so sending allocates nothing.
type mmsgWriter struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	gso  []byte // UDP_SEGMENT control message for segmented datagrams
	niov int    // iovecs used by the last pack
}

// send hands the kernel as many of ds as one sendmmsg call takes (at most mmsgBatchMax) and
// returns how many it took.
//
// With wait false the call is MSG_DONTWAIT and is made as a raw system call: it cannot block,
// so it need not leave the Go scheduler. That matters at this rate: a call that enters the
// "in syscall" state for longer than 20µs has its P taken away by sysmon and handed to another
// thread, and sysmon then goes back to polling every 20µs. When the socket buffer is full it
// returns EAGAIN and what it sent so far.
// With wait true it is an ordinary blocking call, for the sender goroutine only.
func (w *mmsgWriter) send(fd int, ds []datagram, wait bool) (int, error) {
	ds = ds[:min(len(ds), mmsgBatchMax)]
	if len(ds) == 0 {
		return 0, nil
	}
	w.pack(ds)
	defer w.clear(len(ds))
	var r uintptr
	var errno unix.Errno
	if wait {
		r, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&w.hdrs[0])), uintptr(len(ds)), 0, 0, 0)
	} else {
		r, _, errno = unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&w.hdrs[0])), uintptr(len(ds)), unix.MSG_DONTWAIT, 0, 0)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func (w *mmsgWriter) pack(ds []datagram) {
	niov := 0
	for _, d := range ds {
		niov += len(d.iov)
	}
	if cap(w.hdrs) < len(ds) {
		w.hdrs = make([]unix.Mmsghdr, mmsgBatchMax)
	}
	if cap(w.iovs) < niov {
		w.iovs = make([]unix.Iovec, niov)
	}
	hdrs, iovs := w.hdrs[:len(ds)], w.iovs[:niov]
	w.niov = niov
	k := 0
	for i, d := range ds {
		first := k
		for _, b := range d.iov {
			if len(b) == 0 {
				continue // an empty slice has no first byte to point at
			}
			iovs[k].Base = &b[0]
			iovs[k].SetLen(len(b))
			k++
		}
		h := &hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&d.to.sa))
		h.Namelen = d.to.len
		h.Iov = &iovs[first]
		h.SetIovlen(k - first)
		if d.segmented {
			h.Control = &w.gso[0]
			h.SetControllen(len(w.gso))
		} else {
			h.Control = nil
			h.SetControllen(0)
		}
	}
}

// clear drops the pointers into frames and viewers so the arrays do not keep them alive.
func (w *mmsgWriter) clear(n int) {
	clear(w.hdrs[:n])
	clear(w.iovs[:w.niov])
}
