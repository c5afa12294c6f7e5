package rtspsrv

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/camerad/camerad/encoder"
)

// frame is an access unit as the fan-out sees it: packetized once, numbered in the stream,
// and reference-counted so that the ring and each viewer in the middle of sending it can hold
// it. The last release returns the access unit to its pool.
type frame struct {
	au       *encoder.AccessUnit
	number   uint64 // position in the stream, counting from 0
	keyframe bool
	pts      time.Duration
	captured time.Time // wall clock, for RTCP sender reports
	packets  []packet
	scratch  []byte

	refs atomic.Int32
	pool *sync.Pool
}

func (f *frame) retain() { f.refs.Add(1) }

func (f *frame) release() {
	if f.refs.Add(-1) != 0 {
		return
	}
	f.au.Release()
	f.au = nil
	clear(f.packets) // drop references into the released buffer
	f.packets = f.packets[:0]
	f.pool.Put(f)
}
