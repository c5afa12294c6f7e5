package onvif

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOnvifUtil drives the real client onvif-util (Debian's onvif-tools, libonvif 1.4.4)
// against the server.
//
// onvif-util cannot be pointed at an address: it sends a WS-Discovery probe to
// 239.255.255.250:3702 and only talks to a responder whose XAddrs host equals the address
// on its command line (there is no fallback to http://host/onvif/device_service). So the
// test runs in a network namespace of its own, where loopback carries that multicast and
// nothing leaves the machine (the route names a source address: 127.0.0.1 is host-scoped and
// would not be chosen for it, and probes would come from 0.0.0.0), and answers the probe with a minimal ProbeMatch itself (the
// package's real WS-Discovery responder is tested on its own).
func TestOnvifUtil(t *testing.T) {
	bin, err := exec.LookPath("onvif-util")
	if err != nil {
		t.Skip("onvif-util not installed (apt-get install onvif-tools)")
	}
	ipBin, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("ip (iproute2) not installed: needed to set up the test's network namespace")
	}
	s, err := NewServer(func() Config {
		c := soapTestConfig()
		c.Username, c.Password = "admin", "secret"
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	s.interfaces = func() ([]netInterface, error) { return nil, nil } // the namespace has only lo

	type result struct {
		out  string
		err  error
		skip string
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		// The namespace belongs to this thread only; the thread is never unlocked, so it
		// ends with the goroutine and takes the namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{skip: fmt.Sprintf("no network namespace (needs CAP_SYS_ADMIN): %v", err)}
			return
		}
		for _, args := range [][]string{{"link", "set", "lo", "up"}, {"route", "add", "224.0.0.0/4", "dev", "lo", "src", "127.0.0.1"}} {
			if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
				done <- result{err: fmt.Errorf("ip %v: %v: %s", args, err, out)}
				return
			}
		}
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			done <- result{err: err}
			return
		}
		srvCtx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- s.Serve(srvCtx, ln) }()
		defer func() { stop(); <-served }()

		lo, err := net.InterfaceByName("lo")
		if err != nil {
			done <- result{err: err}
			return
		}
		pc, err := net.ListenMulticastUDP("udp4", lo, &net.UDPAddr{IP: net.IPv4(239, 255, 255, 250), Port: 3702})
		if err != nil {
			done <- result{err: fmt.Errorf("listen for probes: %w", err)}
			return
		}
		defer pc.Close()
		// Sockets stay in the namespace they were made in, whichever thread uses them: the
		// answers go out through one made here, not one dialed from another goroutine.
		reply, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			done <- result{err: err}
			return
		}
		defer reply.Close()
		xaddr := "http://" + ln.Addr().String() + DevicePath
		go soapTestProbeAnswerer(pc, reply, xaddr)

		cmd := exec.CommandContext(ctx, bin, "-u", "admin", "-p", "secret", "127.0.0.1")
		// "get video" needs an argument: onvif-util reads args[1] unchecked.
		cmd.Stdin = strings.NewReader("get rtsp\nget profiles\nget profile\nget video 0\nget video options 0\nget time\nquit\n")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err = cmd.Run()
		done <- result{out: out.String(), err: err}
	}()
	r := <-done
	if r.skip != "" {
		t.Skip(r.skip)
	}
	t.Logf("onvif-util:\n%s", r.out)
	if r.err != nil {
		t.Fatalf("onvif-util: %v", r.err)
	}
	for _, want := range []string{
		"successfully connected to host",
		"serial: 10000000abcdef",
		"  rtsp://127.0.0.1:8554/stream\n",
		"Token 0: main",
		"Width:      1920",
		"Height:     1080",
		"Frame Rate: 30",
		"Gov Length: 60",
		"Resolution: 1920 x 1080",
		"1920 x 1080\n  Min Gov Length: 60",
		"Max Bit Rate: 4000",
		"Timezone:    UTC0",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("onvif-util's output lacks %q", want)
		}
	}
	if strings.Contains(r.out, "ERROR") || strings.Contains(r.out, " - ") {
		t.Errorf("onvif-util reported an error")
	}
}

// soapTestProbeAnswerer answers every datagram on pc, through reply, with a ProbeMatch that points at xaddr:
// just what libonvif reads of it (Body/ProbeMatches/ProbeMatch/XAddrs and Scopes).
func soapTestProbeAnswerer(pc, reply *net.UDPConn, xaddr string) {
	buf := make([]byte, 64<<10)
	for {
		_, from, err := pc.ReadFromUDP(buf)
		if err != nil {
			return
		}
		answer := `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="` + nsSOAP12 + `" xmlns:d="` + nsDiscovery + `">` +
			`<s:Body><d:ProbeMatches><d:ProbeMatch><d:Scopes>onvif://www.onvif.org/name/camera-abcd</d:Scopes>` +
			`<d:XAddrs>` + xaddr + `</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`
		_, _ = reply.WriteToUDP([]byte(answer), from)
	}
}
