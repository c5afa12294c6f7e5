package rtspsrv

import (
	"context"
	"errors"
	"time"
)

// ErrStreamClosed is returned by Reader.Next once the stream is closed.
var ErrStreamClosed = errors.New("stream closed")

// Reader follows the stream for a consumer outside the RTSP server: the web page's live view.
// Like an RTSP viewer it starts at a keyframe (asking the source for one), never gets a
// non-IDR frame first, and when it falls more than MaxLagFrames behind it is moved to the
// next keyframe instead of holding the source back. Its frames are the ring's own access units,
// shared, not copied.
type Reader struct {
	s           *Stream
	cur         cursor
	frame       *frame // returned by the last Next, held until the next call or Close
	kick        chan struct{}
	unsubscribe func()
	closed      bool
}

// Frame is one access unit as a Reader returns it; its slices stay valid until the Reader's
// next Next or Close.
type Frame struct {
	NALUs    [][]byte      // without start codes
	PTS      time.Duration // presentation time on the source's clock
	Keyframe bool
}

// NewReader starts reading the stream at the next keyframe. It counts as a viewer playing
// (see Server's keyframe requests) until Close.
func (s *Stream) NewReader() *Reader {
	r := &Reader{s: s, kick: make(chan struct{}, 1)}
	r.unsubscribe = s.subscribe(func() {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	})
	s.join(&r.cur)
	s.startPlaying()
	return r
}

// Next waits for the reader's next frame. It returns ctx's error when ctx ends first, and
// ErrStreamClosed after the stream's Close.
func (r *Reader) Next(ctx context.Context) (Frame, error) {
	r.releaseFrame()
	for {
		if f := r.s.nextFrame(&r.cur); f != nil {
			r.frame = f
			return Frame{NALUs: f.au.NALUs(), PTS: f.pts, Keyframe: f.keyframe}, nil
		}
		if r.s.isClosed() {
			return Frame{}, ErrStreamClosed
		}
		select {
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		case <-r.kick:
		}
	}
}

// Dropped is how many frames the reader skipped because it fell behind.
func (r *Reader) Dropped() uint64 {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.cur.dropped
}

// Close stops reading and releases the last frame. Calls after the first do nothing.
func (r *Reader) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.unsubscribe()
	r.releaseFrame()
	r.s.stopPlaying()
}

func (r *Reader) releaseFrame() {
	if r.frame != nil {
		r.frame.release()
		r.frame = nil
	}
}

// isClosed reports whether Close has been called.
func (s *Stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
