// Package m2m drives a V4L2 memory-to-memory H.264 encoder — on a Raspberry Pi the VideoCore
// encoder exposed by bcm2835-codec at /dev/video11 — through the multi-planar API on
// golang.org/x/sys/unix (via device/uapi), so it needs no cgo. Raw frames are copied into the
// encoder's OUTPUT buffers (mmap); encoded frames are handed on from its CAPTURE buffers in
// place, with the timestamps the encoder copied from the raw frames.
package m2m

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/device/uapi"
)

// DefaultPath is where bcm2835-codec registers its encoder.
const DefaultPath = "/dev/video11"

// Config describes the raw input and the wanted H.264.
type Config struct {
	Path string
	// Raw input: pixel format (YUV420, NV12, YUYV...), size and line stride (0: derived).
	InputFormat   uint32
	Width, Height int
	BytesPerLine  int
	FPS           int
	// OutputFormat is the coded format (default H.264; tests on a stock kernel use vicodec's FWHT).
	OutputFormat uint32
	Bitrate      int   // bits/s, 0 = driver default
	IPeriod      int   // frames between IDRs, 0 = driver default
	Profile      int32 // V4L2 profile menu value, -1 = driver default
	LevelIDC     int   // e.g. 40, 0 = driver default
	Buffers      int   // per queue (default 4)
	// StallTimeout is how long the encoder may hold input without returning a coded frame
	// before Drain gives up on it (default 2s, as for the camera).
	StallTimeout time.Duration
	Sys          uapi.Sys
	Log          *slog.Logger
}

// queue is one side of the encoder: its mapped buffers and which of them we own.
type queue struct {
	typ  uint32
	bufs [][]byte
	free []uint32 // OUTPUT buffers we may fill
}

// Encoder is an open, streaming M2M encoder. Submit (camera goroutine) and Drain (its own
// goroutine) may run concurrently; Close after both have returned.
type Encoder struct {
	cfg      Config
	sys      uapi.Sys
	fd       int
	mu       sync.Mutex // guards out.free and OUTPUT queue ioctls between Submit and Drain
	out, cap queue
	on       bool
	forceKey atomic.Bool
	dropped  atomic.Int64
}

// ErrNotEncoder means the node is not a multi-planar M2M device.
var ErrNotEncoder = errors.New("not a multi-planar memory-to-memory device")

// Open opens the encoder, sets both formats, the rate and the H.264 controls, maps both
// queues' buffers and starts streaming.
func Open(cfg Config) (*Encoder, error) {
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.Sys == nil {
		cfg.Sys = uapi.Kernel{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 2 * time.Second
	}
	if cfg.Buffers <= 0 {
		cfg.Buffers = 4
	}
	if cfg.OutputFormat == 0 {
		cfg.OutputFormat = uapi.PixFmtH264
	}
	fd, err := cfg.Sys.Open(cfg.Path)
	if err != nil {
		return nil, err
	}
	e := &Encoder{cfg: cfg, sys: cfg.Sys, fd: fd,
		out: queue{typ: uapi.BufTypeVideoOutputMplane}, cap: queue{typ: uapi.BufTypeVideoCaptureMplane}}
	if err := e.setup(); err != nil {
		// Undo whatever setup got to: streaming, mappings, buffers, the fd.
		_ = e.Close()
		return nil, fmt.Errorf("encoder %s: %w", cfg.Path, err)
	}
	return e, nil
}

func (e *Encoder) setup() error {
	var c uapi.Capability
	if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_QUERYCAP, &c); err != nil {
		return err
	}
	if c.Caps()&uapi.CapVideoM2MMplane == 0 {
		return fmt.Errorf("%s (%s): %w", uapi.CString(c.Card[:]), uapi.CString(c.Driver[:]), ErrNotEncoder)
	}
	// OUTPUT first: the encoder derives the CAPTURE (coded) size from it.
	of := uapi.Format{Type: uapi.BufTypeVideoOutputMplane}
	op := of.PixMP()
	op.Width, op.Height, op.PixelFormat, op.Field = uint32(e.cfg.Width), uint32(e.cfg.Height), e.cfg.InputFormat, uapi.FieldNone
	op.NumPlanes = 1
	op.PlaneFmt[0].BytesPerLine = uint32(e.cfg.BytesPerLine)
	if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_S_FMT, &of); err != nil {
		return fmt.Errorf("set raw format: %w", err)
	}
	if op.PixelFormat != e.cfg.InputFormat {
		return fmt.Errorf("encoder does not take %s input (offers %s)", uapi.FourCCString(e.cfg.InputFormat), uapi.FourCCString(op.PixelFormat))
	}
	cf := uapi.Format{Type: uapi.BufTypeVideoCaptureMplane}
	cp := cf.PixMP()
	cp.Width, cp.Height, cp.PixelFormat, cp.Field = uint32(e.cfg.Width), uint32(e.cfg.Height), e.cfg.OutputFormat, uapi.FieldNone
	cp.NumPlanes = 1
	if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_S_FMT, &cf); err != nil {
		return fmt.Errorf("set coded format: %w", err)
	}
	if cp.PixelFormat != e.cfg.OutputFormat {
		return fmt.Errorf("encoder does not produce %s", uapi.FourCCString(e.cfg.OutputFormat))
	}
	if e.cfg.FPS > 0 {
		// The rate goes on the OUTPUT queue: rate control spreads the bitrate over it.
		parm := uapi.StreamParm{Type: uapi.BufTypeVideoOutputMplane}
		parm.Capture().TimePerFrame = uapi.Fract{Numerator: 1, Denominator: uint32(e.cfg.FPS)}
		if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_S_PARM, &parm); err != nil {
			e.cfg.Log.Debug("encoder ignores the frame rate", "err", err)
		}
	}
	for _, ct := range device.EncoderControls(e.cfg.Bitrate, e.cfg.IPeriod, e.cfg.Profile, e.cfg.LevelIDC) {
		if _, err := device.SetControl(e.sys, e.fd, ct.ID, ct.Value); err != nil {
			if uapi.IsGone(err) {
				return err
			}
			e.cfg.Log.Debug("encoder control not applied", "id", fmt.Sprintf("%#x", ct.ID), "err", err)
		}
	}
	if err := e.mapQueue(&e.out); err != nil {
		return err
	}
	if err := e.mapQueue(&e.cap); err != nil {
		return err
	}
	for i := range e.out.bufs {
		e.out.free = append(e.out.free, uint32(i))
	}
	for i := range e.cap.bufs {
		if err := e.queueCapture(uint32(i)); err != nil {
			return err
		}
	}
	for _, typ := range []uint32{e.out.typ, e.cap.typ} {
		t := int32(typ)
		if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_STREAMON, &t); err != nil {
			return err
		}
		e.on = true
	}
	return nil
}

func (e *Encoder) mapQueue(q *queue) error {
	req := uapi.RequestBuffers{Count: uint32(e.cfg.Buffers), Type: q.typ, Memory: uapi.MemoryMMAP}
	if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_REQBUFS, &req); err != nil {
		return err
	}
	if req.Count == 0 {
		return fmt.Errorf("encoder granted no buffers on queue %d", q.typ)
	}
	for i := uint32(0); i < req.Count; i++ {
		var plane uapi.Plane
		b := uapi.BufferMplane{Index: i, Type: q.typ, Memory: uapi.MemoryMMAP, Planes: &plane, Length: 1}
		if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_QUERYBUF, &b); err != nil {
			return err
		}
		m, err := e.sys.Mmap(e.fd, plane.Offset(), int(plane.Length))
		if err != nil {
			return fmt.Errorf("mmap queue %d buffer %d: %w", q.typ, i, err)
		}
		q.bufs = append(q.bufs, m)
	}
	return nil
}

func (e *Encoder) queueCapture(i uint32) error {
	var plane uapi.Plane
	b := uapi.BufferMplane{Index: i, Type: e.cap.typ, Memory: uapi.MemoryMMAP, Planes: &plane, Length: 1}
	return uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_QBUF, &b)
}

// RequestKeyframe makes the next submitted frame an IDR.
func (e *Encoder) RequestKeyframe() { e.forceKey.Store(true) }

// Dropped counts raw frames dropped because every OUTPUT buffer was still in the encoder.
func (e *Encoder) Dropped() int64 { return e.dropped.Load() }

// Submit copies one raw frame into a free OUTPUT buffer and queues it with its capture
// timestamp. It never blocks: when the encoder holds every buffer the frame is dropped
// (counted) so the camera is never slowed down.
func (e *Encoder) Submit(raw []byte, ts time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.reclaimLocked(); err != nil {
		return err
	}
	if len(e.out.free) == 0 {
		e.dropped.Add(1)
		return nil
	}
	i := e.out.free[0]
	buf := e.out.bufs[i]
	if len(raw) > len(buf) {
		return fmt.Errorf("raw frame of %d bytes exceeds the encoder's %d-byte buffer", len(raw), len(buf))
	}
	if e.forceKey.Swap(false) {
		if _, err := device.SetControl(e.sys, e.fd, uapi.CIDVideoForceKeyFrame, 1); err != nil {
			if uapi.IsGone(err) {
				return err
			}
			e.cfg.Log.Debug("encoder cannot force a keyframe", "err", err)
		}
	}
	n := copy(buf, raw)
	plane := uapi.Plane{BytesUsed: uint32(n), Length: uint32(len(buf))}
	b := uapi.BufferMplane{Index: i, Type: e.out.typ, Memory: uapi.MemoryMMAP, Planes: &plane, Length: 1,
		Timestamp: unix.NsecToTimeval(int64(ts)), Field: uapi.FieldNone}
	if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_QBUF, &b); err != nil {
		return err
	}
	e.out.free = e.out.free[1:]
	return nil
}

// reclaimLocked dequeues every OUTPUT buffer the encoder has finished with.
func (e *Encoder) reclaimLocked() error {
	for {
		var plane uapi.Plane
		b := uapi.BufferMplane{Type: e.out.typ, Memory: uapi.MemoryMMAP, Planes: &plane, Length: 1}
		if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_DQBUF, &b); err != nil {
			if errors.Is(err, unix.EAGAIN) {
				return nil
			}
			return err
		}
		if int(b.Index) < len(e.out.bufs) {
			e.out.free = append(e.out.free, b.Index)
		}
	}
}

// Coded is one encoded frame; Data aliases the encoder's CAPTURE buffer and is valid only
// during the callback.
type Coded struct {
	Data      []byte
	Timestamp time.Duration
	Keyframe  bool
}

// maxErroredCoded is how many coded buffers in a row may come back flagged as errored (or
// malformed) before Drain gives up on the encoder, as the camera's stream does.
const maxErroredCoded = 8

// Drain polls the encoder, recycles finished OUTPUT buffers and hands each coded frame to fn
// before queueing its buffer back. It returns nil when ctx ends, fn's error, or the fault
// that stopped the encoder: an error from the device, errored buffers only, or no coded frame
// for StallTimeout while it holds input (a hung encoder would otherwise freeze the picture
// for good while the camera streams on).
func (e *Encoder) Drain(ctx context.Context, fn func(Coded) error) error {
	errored := 0
	lastCoded := time.Now()
	for ctx.Err() == nil {
		rev, err := e.sys.Poll(e.fd, unix.POLLIN|unix.POLLOUT, 100)
		if err != nil {
			return fmt.Errorf("poll encoder: %w", err)
		}
		if rev&(unix.POLLERR|unix.POLLHUP) != 0 && rev&(unix.POLLIN|unix.POLLOUT) == 0 {
			return fmt.Errorf("encoder reported an error (revents %#x)", rev)
		}
		e.mu.Lock()
		if rev&unix.POLLOUT != 0 {
			err = e.reclaimLocked()
		}
		holding := len(e.out.free) < len(e.out.bufs)
		e.mu.Unlock()
		if err != nil {
			return err
		}
		if !holding {
			lastCoded = time.Now() // nothing asked of it: not stalled
		} else if idle := time.Since(lastCoded); idle > e.cfg.StallTimeout {
			return fmt.Errorf("%w: the encoder holds input and returned no frame for %v", device.ErrStalled, idle.Round(time.Millisecond))
		}
		if rev&unix.POLLIN == 0 {
			continue
		}
		var plane uapi.Plane
		b := uapi.BufferMplane{Type: e.cap.typ, Memory: uapi.MemoryMMAP, Planes: &plane, Length: 1}
		if err := uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_DQBUF, &b); err != nil {
			if errors.Is(err, unix.EAGAIN) {
				continue
			}
			return err
		}
		if int(b.Index) >= len(e.cap.bufs) {
			return fmt.Errorf("encoder returned buffer %d of %d", b.Index, len(e.cap.bufs))
		}
		lastCoded = time.Now()
		var ferr error
		if b.Flags&uapi.BufFlagError != 0 || plane.BytesUsed == 0 || int(plane.BytesUsed) > len(e.cap.bufs[b.Index]) ||
			plane.DataOffset >= plane.BytesUsed {
			// Nothing usable in it: requeued; an encoder that returns nothing else is a fault.
			if errored++; errored >= maxErroredCoded {
				return fmt.Errorf("%w: %d coded buffers in a row (last: flags %#x, %d bytes from offset %d)",
					device.ErrErroredBuffers, errored, b.Flags, plane.BytesUsed, plane.DataOffset)
			}
		} else {
			errored = 0
			ferr = fn(Coded{
				Data:      e.cap.bufs[b.Index][plane.DataOffset:plane.BytesUsed:plane.BytesUsed],
				Timestamp: time.Duration(b.Timestamp.Nano()),
				Keyframe:  b.Flags&uapi.BufFlagKeyframe != 0,
			})
		}
		if err := e.queueCapture(b.Index); err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// Close stops both queues, unmaps and frees the buffers and closes the device.
func (e *Encoder) Close() error {
	var errs []error
	if e.on {
		for _, typ := range []uint32{e.out.typ, e.cap.typ} {
			t := int32(typ)
			errs = append(errs, uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_STREAMOFF, &t))
		}
		e.on = false
	}
	for _, q := range []*queue{&e.out, &e.cap} {
		for _, m := range q.bufs {
			if err := e.sys.Munmap(m); err != nil {
				errs = append(errs, fmt.Errorf("munmap: %w", err))
			}
		}
		if q.bufs != nil {
			req := uapi.RequestBuffers{Type: q.typ, Memory: uapi.MemoryMMAP}
			errs = append(errs, uapi.Ioctl(e.sys, e.fd, uapi.VIDIOC_REQBUFS, &req))
		}
		q.bufs, q.free = nil, nil
	}
	errs = append(errs, e.sys.Close(e.fd))
	return errors.Join(errs...)
}
