package livemp4

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/testsrc"
	"github.com/camerad/camerad/rtspsrv"
)

// liveFixture is a Handler on a real loopback HTTP server, fed by the test source.
type liveFixture struct {
	pool   *encoder.Pool
	stream *rtspsrv.Stream
	src    *testsrc.Source
	h      *Handler
	url    string

	mu    sync.Mutex // serialises publishers
	frame int
}

func newLiveFixture(t *testing.T, cfg Config) *liveFixture {
	t.Helper()
	pool := encoder.NewPool()
	src, err := testsrc.New(testsrc.Config{Width: 320, Height: 240, GOP: 10, Logger: slog.New(slog.DiscardHandler)}, pool)
	if err != nil {
		t.Fatal(err)
	}
	stream := rtspsrv.NewStream(rtspsrv.StreamConfig{Keyframes: src})
	cfg.Stream = stream
	cfg.Logger = slog.New(slog.DiscardHandler)
	h := New(cfg)
	srv := httptest.NewServer(h)
	f := &liveFixture{pool: pool, stream: stream, src: src, h: h, url: srv.URL + "/live.mp4"}
	t.Cleanup(func() {
		stream.Close() // first: views waiting for a frame end
		srv.CloseClientConnections()
		srv.Close()
		// srv.Close does not wait for handlers that took their connection over: the views.
		waitFor(t, "the views to end", func() bool { return len(h.Views()) == 0 })
		if n := pool.Outstanding(); n != 0 {
			t.Errorf("%d access units not back in the pool after the views ended", n)
		}
	})
	return f
}

// publish sends the test source's next n frames.
func (f *liveFixture) publish(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.stream.Publish(f.src.Encode(f.frame, time.Now(), false))
		f.frame++
	}
}

// publishEvery publishes a frame each period until the returned function is called.
func (f *liveFixture) publishEvery(period time.Duration) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f.publish(1)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// watch starts a live view, checks that it is one (200, video/mp4, an initialisation segment
// for the track) and returns the body after that segment, and the segment. The view ends
// with the test.
func (f *liveFixture) watch(t *testing.T) (*http.Response, *bufio.Reader, []byte) {
	t.Helper()
	resp, err := http.Get(f.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("%s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	body := bufio.NewReader(resp.Body)
	return resp, body, readInit(t, body)
}

// readBox reads one MP4 box whole: header and body.
func readBox(r io.Reader) (typ string, box []byte, err error) {
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return "", nil, err
	}
	size := binary.BigEndian.Uint32(head[:4])
	if size < 8 || size > 16<<20 {
		return "", nil, fmt.Errorf("box %q of size %d", head[4:], size)
	}
	box = make([]byte, size)
	copy(box, head[:])
	if _, err := io.ReadFull(r, box[8:]); err != nil {
		return "", nil, err
	}
	return string(head[4:]), box, nil
}

// readBoxes reads boxes of the given types, in that order, and returns them together.
func readBoxes(t *testing.T, r io.Reader, types ...string) []byte {
	t.Helper()
	var out []byte
	for _, want := range types {
		typ, box, err := readBox(r)
		if err != nil || typ != want {
			t.Fatalf("reading %s: got %q, %v", want, typ, err)
		}
		out = append(out, box...)
	}
	return out
}

// readInit reads ftyp and moov and returns them, checked to describe the fixture's track.
func readInit(t *testing.T, r io.Reader) []byte {
	t.Helper()
	seg := readBoxes(t, r, "ftyp", "moov")
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(seg)); err != nil {
		t.Fatalf("initialisation segment: %v", err)
	}
	if len(init.Tracks) != 1 {
		t.Fatalf("%d tracks", len(init.Tracks))
	}
	if _, ok := init.Tracks[0].Codec.(*codecs.H264); !ok {
		t.Fatalf("codec %#v, want H.264", init.Tracks[0].Codec)
	}
	return seg
}

// readFragment reads one moof and its mdat and returns them and the part they hold.
func readFragment(t *testing.T, r io.Reader) ([]byte, *fmp4.Part) {
	t.Helper()
	raw := readBoxes(t, r, "moof", "mdat")
	var parts fmp4.Parts
	if err := parts.Unmarshal(raw); err != nil || len(parts) != 1 || len(parts[0].Tracks) != 1 ||
		len(parts[0].Tracks[0].Samples) != 1 {
		t.Fatalf("fragment: %v %+v", err, parts)
	}
	return raw, parts[0]
}

// TestLiveView: a viewer gets the initialisation segment, then one fragment per frame in
// order from a keyframe, with decode times that follow the frames' own; ffmpeg decodes what it
// got without an error; the view is listed while it lasts and gone after the viewer leaves.
func TestLiveView(t *testing.T) {
	f := newLiveFixture(t, Config{})
	f.publish(3) // the parameter sets known, and a GOP under way
	resp, body, file := f.watch(t)
	stop := f.publishEvery(5 * time.Millisecond)
	defer stop()
	const frames = 30
	var lastTime uint64
	for i := range frames {
		raw, part := readFragment(t, body)
		file = append(file, raw...)
		tr := part.Tracks[0]
		s := tr.Samples[0]
		switch {
		case part.SequenceNumber != uint32(i+1):
			t.Fatalf("fragment %d has sequence number %d", i, part.SequenceNumber)
		case i == 0 && (s.IsNonSyncSample || tr.BaseTime != 0):
			t.Fatalf("the first fragment is not a keyframe at time 0: non-sync %v, time %d", s.IsNonSyncSample, tr.BaseTime)
		case i > 0 && tr.BaseTime != lastTime+timescale/30:
			// The test source stamps frame n at n/30 s, whenever it is published.
			t.Fatalf("fragment %d at %d, want %d: one frame period after the last", i, tr.BaseTime, lastTime+timescale/30)
		}
		lastTime = tr.BaseTime
	}
	// The counters move once a write returns, which may be after the viewer has read it.
	waitFor(t, "the view's counters to reach what the viewer read", func() bool {
		views := f.h.Views()
		return len(views) == 1 && views[0].Frames >= frames && views[0].Bytes >= uint64(len(file)) && views[0].Remote != ""
	})
	resp.Body.Close()
	waitFor(t, "the view to end after the viewer left", func() bool { return len(f.h.Views()) == 0 })

	t.Run("ffmpeg decodes it", func(t *testing.T) {
		ffmpeg, err := exec.LookPath("ffmpeg")
		if err != nil {
			t.Skip("ffmpeg not installed (apt-get install ffmpeg)")
		}
		path := filepath.Join(t.TempDir(), "live.mp4")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ffmpeg, "-v", "error", "-i", path, "-f", "framemd5", "-").CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		var decoded int
		for _, line := range strings.Split(string(out), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !strings.HasPrefix(line, "0,") {
				t.Fatalf("ffmpeg said: %s", line) // an error, or a frame of a stream we did not send
			}
			decoded++
		}
		if decoded != frames {
			t.Fatalf("ffmpeg decoded %d frames of %d", decoded, frames)
		}
	})
}

// TestLiveSlowViewer: a viewer that stops reading is ended after the write timeout, while
// another keeps getting every frame.
func TestLiveSlowViewer(t *testing.T) {
	f := newLiveFixture(t, Config{WriteTimeout: 300 * time.Millisecond})
	f.publish(1)
	ps, err := f.stream.ParameterSets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sps, pps := ps.SPS, ps.PPS

	// The stuck viewer: asks, then reads nothing, with a small window.
	stuck, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(f.url, "/live.mp4"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	_ = stuck.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(stuck, "GET /live.mp4 HTTP/1.1\r\nHost: camera\r\n\r\n")
	waitFor(t, "the stuck viewer's view to start", func() bool { return len(f.h.Views()) == 1 })

	// The good viewer reads everything.
	_, body, _ := f.watch(t)

	// Large frames, so that the stuck viewer's socket fills at once: a keyframe every tenth.
	r := rand.New(rand.NewPCG(3, 4))
	big := make([]byte, 100_000)
	for i := range big {
		big[i] = byte(1 + r.IntN(255))
	}
	stopBig := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stopBig:
				return
			case <-time.After(2 * time.Millisecond):
			}
			key := i%10 == 0
			au := f.pool.Get(len(big) + 64)
			if key {
				au.AppendNALU(sps)
				au.AppendNALU(pps)
				big[0] = 0x65
			} else {
				big[0] = 0x41
			}
			au.AppendNALU(big)
			au.Keyframe = key
			au.PTS = time.Duration(i) * time.Second / 30
			f.stream.Publish(au)
		}
	}()
	defer func() { close(stopBig); wg.Wait() }()

	var seq uint32
	deadline := time.Now().Add(10 * time.Second)
	for len(f.h.Views()) != 1 || seq < 50 {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d views, %d fragments to the good viewer", len(f.h.Views()), seq)
		}
		_, part := readFragment(t, body)
		if part.SequenceNumber != seq+1 {
			t.Fatalf("the good viewer got fragment %d after %d", part.SequenceNumber, seq)
		}
		seq = part.SequenceNumber
	}
	if views := f.h.Views(); views[0].Dropped != 0 {
		t.Fatalf("the good viewer skipped %d frames", views[0].Dropped)
	}
}

// TestLiveRequests: HEAD answers the headers only; other methods get 405; a viewer beyond
// MaxViewers gets 503 and a Retry-After; a source with no picture yet gets 503 after
// StartTimeout.
func TestLiveRequests(t *testing.T) {
	f := newLiveFixture(t, Config{MaxViewers: 1, StartTimeout: 200 * time.Millisecond})

	resp, err := http.Get(f.url)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(msg), "no picture yet") {
		t.Fatalf("before the first frame: %s %q", resp.Status, msg)
	}

	f.publish(1)
	resp, err = http.Head(f.url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("HEAD: %s %v", resp.Status, resp.Header)
	}
	resp, err = http.Post(f.url, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}

	first, err := http.Get(f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	second, err := http.Get(f.url)
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable || second.Header.Get("Retry-After") == "" {
		t.Fatalf("a viewer beyond the limit: %s, Retry-After %q", second.Status, second.Header.Get("Retry-After"))
	}
}

// TestLiveNewParameterSets: when the camera's settings change (a new SPS), the view ends,
// so that the player reconnects and gets an initialisation segment that describes it.
func TestLiveNewParameterSets(t *testing.T) {
	f := newLiveFixture(t, Config{})
	f.publish(1)
	_, body, _ := f.watch(t)
	f.publish(2)
	readFragment(t, body)
	readFragment(t, body)

	other, err := testsrc.New(testsrc.Config{Width: 640, Height: 480}, f.pool)
	if err != nil {
		t.Fatal(err)
	}
	f.stream.Publish(other.Encode(0, time.Now(), true))
	f.publish(1)
	if _, _, err := readBox(body); err != io.EOF {
		t.Fatalf("after a new SPS: %v, want the end of the stream", err)
	}
	waitFor(t, "the view to end", func() bool { return len(f.h.Views()) == 0 })
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLiveDecodeTimes: decode times follow the frames' PTS, so a gap (frames the source
// dropped) stays a gap without changing the frame duration; a source clock that steps back
// still gives rising decode times, one frame duration apart.
func TestLiveDecodeTimes(t *testing.T) {
	f := newLiveFixture(t, Config{})
	f.publish(1)
	ps, err := f.stream.ParameterSets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := f.watch(t)

	ms := time.Millisecond
	for _, step := range []struct {
		pts          time.Duration
		time         uint64 // the fragment's decode time
		sampleLength uint32
	}{
		{100 * ms, 0, defaultFrameDuration}, // the first frame is time 0
		{140 * ms, 3600, 3600},              // 40 ms later: 25 fps
		{180 * ms, 7200, 3600},
		{5180 * ms, 457200, 3600}, // 5 s of frames lost: a gap, not a 5 s frame
		{5220 * ms, 460800, 3600},
		{2000 * ms, 464400, 3600}, // the clock stepped back: one frame on
		{2040 * ms, 468000, 3600},
	} {
		au := f.pool.Get(64)
		key := step.pts == 100*ms
		if key {
			au.AppendNALU(ps.SPS)
			au.AppendNALU(ps.PPS)
			au.AppendNALU([]byte{0x65, 0x88, 0x80})
		} else {
			au.AppendNALU([]byte{0x41, 0x9a, 0x80})
		}
		au.Keyframe, au.PTS = key, step.pts
		f.stream.Publish(au)
		_, part := readFragment(t, body)
		tr := part.Tracks[0]
		if tr.BaseTime != step.time || tr.Samples[0].Duration != step.sampleLength {
			t.Fatalf("PTS %v: decode time %d, duration %d; want %d, %d", step.pts, tr.BaseTime, tr.Samples[0].Duration,
				step.time, step.sampleLength)
		}
	}
}

// TestLiveStalledSource: a view ends when the source sends nothing for the stall timeout, and
// its place is free again; frames coming more often than that keep it open, however long.
func TestLiveStalledSource(t *testing.T) {
	const stallTimeout = 200 * time.Millisecond
	f := newLiveFixture(t, Config{MaxViewers: 1, StallTimeout: stallTimeout})
	f.publish(1)
	_, body, _ := f.watch(t)

	stop := f.publishEvery(stallTimeout / 4)
	for range 16 { // 16 frame periods: four stall timeouts in all
		readFragment(t, body)
	}
	stop()

	ended := make(chan error, 1)
	go func() {
		for {
			if _, _, err := readBox(body); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case err := <-ended:
		if err != io.EOF {
			t.Fatalf("the stalled view ended with %v, want the end of the stream", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the view was still open 5 s after the source stopped")
	}
	waitFor(t, "the view to end", func() bool { return len(f.h.Views()) == 0 })

	_, body, _ = f.watch(t) // the only place, free again
	f.publish(1)
	readFragment(t, body)
}
