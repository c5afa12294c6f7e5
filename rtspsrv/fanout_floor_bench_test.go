package rtspsrv

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/encoder"
)

// The kernel floor is a third side of each fan-out case: not a server, but the least that any
// server must spend to hand the same frames to the same number of viewers over loopback.
// Its child runs the same source and gives the kernel each frame's bytes for every viewer
// with as few system calls as Linux allows: over UDP, one sendmmsg per frame for all viewers,
// each viewer's bytes in segmented messages of 1400-byte datagrams (64 at most per message);
// over TCP, one write per viewer. No RTP, no RTSP, no per-viewer state. Its viewers are plain
// sockets read by a goroutine each, as a player's are.
//
// On loopback, the receiving half of the network stack (IP and UDP or TCP input, queueing,
// waking the reader) runs in the sender's system call and is charged to the sender, so this
// floor is far from zero. Its CPU over the peer's is the best ratio any server could show in
// that run: where it is near the target, the target is out of reach on that machine.
const fanoutFloorEnv = "CAMERAD_FANOUT_FLOOR" // "udp:<addr>,<addr>..." or "tcp:<addr>,<viewers>"

// floorSegment is the datagram size of the floor's UDP sends: camerad's packet size, so both
// put the same number of packets on the wire per frame.
const floorSegment = DefaultMaxPacketSize

// startFloorViewers opens the floor's viewers: one UDP socket each, or one TCP listener that
// the floor child connects to viewers times. Every byte they read is added to received. It
// returns the value for fanoutFloorEnv and a function that waits until the TCP viewers are
// connected (for UDP, at once).
func startFloorViewers(b *testing.B, lower string, viewers int, received *atomic.Int64) (string, func()) {
	// Read as the gortsplib viewers of the servers' cases do: a datagram per read, and TCP
	// through a 4 KB buffer (bufio's default). How often a TCP reader reads sets how many
	// window updates come back, which the sender's stack processes: a floor read with larger
	// reads would be cheaper than the servers can be with their viewers.
	readSize := 64 << 10
	if lower == "tcp" {
		readSize = 4 << 10
	}
	read := func(r io.Reader) {
		buf := make([]byte, readSize)
		for {
			n, err := r.Read(buf)
			received.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
	if lower == "udp" {
		var addrs []string
		for range viewers {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			if size := udpReadBufferSize(); size > 0 {
				_ = c.SetReadBuffer(size)
			}
			go read(c)
			addrs = append(addrs, c.LocalAddr().String())
		}
		return "udp:" + strings.Join(addrs, ","), func() {}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	accepted := make(chan error, viewers)
	go func() {
		for range viewers {
			c, err := ln.Accept()
			accepted <- err
			if err != nil {
				return
			}
			b.Cleanup(func() { c.Close() })
			go read(c)
		}
	}()
	return fmt.Sprintf("tcp:%s,%d", ln.Addr(), viewers), func() {
		for range viewers {
			if err := <-accepted; err != nil {
				b.Fatalf("floor viewer: %v", err)
			}
		}
	}
}

// floorPublisher is the floor child's side: it connects to the viewers that spec names and
// returns the function the source calls with each frame.
func floorPublisher(t *testing.T, spec string) func(*encoder.AccessUnit) {
	lower, rest, _ := strings.Cut(spec, ":")
	var send func(frame []byte)
	switch lower {
	case "udp":
		var sender floorUDPSender
		sender.open(t, strings.Split(rest, ","))
		send = sender.send
	case "tcp":
		addr, count, _ := strings.Cut(rest, ",")
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(count)
		if err != nil {
			t.Fatal(err)
		}
		var fds []int
		for range n {
			fds = append(fds, dialFloorTCP(t, ap))
		}
		send = func(frame []byte) {
			for _, fd := range fds {
				writeAll(fd, frame)
			}
		}
	default:
		t.Fatalf("%s=%q: want udp:... or tcp:...", fanoutFloorEnv, spec)
	}
	return func(au *encoder.AccessUnit) {
		defer au.Release()
		nalus := au.NALUs()
		if len(nalus) == 0 {
			return
		}
		// The NAL units lie back to back in the unit's one buffer: send it whole.
		send(unsafe.Slice(unsafe.SliceData(nalus[0]), au.Size()))
	}
}

// floorUDPSender sends a frame to every viewer in one sendmmsg from one socket, as camerad
// does, but with nothing else: no packetizing, no per-viewer state, no fallbacks.
type floorUDPSender struct {
	fd    int
	dests []unix.RawSockaddrInet4
	oob   []byte
	iovs  []unix.Iovec
	hdrs  []unix.Mmsghdr
}

func (s *floorUDPSender) open(t *testing.T, addrs []string) {
	var err error
	if s.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
		t.Fatal(err)
	}
	_ = unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20) // camerad's
	for _, a := range addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			t.Fatal(err)
		}
		d := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&d.Port))[:], ap.Port())
		s.dests = append(s.dests, d)
	}
	s.oob = gsoControl(floorSegment)
}

// send gives the kernel frame for every viewer, one message per 64 datagrams per viewer.
func (s *floorUDPSender) send(frame []byte) {
	const chunk = gsoMaxSegments * floorSegment
	s.iovs, s.hdrs = s.iovs[:0], s.hdrs[:0]
	for i := range s.dests {
		for off := 0; off < len(frame); off += chunk {
			p := frame[off:min(len(frame), off+chunk)]
			iov := unix.Iovec{Base: &p[0]}
			iov.SetLen(len(p))
			s.iovs = append(s.iovs, iov)
			h := unix.Mmsghdr{}
			h.Hdr.Name = (*byte)(unsafe.Pointer(&s.dests[i]))
			h.Hdr.Namelen = unix.SizeofSockaddrInet4
			h.Hdr.Iovlen = 1
			if len(p) > floorSegment { // more than one datagram: ask for segmentation
				h.Hdr.Control = &s.oob[0]
				h.Hdr.SetControllen(len(s.oob))
			}
			s.hdrs = append(s.hdrs, h)
		}
	}
	for i := range s.hdrs { // s.iovs has stopped growing: its addresses are final
		s.hdrs[i].Hdr.Iov = &s.iovs[i]
	}
	for sent := 0; sent < len(s.hdrs); {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd),
			uintptr(unsafe.Pointer(&s.hdrs[sent])), uintptr(len(s.hdrs)-sent), 0, 0, 0)
		if errno != 0 {
			fmt.Fprintln(os.Stderr, "floor: sendmmsg:", errno)
			return
		}
		sent += int(n)
	}
}

// dialFloorTCP returns a blocking TCP socket connected to ap, outside Go's network poller,
// with Nagle's algorithm off, as every live-media server has it (Go's default, camerad's and
// gortsplib's). With Nagle on, a frame's last segment waits for the previous frame's ACK: at a
// thousand frames/s the floor then sent 0.6 segments per frame, coalescing frames, where a
// server that must not delay a frame's tail sends at least one.
func dialFloorTCP(t *testing.T, ap netip.AddrPort) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		t.Fatal(err)
	}
	return fd
}

// writeAll writes p with raw write calls, blocking (its thread, not the scheduler) until the
// socket has taken it all.
func writeAll(fd int, p []byte) {
	for len(p) > 0 {
		n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			fmt.Fprintln(os.Stderr, "floor: write:", errno)
			return
		}
		p = p[n:]
	}
}
