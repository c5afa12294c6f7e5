package onvif

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConnectionLimits: connections held open by one host cannot keep another out, and all
// hosts together get at most maxConns; a slot comes back when its connection closes.
func TestConnectionLimits(t *testing.T) {
	_, base := soapTestServe(t, "127.0.0.1:0", nil)
	addr := strings.TrimPrefix(base, "http://")
	from := func(host string) *net.Dialer {
		return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}, Timeout: 5 * time.Second}
	}
	hold := func(host string) net.Conn {
		t.Helper()
		c, err := from(host).Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", host, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// refused reports whether the server closed c without a word (a connection it served
	// would stay open, waiting for a request, until the deadline).
	refused := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(errString(err), "reset")
	}
	post := func(host string) error {
		client := &http.Client{Transport: &http.Transport{DialContext: from(host).DialContext, DisableKeepAlives: true}, Timeout: 5 * time.Second}
		resp, err := client.Post(base+DevicePath, "application/soap+xml", strings.NewReader(soapEnvelope12("", `<tds:GetSystemDateAndTime/>`)))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}

	held := make([]net.Conn, 0, maxConnsPerHost)
	for range maxConnsPerHost {
		held = append(held, hold("127.0.0.1"))
	}
	if post("127.0.0.2") != nil {
		t.Fatal("another host was refused while one held its share")
	}
	if !refused(hold("127.0.0.1")) {
		t.Fatalf("connection %d from one host was kept", maxConnsPerHost+1)
	}
	// A slot comes back when its connection closes (the server sees the close when it reads).
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for post("127.0.0.1") != nil {
		if time.Now().After(deadline) {
			t.Fatal("the host's slot did not come back after it closed a connection")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// All hosts together, on a fresh server (the closes above are still being counted back):
	// fill maxConns from other hosts, then one more host is refused.
	_, base = soapTestServe(t, "127.0.0.1:0", nil)
	addr = strings.TrimPrefix(base, "http://")
	for h := 2; h < 2+maxConns/maxConnsPerHost; h++ {
		for range maxConnsPerHost {
			hold("127.0.0." + strconv.Itoa(h))
		}
	}
	if !refused(hold("127.0.0.200")) {
		t.Fatalf("connection %d in all was kept", maxConns+1)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
