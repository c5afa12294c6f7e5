package rtspsrv

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRawUDPCloseTwice: a second Close of a raw UDP socket must leave alone the file that
// has its descriptor number by then (here put there on purpose with dup2).
func TestRawUDPCloseTwice(t *testing.T) {
	c, err := listenRawUDP(unix.AF_INET, netip.MustParseAddr("127.0.0.1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	fd := c.fd
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Someone else's connected socket now has that number.
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	other, err := net.DialUDP("udp4", nil, peer.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	raw, _ := other.SyscallConn()
	var dupErr error
	_ = raw.Control(func(ofd uintptr) { dupErr = unix.Dup2(int(ofd), fd) })
	if dupErr != nil {
		t.Fatal(dupErr)
	}
	defer unix.Close(fd)

	c.Close() // again

	if _, err := unix.Write(fd, []byte("still mine")); err != nil { // EPIPE once shut down
		t.Fatalf("the socket that took the number was shut down or closed by a second Close: %v", err)
	}
}

// TestServerCloseTwice: Close may be called again (a deferred Close after an explicit one);
// the second returns at once and touches nothing.
func TestServerCloseTwice(t *testing.T) {
	stream := NewStream(StreamConfig{})
	defer stream.Close()
	srv, err := NewServer(Config{}, stream)
	if err != nil {
		t.Fatal(err)
	}
	probe := -1
	if srv.multicast != nil {
		probe = srv.multicast.probe
	}
	srv.Close()
	if srv.multicast != nil && srv.multicast.probe != -1 {
		t.Errorf("multicast probe %d still recorded after Close (was %d)", srv.multicast.probe, probe)
	}
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a second Close did not return")
	}
}
