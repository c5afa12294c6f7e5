package rtspsrv

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP generic segmentation offload (Linux ≥ 4.18, UDP_SEGMENT): one sendmsg carries a run of
// equal-sized RTP packets and the kernel cuts it into datagrams, so the stack is walked once
// per run instead of once per packet. An FU-A-fragmented frame is exactly such a run: every
// fragment but the last has the maximum packet size.

// gsoMaxSegments bounds a run: the kernel accepts at most 64 segments and 64 KB per send.
const gsoMaxSegments = 40

// gsoControl returns the control message that asks for segments of size bytes.
func gsoControl(size int) []byte {
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(size))
	return oob
}

// gsoRuns calls fn for each run of packets [i, j) of f that can go in one segmented send:
// packets of exactly segment bytes (RTP header included), optionally ended by one shorter
// packet. Packets that fit no run come out as runs of one.
func gsoRuns(f *frame, segment int, fn func(i, j int)) {
	n := len(f.packets)
	for i := 0; i < n; {
		j := i
		for j < n && j-i < gsoMaxSegments && rtpHeaderLen+f.packets[j].size() == segment {
			j++
		}
		if j < n && j-i < gsoMaxSegments && j > i && rtpHeaderLen+f.packets[j].size() < segment {
			j++ // a shorter packet may end a run
		}
		if j == i {
			j = i + 1
		}
		fn(i, j)
		i = j
	}
}
