package sim

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/testsrc"
	"github.com/camerad/camerad/rtspsrv"
)

// startCamerad runs camerad's own RTSP server in-process on loopback, fed by its test source
// (which stamps capture-time SEIs), and returns the stream URL.
func startCamerad(t *testing.T) string {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	pool := encoder.NewPool()
	src, err := testsrc.New(testsrc.Config{Width: 320, Height: 240, FPS: testFPS, GOP: testGOP, Logger: logger}, pool)
	if err != nil {
		t.Fatalf("test source: %v", err)
	}
	stream := rtspsrv.NewStream(rtspsrv.StreamConfig{Keyframes: src, Logger: logger})
	srv, err := rtspsrv.NewServer(rtspsrv.Config{Path: "/stream", Logger: logger}, stream)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	wg.Go(func() { _ = src.Run(ctx, stream.Publish) })
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
		stream.Close()
	})
	return "rtsp://" + ln.Addr().String() + "/stream"
}

func TestPlaysCamerad(t *testing.T) {
	url := startCamerad(t)
	for _, tr := range []Transport{UDP, TCP} {
		t.Run(string(tr), func(t *testing.T) {
			rep, err := Run(context.Background(), Config{
				URL: url, Sessions: 3, Transport: tr, Duration: 1500 * time.Millisecond,
				Timeout: 5 * time.Second,
				// camerad promises RTP-Info that matches the first packet exactly.
				RTPTimeSlack: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkCleanReport(t, rep, 3)
		})
	}
}
