package encoder

import (
	"sync"
	"sync/atomic"
	"time"
)

// sizeClasses are the buffer capacities a Pool hands out: the powers of two from 16 KB to
// 4 MB and the points halfway between, so that no more than a third of a buffer goes unused.
// A stream's ring holds some 64 of them: with classes four times apart, the P frames of a
// 4 Mbit/s 720p stream, just over 16 KB each, took 64 KB buffers, 4 MB for the ring. An IDR
// at 1080p is a few hundred KB; larger units get an exact-size buffer that is not kept.
var sizeClasses = [...]int{
	16 << 10, 24 << 10, 32 << 10, 48 << 10, 64 << 10, 96 << 10, 128 << 10, 192 << 10,
	256 << 10, 384 << 10, 512 << 10, 768 << 10, 1 << 20, 3 << 19, 2 << 20, 3 << 20, 4 << 20,
}

// Pool recycles access units together with their payload buffers, one free list per size
// class, so that steady-state capture allocates nothing. Its counters let tests prove that
// every unit comes back.
type Pool struct {
	classes [len(sizeClasses)]sync.Pool

	outstanding    atomic.Int64
	doubleReleases atomic.Int64
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{} }

// Get returns an empty access unit with room for at least sizeHint payload bytes and one
// reference owned by the caller.
func (p *Pool) Get(sizeHint int) *AccessUnit {
	class := classFor(sizeHint)
	var au *AccessUnit
	if class >= 0 {
		au, _ = p.classes[class].Get().(*AccessUnit)
	}
	if au == nil {
		au = &AccessUnit{pool: p, class: class, buf: make([]byte, 0, capacityFor(class, sizeHint))}
	}
	au.refs.Store(1)
	p.outstanding.Add(1)
	return au
}

// grow replaces au's buffer with one of a class that holds n bytes. The old buffer is left to
// the garbage collector: growth happens while a source learns its frame sizes, not in steady
// state.
func (p *Pool) grow(au *AccessUnit, n int) {
	class := classFor(n)
	nb := make([]byte, len(au.buf), capacityFor(class, n))
	copy(nb, au.buf)
	au.buf, au.class = nb, class
}

func (p *Pool) put(au *AccessUnit) {
	au.buf = au.buf[:0]
	clear(au.nalus)
	au.nalus, au.spans = au.nalus[:0], au.spans[:0]
	au.PTS, au.Keyframe, au.Captured = 0, false, time.Time{}
	p.outstanding.Add(-1)
	if au.class >= 0 {
		p.classes[au.class].Put(au)
	}
}

func classFor(n int) int {
	for i, size := range sizeClasses {
		if n <= size {
			return i
		}
	}
	return -1
}

func capacityFor(class, n int) int {
	if class < 0 {
		return n
	}
	return sizeClasses[class]
}

// Outstanding is the number of access units handed out and not yet fully released.
func (p *Pool) Outstanding() int64 { return p.outstanding.Load() }

// DoubleReleases counts Release calls on units that had no reference left: always a bug.
func (p *Pool) DoubleReleases() int64 { return p.doubleReleases.Load() }
