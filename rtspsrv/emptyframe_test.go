package rtspsrv

import (
	"net"
	"testing"
	"time"

	"github.com/camerad/camerad/encoder"
)

// TestFrameOfNoPackets: an access unit that comes to no RTP packets (an access unit
// delimiter alone) passes a playing UDP viewer by: no panic on the publishing goroutine (it
// would end camerad), and the next frame arrives.
func TestFrameOfNoPackets(t *testing.T) {
	stream := NewStream(StreamConfig{})
	srv, err := NewServer(Config{}, stream)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	pool, units := encoder.NewPool(), benchGOPUnits()
	stream.Publish(benchAU(pool, units, 0))
	ctl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	u := listenUDPClient(t)
	playUDPOver(t, ctl, u)
	stream.Publish(benchAU(pool, units, benchGOP)) // a keyframe: the viewer starts
	first, _ := u.readRTP(t)

	au := pool.Get(2)
	au.AppendNALU([]byte{0x09, 0xf0}) // an access unit delimiter alone
	au.PTS = time.Second
	stream.Publish(au) // a panic here ends the test binary, as it would end camerad
	stream.Publish(benchAU(pool, units, benchGOP+1))
	for {
		if p, _ := u.readRTP(t); p.Timestamp != first.Timestamp {
			break // the frame after the empty one came through
		}
	}
	// Closed here, not deferred: after a panic in Publish the server's lock is still held,
	// and a deferred Close would hang instead of letting the panic show.
	srv.Close()
	stream.Close()
}
