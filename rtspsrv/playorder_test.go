package rtspsrv

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/camerad/camerad/encoder"
)

// TestPlayAnswerPrecedesMedia: over TCP, the PLAY answer is the first thing after the PLAY
// request, never an interleaved frame. Players (ffmpeg, GStreamer) discard '$' data that
// arrives before the answer, and the first frame a viewer gets is its keyframe. Keyframes
// are published back to back here, so that one lands between the session starting and its
// answer being written whenever that can happen.
func TestPlayAnswerPrecedesMedia(t *testing.T) {
	ts := startServer(t, Config{})
	pool := encoder.NewPool()
	units := benchGOPUnits()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i += len(units) { // always the GOP's keyframe
			select {
			case <-stop:
				return
			default:
			}
			ts.stream.Publish(benchAU(pool, units, i))
			runtime.Gosched()
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	for n := range 200 {
		c := ts.dial(t)
		setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
		id := sessionID(setup.Header.Get("Session"))
		c.send(c.buildRequest("PLAY", ts.url+"/", "Session: "+id))
		_ = c.nc.SetReadDeadline(time.Now().Add(ioDeadline))
		first, err := c.br.Peek(1)
		if err != nil {
			t.Fatalf("PLAY %d: %v", n, err)
		}
		if first[0] == '$' {
			t.Fatalf("PLAY %d: an interleaved frame came before the PLAY answer", n)
		}
		resp, err := c.readResponse()
		if err != nil || resp.Status != StatusOK {
			t.Fatalf("PLAY %d: %v %v", n, resp, err)
		}
		f, err := c.readFrame()
		if err == nil && f.channel == 1 { // the first frame's sender report goes ahead of it
			f, err = c.readFrame()
		}
		if err != nil || f.channel != 0 {
			t.Fatalf("PLAY %d: no media after the answer: %+v %v", n, f, err)
		}
		c.nc.Close()
	}
}
