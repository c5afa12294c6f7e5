package livemp4

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/camerad/camerad/encoder/h264"
	"github.com/camerad/camerad/rtspsrv"
)

// Defaults for Config's zero fields.
const (
	defaultMaxViewers   = 8
	defaultWriteTimeout = 10 * time.Second
	defaultStartTimeout = 10 * time.Second
	defaultStallTimeout = 10 * time.Second
	// defaultFrameDuration is a sample's duration until two frames have shown the real one.
	defaultFrameDuration = timescale / 30
)

// Config configures a Handler.
type Config struct {
	Stream *rtspsrv.Stream
	// MaxViewers bounds the live views at once; more get 503 (default 8). Each costs a
	// wake-up and a writev per frame, like an RTSP viewer over TCP.
	MaxViewers int
	// WriteTimeout ends a view whose connection takes nothing for this long (default 10 s).
	// One that is merely slow skips to the next keyframe, as RTSP viewers do.
	WriteTimeout time.Duration
	// StartTimeout bounds the wait for a source that has not sent its first keyframe yet;
	// then the request gets 503 (default 10 s).
	StartTimeout time.Duration
	// StallTimeout ends a view when the source sends no frame for this long (default 10 s).
	// A camera that stopped would otherwise keep every view open, and the places of viewers
	// who have gone with them (a closed connection shows only when a write fails); a player
	// still there reconnects, as the page does.
	StallTimeout time.Duration
	Logger       *slog.Logger // nil = slog.Default()
}

// Handler serves the stream as one endless fragmented MP4 file.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	active atomic.Int32 // requests being answered, counted against MaxViewers

	mu    sync.Mutex
	views map[*view]struct{}
}

// View is one live view's counters.
type View struct {
	Remote  string
	Frames  uint64
	Bytes   uint64
	Dropped uint64 // frames skipped because the viewer fell behind
}

// view is a live view being served: its counters, updated as frames go out.
type view struct {
	remote  string
	frames  atomic.Uint64
	bytes   atomic.Uint64
	dropped atomic.Uint64
}

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	if cfg.MaxViewers <= 0 {
		cfg.MaxViewers = defaultMaxViewers
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = defaultStartTimeout
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = defaultStallTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Handler{cfg: cfg, log: log, views: make(map[*view]struct{})}
}

// Views returns the counters of the live views being served.
func (h *Handler) Views() []View {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]View, 0, len(h.views))
	for v := range h.views {
		out = append(out, View{Remote: v.remote, Frames: v.frames.Load(), Bytes: v.bytes.Load(), Dropped: v.dropped.Load()})
	}
	return out
}

// leave gives up v's place. Its entry in Views and its slot go together, under h.mu: whoever
// sees the view gone can take its place at once, with no 503 in between.
func (h *Handler) leave(v *view) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.views, v) // absent if v ended before streaming
	h.active.Add(-1)
}

// responseHead starts the response. The body is delimited by the end of the connection: a
// live stream has no length, and browsers' media stacks read that as readily as chunks.
const responseHead = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: video/mp4\r\n" +
	"Cache-Control: no-store\r\n" +
	"X-Content-Type-Options: nosniff\r\n" +
	"Connection: close\r\n\r\n"

// ServeHTTP answers GET (the stream) and HEAD.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "GET the live stream", http.StatusMethodNotAllowed)
		return
	}
	if int(h.active.Add(1)) > h.cfg.MaxViewers {
		h.active.Add(-1)
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many live views: "+strconv.Itoa(h.cfg.MaxViewers)+" at most", http.StatusServiceUnavailable)
		return
	}
	v := &view{remote: r.RemoteAddr}
	defer h.leave(v)

	ctx := r.Context()
	wait, cancel := context.WithTimeout(ctx, h.cfg.StartTimeout)
	ps, err := h.cfg.Stream.ParameterSets(wait)
	cancel()
	if err != nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "no picture yet: the camera has not started", http.StatusServiceUnavailable)
		return
	}
	init, err := initSegment(ps.SPS, ps.PPS)
	if err != nil {
		h.log.Warn("live view: cannot describe the stream", "err", err)
		http.Error(w, "cannot describe the stream as MP4", http.StatusInternalServerError)
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Cache-Control", "no-store")
		return
	}
	// Taken over from net/http, the connection gets each frame as one writev that points into
	// the frame (net/http would copy through its buffers), and a write deadline per frame.
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil { // not HTTP/1.x
		http.Error(w, "the live view needs HTTP/1.1", http.StatusHTTPVersionNotSupported)
		return
	}
	defer nc.Close()
	h.mu.Lock()
	h.views[v] = struct{}{}
	h.mu.Unlock()
	h.log.Info("live view started", "remote", r.RemoteAddr)
	err = h.stream(ctx, directConn(nc), v, ps.SPS, init)
	h.log.Info("live view ended", "remote", r.RemoteAddr, "frames", v.frames.Load(), "dropped", v.dropped.Load(),
		"why", endReason(ctx, err))
}

// stream writes the initialisation segment and then a fragment per frame until the viewer
// goes, ctx ends, or the stream's parameter sets change (the initialisation segment would no
// longer describe it: the player reconnects). v's counters follow what it sends.
func (h *Handler) stream(ctx context.Context, nc net.Conn, v *view, sps, init []byte) error {
	// Joined first: the keyframe it asks for is on its way while the head goes out, and every
	// frame after the head reaches the player.
	reader := h.cfg.Stream.NewReader()
	defer reader.Close()
	n, err := h.write(nc, &net.Buffers{[]byte(responseHead), init})
	v.bytes.Add(uint64(n))
	if err != nil {
		return err
	}
	// The stall clock runs only while waiting for a frame: a write blocked on a slow viewer
	// is the write timeout's business.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(h.cfg.StallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	var (
		fr       fragment
		iov      net.Buffers
		seq      uint32        // fragments sent
		first    time.Duration // PTS of the first frame: decode time 0
		last     uint64        // decode time of the previous sample
		duration = uint32(defaultFrameDuration)
	)
	for {
		stall.Reset(h.cfg.StallTimeout)
		f, err := reader.Next(ctx)
		stall.Stop()
		v.dropped.Store(reader.Dropped())
		if err != nil {
			if errors.Is(context.Cause(ctx), errStalled) {
				return errStalled
			}
			return err
		}
		if f.Keyframe && changedSPS(f.NALUs, sps) {
			return errParameterSetsChanged
		}
		if seq == 0 {
			first = f.PTS
		}
		dt := uint64(max(0, rtspsrv.RTPTicks(f.PTS-first)))
		if seq > 0 {
			if dt <= last { // a source clock that stepped back: keep decode times rising
				dt = last + uint64(duration)
			} else if d := dt - last; d < timescale { // a gap after a skip is not a frame period
				duration = uint32(d)
			}
		}
		seq++
		fr.build(seq, dt, duration, f.Keyframe, f.NALUs)
		iov = append(iov[:0], fr.iov...) // WriteTo consumes iov, not fr's copy
		n, err := h.write(nc, &iov)
		v.bytes.Add(uint64(n))
		if err != nil {
			return err
		}
		v.frames.Add(1)
		last = dt
	}
}

// write sends bufs (consuming it) within the write timeout. A pointer, so that the frame's
// iovecs are not moved to the heap for each write.
func (h *Handler) write(nc net.Conn, bufs *net.Buffers) (int64, error) {
	if err := nc.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout)); err != nil {
		return 0, err
	}
	return bufs.WriteTo(nc)
}

var (
	errParameterSetsChanged = errors.New("the stream's parameter sets changed")
	errStalled              = errors.New("the camera sent no frame for the stall timeout")
)

// changedSPS reports whether a keyframe carries an SPS other than sps.
func changedSPS(nalus [][]byte, sps []byte) bool {
	for _, nal := range nalus {
		if h264.TypeOf(nal) == h264.NALSPS && !bytes.Equal(nal, sps) {
			return true
		}
	}
	return false
}

// directConn returns the TCP connection under wrappers that only count it (the listener's
// connection limit), so that net.Buffers reaches it as one writev; the wrapper still owns
// closing it.
func directConn(nc net.Conn) net.Conn {
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		if tc, ok := u.NetConn().(*net.TCPConn); ok {
			return tc
		}
	}
	return nc
}

// endReason says in the log why a view ended.
func endReason(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return "shutting down"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "the viewer took nothing for the write timeout"
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		return "the viewer left"
	case err != nil:
		return fmt.Sprint(err)
	}
	return "done"
}
