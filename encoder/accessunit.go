// Package encoder provides H.264 access units and the sources that produce them: the embedded
// clip, a pipe from a child process, the pure-Go test source and (with cgo) V4L2 cameras.
//
// An AccessUnit is the unit that crosses from a source to the RTSP server. Its payload is
// copied once, from wherever the source reads it into a pooled buffer, and from then on is
// only referenced: the packetizer and the network senders point iovecs into it.
package encoder

import (
	"sync/atomic"
	"time"
)

// AccessUnit is one coded picture: its NAL units (without start codes) as sub-slices of a
// single pooled buffer, reference-counted so that the source, the stream's ring and every
// viewer can hold it without copies. The producer owns one reference after Pool.Get.
type AccessUnit struct {
	// PTS is the capture time on the monotonic clock (the driver timestamp for cameras).
	PTS time.Duration
	// Captured is the wall-clock capture time, when known (zero otherwise).
	Captured time.Time
	// Keyframe reports whether the unit holds an IDR slice.
	Keyframe bool

	nalus [][]byte
	spans []span // offsets of nalus in buf, so a regrown buffer can be re-sliced
	buf   []byte
	class int // size class of buf in pool, -1 for an oversized buffer that is not kept
	pool  *Pool
	refs  atomic.Int32
}

type span struct{ start, end int }

// NALUs returns the unit's NAL units. The slices alias the pooled buffer and are valid until
// the caller's reference is released.
func (au *AccessUnit) NALUs() [][]byte { return au.nalus }

// Size is the number of payload bytes in all NAL units.
func (au *AccessUnit) Size() int { return len(au.buf) }

// AppendNALU copies nalu (without start code) into the unit's buffer: this is the one copy a
// frame's bytes get in user space.
func (au *AccessUnit) AppendNALU(nalu []byte) {
	if len(nalu) == 0 {
		return
	}
	au.reserve(len(nalu))
	start := len(au.buf)
	au.buf = append(au.buf, nalu...)
	au.spans = append(au.spans, span{start, len(au.buf)})
	au.nalus = append(au.nalus, au.buf[start:len(au.buf):len(au.buf)])
}

// reserve makes room for n more bytes, moving to a larger pooled buffer when needed and
// re-slicing the NAL units already appended.
func (au *AccessUnit) reserve(n int) {
	if len(au.buf)+n <= cap(au.buf) {
		return
	}
	au.pool.grow(au, len(au.buf)+n)
	for i, s := range au.spans {
		au.nalus[i] = au.buf[s.start:s.end:s.end]
	}
}

// Retain adds a reference; each Retain needs a matching Release.
func (au *AccessUnit) Retain() { au.refs.Add(1) }

// Release drops a reference; the last one returns the buffer to its pool.
func (au *AccessUnit) Release() {
	switch n := au.refs.Add(-1); {
	case n == 0:
		au.pool.put(au)
	case n < 0:
		// A double release would hand the same buffer to two frames; refuse loudly in the
		// counters rather than corrupt a picture.
		au.pool.doubleReleases.Add(1)
	}
}
