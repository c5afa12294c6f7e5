package rtspsrv

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// TestNothingWrittenInsideAPartialFrame: when a non-blocking media write leaves a frame on the
// wire in part (the connection's buffer was full), a response written meanwhile waits until
// the frame's goroutine has written the rest: inside the frame, it would cost the player its
// framing for good. Made certain here: the frame is larger than what the connection holds
// while the player does not read, and the response is sent before the rest of the frame.
func TestNothingWrittenInsideAPartialFrame(t *testing.T) {
	stream := NewStream(StreamConfig{})
	defer stream.Close()
	srv, err := NewServer(Config{}, stream)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	c := newConn(srv, server, nil)

	frame := bytes.Repeat([]byte{'$'}, 32<<20) // more than both sides' buffers hold
	media := &tcpMedia{}
	rest := net.Buffers{frame}
	if err := c.tryWriteMedia(media, &rest); err != nil {
		t.Fatal(err)
	}
	if len(rest) == 0 || len(rest[0]) == len(frame) {
		t.Fatalf("the frame went out whole or not at all (%d bytes left): nothing to test", len(rest))
	}
	answer := []byte("RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n")
	answered := make(chan error, 1)
	go func() { answered <- c.writeBytes(answer) }()
	time.Sleep(50 * time.Millisecond) // the answer is waiting (or, wrongly, being written)

	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(frame)+len(answer))
		_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _ := io.ReadFull(client, b)
		got <- b[:n]
	}()
	if err := c.writeMedia(media, &rest); err != nil { // the frame's goroutine writes the rest
		t.Fatal(err)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	b := <-got
	if i := bytes.Index(b, answer); i != len(frame) {
		t.Fatalf("the answer came at byte %d of the stream, inside the %d-byte frame; want it after", i, len(frame))
	}
}
