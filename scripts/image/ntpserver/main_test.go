package main

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/beevik/ntp"
)

// TestAnswersValidShiftedTime: an independent NTP client accepts the answer as valid and
// sees the configured offset.
func TestAnswersValidShiftedTime(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go serve(slog.New(slog.NewTextHandler(io.Discard, nil)), conn, time.Hour)
	r, err := ntp.QueryWithOptions(conn.LocalAddr().String(), ntp.QueryOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("invalid answer: %v", err)
	}
	// Wide bounds: this checks the sign and size of the shift, not timing.
	if r.ClockOffset < 59*time.Minute || r.ClockOffset > 61*time.Minute {
		t.Fatalf("offset %v, want about 1h", r.ClockOffset)
	}
}
