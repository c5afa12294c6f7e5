package rtsp

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// slowDialog delays the client between sending a request and waiting for its answer, so the
// answer and the server's close both arrive before the client starts waiting.
type slowDialog struct{}

func (slowDialog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("C->S")) {
		time.Sleep(5 * time.Millisecond)
	}
	return len(p), nil
}

// TestAnswerBeforeCloseIsDelivered: a server that answers and closes at once (gortsplib
// after a wrong password) must have its answer returned, not "connection closed".
func TestAnswerBeforeCloseIsDelivered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(nc)
			for {
				line, err := r.ReadString('\n')
				if err != nil || line == "\r\n" {
					break
				}
			}
			_, _ = nc.Write([]byte("RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n"))
			nc.Close()
		}
	}()
	for i := range 20 {
		c, err := Dial(context.Background(), ln.Addr().String(), Options{Timeout: 5 * time.Second, Dialog: slowDialog{}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(context.Background(), &Request{Method: "DESCRIBE", URL: "rtsp://" + ln.Addr().String() + "/"})
		c.Close()
		if err != nil {
			t.Fatalf("attempt %d: %v, want the 401 the server sent before closing", i, err)
		}
		if resp.StatusCode != 401 || !strings.Contains(string(resp.Raw), "Unauthorized") {
			t.Fatalf("attempt %d: got %d, want 401", i, resp.StatusCode)
		}
	}
}
