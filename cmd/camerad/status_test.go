package main

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/rtspsrv"
)

// TestViewerStatusLive: the status line of a real server playing the embedded clip to a
// real client says one TCP viewer and a rate near the clip's, and nothing once it has left.
func TestViewerStatusLive(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cfg := DefaultConfig()
	cfg.Source = "clip"
	src, _, err := openSource(cfg, encoder.NewPool(), log)
	if err != nil {
		t.Fatal(err)
	}
	stream := rtspsrv.NewStream(rtspsrv.StreamConfig{Logger: log})
	defer stream.Close()
	srv, err := rtspsrv.NewServer(rtspsrv.Config{Logger: log}, stream)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Run(ctx, stream.Publish)

	var st viewerStatus
	if _, attrs := st.summarize(srv.Viewers(), time.Second); attrs != nil {
		t.Fatalf("status with nobody watching: %v", attrs)
	}
	g := interopPlayGortsplib(t, "rtsp://"+ln.Addr().String()+"/stream", gortsplib.ProtocolTCP)
	<-g.packets
	st.summarize(srv.Viewers(), time.Second) // the baseline
	const window = 2 * time.Second
	time.Sleep(window)
	level, attrs := st.summarize(srv.Viewers(), window)
	line := attrLine(attrs)
	t.Logf("status: %v %s", level, line)
	if level != slog.LevelInfo || !strings.Contains(line, "count=1 tcp=1 ") || !strings.Contains(line, "frames_skipped=0") {
		t.Errorf("one TCP viewer keeping up: %v %s", level, line)
	}
	// The clip runs at under 1 Mbit/s: anything from 0.03 to 3 is its rate, and
	// a counter counted twice or not at all is not.
	if rate := attrFloat(t, attrs, "sent_mbit_s"); rate < 0.03 || rate > 3 {
		t.Errorf("sent_mbit_s %v for the clip", rate)
	}

	g.c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.SessionCount() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, attrs := st.summarize(srv.Viewers(), window); attrs != nil {
		t.Errorf("status after the viewer left: %v", attrs)
	}
}

// TestViewerStatusFigures: the figures from two snapshots: rates over the interval, a new
// viewer's whole count, a multicast group counted once however many watch it, skipped
// frames making it a warning, and the worst loss only from recent reports.
func TestViewerStatusFigures(t *testing.T) {
	now := time.Now()
	var st viewerStatus
	st.summarize([]rtspsrv.ViewerStats{
		{Session: "A", Transport: rtspsrv.LowerUDP, Bytes: 1_000_000},
		{Session: "M1", Transport: rtspsrv.LowerMulticast, Bytes: 5_000_000},
	}, time.Minute)
	level, attrs := st.summarize([]rtspsrv.ViewerStats{
		// 1.5 MB more in 10 s: 1.2 Mbit/s; 2 frames skipped; 20 % loss reported just now.
		{Session: "A", Transport: rtspsrv.LowerUDP, Bytes: 2_500_000, Dropped: 2, FractionLost: 0.2, LastReport: now, Remote: "192.0.2.7:5000"},
		// New: all of its 0.5 MB counts; its 50 % is a report from long ago.
		{Session: "B", Transport: rtspsrv.LowerTCP, Bytes: 500_000, FractionLost: 0.5, LastReport: now.Add(-time.Hour)},
		// One group, two viewers: 1 MB more and 1 frame skipped, each counted once.
		{Session: "M1", Transport: rtspsrv.LowerMulticast, Bytes: 6_000_000, Dropped: 1},
		{Session: "M2", Transport: rtspsrv.LowerMulticast, Bytes: 6_000_000, Dropped: 1},
	}, 10*time.Second)
	want := "count=4 udp=1 tcp=1 multicast=2 sent_mbit_s=2.40 frames_skipped=3 worst_reported_loss=20.0% worst_remote=192.0.2.7:5000"
	if got := attrLine(attrs); got != want || level != slog.LevelWarn {
		t.Errorf("got  %v %s\nwant WARN %s", level, got, want)
	}

	// The group's watchers leave, then everyone, and one comes back to the group: only what
	// the group was sent since it was last seen counts, not its whole history.
	st.summarize([]rtspsrv.ViewerStats{{Session: "A", Transport: rtspsrv.LowerUDP, Bytes: 2_500_000, Dropped: 2}}, 10*time.Second)
	st.summarize(nil, 10*time.Second)
	_, attrs = st.summarize([]rtspsrv.ViewerStats{{Session: "M3", Transport: rtspsrv.LowerMulticast, Bytes: 6_500_000}}, 10*time.Second)
	if rate := attrFloat(t, attrs, "sent_mbit_s"); rate != 0.4 {
		t.Errorf("a multicast viewer back after a gap: sent_mbit_s %v, want 0.4 (0.5 MB in 10 s)", rate)
	}

	// Reports of no loss say so (the viewers do report), naming nobody.
	level, attrs = st.summarize([]rtspsrv.ViewerStats{
		{Session: "C", Transport: rtspsrv.LowerUDP, Bytes: 500_000, LastReport: now},
	}, 10*time.Second)
	want = "count=1 udp=1 sent_mbit_s=0.40 frames_skipped=0 worst_reported_loss=0.0%"
	if got := attrLine(attrs); got != want || level != slog.LevelInfo {
		t.Errorf("got  %v %s\nwant INFO %s", level, got, want)
	}

	// A viewer missing from a few snapshots (paused, or held while it was silent) comes back
	// with its counters: only what it was sent since it was last seen counts, and its old
	// skipped frames are no new warning.
	st.summarize(nil, 10*time.Second)
	st.summarize(nil, 10*time.Second)
	level, attrs = st.summarize([]rtspsrv.ViewerStats{{Session: "A", Transport: rtspsrv.LowerUDP, Bytes: 3_000_000, Dropped: 2}}, 10*time.Second)
	want = "count=1 udp=1 sent_mbit_s=0.40 frames_skipped=0"
	if got := attrLine(attrs); got != want || level != slog.LevelInfo {
		t.Errorf("a viewer back after a hold: got  %v %s\nwant INFO %s", level, got, want)
	}
}

func TestViewerStatusLogs(t *testing.T) {
	buf := &interopLog{} // safe for the logging goroutine and this one
	log := slog.New(slog.NewTextHandler(buf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	viewers := func() []rtspsrv.ViewerStats {
		return []rtspsrv.ViewerStats{{Session: "A", Transport: rtspsrv.LowerTCP}}
	}
	go func() { logViewerStatus(ctx, viewers, 10*time.Millisecond, log); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); strings.Count(buf.String(), "msg=viewers count=1 tcp=1 ") < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("no two status lines in 10 s at a 10 ms interval:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("logViewerStatus did not return when its context ended")
	}
}

// attrLine renders slog attributes as key=value pairs.
func attrLine(attrs []any) string {
	var b strings.Builder
	for i := 0; i+1 < len(attrs); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(attrs[i].(string) + "=" + slog.AnyValue(attrs[i+1]).String())
	}
	return b.String()
}

// attrFloat is the number in attribute key.
func attrFloat(t *testing.T, attrs []any, key string) float64 {
	t.Helper()
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i] == key {
			f, err := strconv.ParseFloat(slog.AnyValue(attrs[i+1]).String(), 64)
			if err != nil {
				t.Fatalf("%s=%v: %v", key, attrs[i+1], err)
			}
			return f
		}
	}
	t.Fatalf("no %s in %v", key, attrs)
	return 0
}
