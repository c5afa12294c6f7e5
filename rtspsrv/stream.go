package rtspsrv

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
)

// StreamConfig tunes a Stream. Zero fields take defaults.
type StreamConfig struct {
	// MaxLagFrames is how far a viewer may fall behind before it is moved to the next
	// keyframe (default 30, about a second at 30 fps).
	MaxLagFrames int
	// RingFrames is how many recent frames the stream keeps for viewers that are briefly
	// behind (default MaxLagFrames+2; at least minRingFrames). A longer ring would only hold
	// frames that no viewer reads: one further behind is moved on, and a joiner starts at the
	// newest frame.
	RingFrames int
	// MaxPacketSize bounds RTP packets, header included (default DefaultMaxPacketSize).
	MaxPacketSize int
	// Keyframes, when set, is asked for an IDR whenever a viewer joins or resyncs; if it is an
	// encoder.KeyframeSkipper, only when that viewer is the only one playing.
	Keyframes encoder.KeyframeRequester
	Logger    *slog.Logger
}

// Stream is the hub between one source and all of its viewers: it packetizes each access
// unit once, keeps a short ring of recent frames with the position of the latest keyframe,
// and hands each frame to the senders (the UDP sender, each TCP viewer), which send it on the
// publishing goroutine as far as the sockets take it at once. Publish never waits for a
// viewer.
type Stream struct {
	cfg StreamConfig
	log *slog.Logger

	mu      sync.Mutex
	ring    []*frame
	head    uint64 // number of the next frame to publish
	lastKey uint64 // number+1 of the latest keyframe; 0 when none yet
	sps     []byte
	pps     []byte
	spsInfo h264.SPS
	ready   chan struct{} // closed once SPS and PPS are known
	closed  bool

	// subs are the senders' hooks, called after each publish. Copied on write, so Publish
	// reads them without the lock and without allocating.
	subs atomic.Pointer[[]*subscriber]

	packetizer packetizer
	frames     sync.Pool

	// skipsAhead: the source's keyframes on demand are jumps everyone sees (a file).
	skipsAhead bool
	// playing counts the sessions playing (see startPlaying), to tell whether a joiner is
	// alone.
	playing atomic.Int64
}

// minRingFrames is the smallest ring that leaves a viewer room to lag a frame (MaxLagFrames
// keeps two slots clear of the one being overwritten).
const minRingFrames = 3

// NewStream returns an empty stream.
func NewStream(cfg StreamConfig) *Stream {
	if cfg.MaxLagFrames <= 0 {
		cfg.MaxLagFrames = 30
	}
	if cfg.RingFrames <= 0 {
		cfg.RingFrames = cfg.MaxLagFrames + 2
	}
	cfg.RingFrames = max(cfg.RingFrames, minRingFrames)
	cfg.MaxLagFrames = min(cfg.MaxLagFrames, cfg.RingFrames-2)
	if cfg.MaxPacketSize <= rtpHeaderLen+16 {
		cfg.MaxPacketSize = DefaultMaxPacketSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stream{
		cfg:        cfg,
		log:        cfg.Logger,
		ring:       make([]*frame, cfg.RingFrames),
		ready:      make(chan struct{}),
		packetizer: packetizer{maxPayload: cfg.MaxPacketSize - rtpHeaderLen},
	}
	s.frames.New = func() any { return &frame{pool: &s.frames} }
	if ks, ok := cfg.Keyframes.(encoder.KeyframeSkipper); ok {
		s.skipsAhead = ks.KeyframeSkipsAhead()
	}
	return s
}

// Publish adds an access unit; the stream takes over the caller's reference. It is the
// source's side of the hub and never waits for a viewer.
func (s *Stream) Publish(au *encoder.AccessUnit) {
	f := s.frames.Get().(*frame)
	f.au = au
	f.keyframe = au.Keyframe || h264.IsKeyframe(au.NALUs())
	f.pts = au.PTS
	f.captured = au.Captured
	if f.captured.IsZero() {
		f.captured = time.Now()
	}
	f.refs.Store(1) // the ring's reference

	if !s.insert(f) {
		return
	}
	if subs := s.subs.Load(); subs != nil {
		for _, sub := range *subs {
			sub.onPublish()
		}
	}
}

// insert packetizes f and puts it in the ring; false when the stream is closed.
func (s *Stream) insert(f *frame) bool {
	au := f.au
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		f.release()
		return false
	}
	s.learnParameterSets(au.NALUs())
	s.packetizer.packetize(f, s.sps, s.pps)
	f.number = s.head
	slot := s.head % uint64(len(s.ring))
	if old := s.ring[slot]; old != nil {
		old.release()
	}
	s.ring[slot] = f
	s.head++
	if f.keyframe {
		s.lastKey = f.number + 1
	}
	return true
}

// learnParameterSets caches the latest SPS and PPS (copied: they outlive the unit) so that
// DESCRIBE can answer and keyframes without inline parameter sets can still be started on.
func (s *Stream) learnParameterSets(nalus [][]byte) {
	for _, n := range nalus {
		switch h264.TypeOf(n) {
		case h264.NALSPS:
			if bytes.Equal(n, s.sps) {
				continue
			}
			info, err := h264.ParseSPS(n)
			if err != nil {
				s.log.Warn("ignoring unparsable SPS", "err", err)
				continue
			}
			if s.sps != nil {
				s.log.Info("stream parameters changed", "width", info.Width, "height", info.Height,
					"profile-level-id", info.ProfileLevelID())
			}
			s.sps, s.spsInfo = bytes.Clone(n), info
		case h264.NALPPS:
			if !bytes.Equal(n, s.pps) {
				s.pps = bytes.Clone(n)
			}
		}
	}
	if s.sps != nil && s.pps != nil {
		select {
		case <-s.ready:
		default:
			close(s.ready)
		}
	}
}

// ErrNoParameterSets is returned by Describe when the source has not produced SPS and PPS
// within the wait.
var ErrNoParameterSets = errors.New("stream has no SPS/PPS yet")

// ParameterSets is what SDP needs of the stream.
type ParameterSets struct {
	SPS, PPS []byte
	Info     h264.SPS
}

// SpropParameterSets is the fmtp value: base64 SPS, comma, base64 PPS.
func (p ParameterSets) SpropParameterSets() string {
	return base64.StdEncoding.EncodeToString(p.SPS) + "," + base64.StdEncoding.EncodeToString(p.PPS)
}

// ParameterSets waits until the stream knows its SPS and PPS, or ctx ends.
func (s *Stream) ParameterSets(ctx context.Context) (ParameterSets, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return ParameterSets{}, fmt.Errorf("%w: %w", ErrNoParameterSets, ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return ParameterSets{SPS: s.sps, PPS: s.pps, Info: s.spsInfo}, nil
}

// subscriber is a sender's hook into Publish.
type subscriber struct {
	onPublish func()
}

// subscribe has onPublish called on the publishing goroutine after every frame, outside the
// stream's lock. onPublish must not wait for anything: it sends what it can at once and hands
// the rest to a goroutine of its own. The returned function ends the subscription.
func (s *Stream) subscribe(onPublish func()) (unsubscribe func()) {
	sub := &subscriber{onPublish: onPublish}
	s.mu.Lock()
	defer s.mu.Unlock()
	var subs []*subscriber
	if old := s.subs.Load(); old != nil {
		subs = append(subs, *old...)
	}
	subs = append(subs, sub)
	s.subs.Store(&subs)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		var rest []*subscriber
		for _, o := range *s.subs.Load() {
			if o != sub {
				rest = append(rest, o)
			}
		}
		s.subs.Store(&rest)
	}
}

// startPlaying counts a session that starts playing and asks the source for a keyframe for
// it, if the source can make one without a jump others would see. stopPlaying undoes the
// count.
func (s *Stream) startPlaying() {
	alone := s.playing.Add(1) == 1
	s.requestKeyframe(alone)
}

func (s *Stream) stopPlaying() { s.playing.Add(-1) }

// requestKeyframe asks the source for an IDR when it can make one; a source that makes one
// by skipping ahead only when the viewer that needs it is the only one (alone).
func (s *Stream) requestKeyframe(alone bool) {
	if s.cfg.Keyframes == nil || s.skipsAhead && !alone {
		return
	}
	s.cfg.Keyframes.RequestKeyframe()
}

// Close releases every frame in the ring; later publishes are released at once. The senders
// are called once more, so that a Reader waiting for a frame sees the end.
func (s *Stream) Close() {
	s.mu.Lock()
	s.closed = true
	for i, f := range s.ring {
		if f != nil {
			f.release()
			s.ring[i] = nil
		}
	}
	s.mu.Unlock()
	if subs := s.subs.Load(); subs != nil {
		for _, sub := range *subs {
			sub.onPublish()
		}
	}
}

// cursor is a viewer's position in the stream: the next frame it will send, and whether it
// has started at a keyframe yet.
type cursor struct {
	next    uint64
	synced  bool
	joined  bool
	dropped uint64 // frames skipped because the viewer fell behind
}

// join places c at the stream's head, unsynced: the viewer starts at the first keyframe
// published from now on. PLAY calls it before asking the source for a keyframe, so that the
// requested IDR cannot be published before the viewer's sender first looks (which would make
// it wait a whole GOP for the next one).
func (s *Stream) join(c *cursor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.next, c.joined, c.synced = s.head, true, false
}

// nextFrame returns the viewer's next frame, retained, or nil when it is caught up. A viewer
// that has not started yet, or that fell more than MaxLagFrames behind, waits for the next
// keyframe: it never gets a non-IDR frame first.
func (s *Stream) nextFrame(c *cursor) *frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.joined {
		c.joined, c.next = true, s.head
	}
	if c.next >= s.head || s.closed { // closed: the ring is empty
		return nil
	}
	if c.synced && s.head-c.next > uint64(s.cfg.MaxLagFrames) {
		c.dropped += s.head - c.next
		c.next, c.synced = s.head, false
		s.log.Debug("viewer fell behind; waiting for the next keyframe", "dropped", c.dropped)
		go s.requestKeyframe(s.playing.Load() <= 1)
		return nil
	}
	if !c.synced {
		// Start at the latest keyframe if it is not behind next and still in the ring.
		key, oldest := s.lastKey-1, s.head-min(s.head, uint64(len(s.ring)))
		if s.lastKey == 0 || key < c.next || key < oldest {
			return nil
		}
		c.next, c.synced = key, true
	}
	f := s.ring[c.next%uint64(len(s.ring))]
	f.retain()
	c.next++
	return f
}
