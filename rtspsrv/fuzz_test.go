package rtspsrv

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/camerad/camerad/encoder"
)

// fixtureSeeds returns every captured client request, and the Transport values among them.
func fixtureSeeds(f *testing.F) (requests [][]byte, transports []string) {
	files, err := filepath.Glob("testdata/client-requests/*.txt")
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		requests = append(requests, b)
		req, err := readRequest(bufio.NewReader(bytes.NewReader(b)), Limits{}.withDefaults())
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		if tr := req.Header.Get("Transport"); tr != "" {
			transports = append(transports, tr)
		}
	}
	return requests, transports
}

// fuzzLimits are small so that the fuzzer reaches every bound.
var fuzzLimits = Limits{MaxLineBytes: 200, MaxHeaders: 10, MaxHeaderBytes: 600, MaxBodyBytes: 100}

// FuzzReadRequest: the parser never panics, what it accepts respects the limits, its errors
// are of the documented kinds, and TCP segmentation cannot change its answer.
func FuzzReadRequest(f *testing.F) {
	reqs, _ := fixtureSeeds(f)
	for _, r := range reqs {
		f.Add(r)
	}
	f.Add(bytes.Join(reqs, nil)) // pipelined
	f.Add([]byte("SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("OPTIONS * RTSP/1.0\nCSeq: 1\n folded\n\n"))
	f.Add([]byte("\r\n\r\nOPTIONS * RTSP/1.0\r\n\r\n"))
	f.Add([]byte("$\x00\x00\x04abcdOPTIONS * RTSP/1.0\r\n\r\n"))
	lim := fuzzLimits.withDefaults()
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := bufio.NewReader(bytes.NewReader(data))
		bytewise := bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), 16)
		for range 8 { // pipelined requests, as the connection reads them
			a, errA := readRequest(whole, lim)
			b, errB := readRequest(bytewise, lim)
			if (errA == nil) != (errB == nil) || errA != nil && errA.Error() != errB.Error() {
				t.Fatalf("segmentation changed the result: %v vs %v", errA, errB)
			}
			if errA != nil {
				if !errors.Is(errA, errMalformed) && !errors.Is(errA, errTooLarge) &&
					!errors.Is(errA, io.EOF) && !errors.Is(errA, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error kind: %v", errA)
				}
				return
			}
			if a.Method != b.Method || a.URI != b.URI || a.Proto != b.Proto || !bytes.Equal(a.Body, b.Body) || len(a.Header) != len(b.Header) {
				t.Fatalf("segmentation changed the request: %+v vs %+v", a, b)
			}
			if !isToken(a.Method) || !strings.HasPrefix(a.Proto, "RTSP/") || a.URI == "" || strings.ContainsAny(a.URI, " \t") {
				t.Fatalf("accepted request line %q %q %q", a.Method, a.URI, a.Proto)
			}
			if len(a.Header) > lim.MaxHeaders || len(a.Body) > lim.MaxBodyBytes {
				t.Fatalf("accepted %d headers and a %d-byte body over the limits", len(a.Header), len(a.Body))
			}
			for _, h := range a.Header {
				if !isToken(h.Name) || strings.ContainsAny(h.Value, "\r\n\x00") || len(h.Value) > lim.MaxHeaderBytes {
					t.Fatalf("accepted header %q: %q", h.Name, h.Value)
				}
			}
		}
	})
}

// FuzzParseTransports: any Transport header parses without panic into as many errors as
// alternatives, usable alternatives are well-formed, and the server's reply for one reads back
// as the same ports or channels.
func FuzzParseTransports(f *testing.F) {
	_, transports := fixtureSeeds(f)
	for _, tr := range transports {
		f.Add(tr)
	}
	for _, tr := range []string{
		"RTP/AVP;unicast;client_port=5000-5001;mode=\"PLAY\"",
		"RTP/AVP;multicast;destination=232.1.1.1;port=5000-5001;ttl=16,RTP/AVP/TCP;interleaved=0-1",
		`RTP/AVP;unicast;destination="a,b";client_port=5000`,
		"RTP/AVPF;unicast;client_port=1-2,RTP/AVP/TCP;unicast;interleaved=254-255;ssrc=ABCDEF01",
		"RTP/AVP/TCP;interleaved=255",
	} {
		f.Add(tr)
	}
	f.Fuzz(func(t *testing.T, h string) {
		specs, errs := parseTransports(h)
		if len(specs) != len(errs) {
			t.Fatalf("%d specs, %d errors", len(specs), len(errs))
		}
		for i, sp := range specs {
			if errs[i] != nil {
				continue
			}
			if sp.Profile != "RTP/AVP" || sp.Mode != "play" {
				t.Fatalf("usable spec %+v", sp)
			}
			switch sp.Lower {
			case LowerUDP:
				for _, p := range sp.ClientPorts {
					if p <= 0 || p > 65535 {
						t.Fatalf("usable UDP spec with port %d: %+v", p, sp)
					}
				}
				reply := formatUDPTransport("127.0.0.1", sp.ClientPorts, [2]int{20000, 20001}, 1)
				back, berrs := parseTransports(reply)
				if len(back) != 1 || berrs[0] != nil || back[0].ClientPorts != sp.ClientPorts {
					t.Fatalf("reply %q reads back as %+v %v", reply, back, berrs)
				}
			case LowerTCP:
				ch := sp.Interleaved
				if ch != [2]int{-1, -1} && (ch[0] < 0 || ch[0] > 255 || ch[1] < 0 || ch[1] > 255) {
					t.Fatalf("usable TCP spec with channels %v", ch)
				}
				if ch[0] >= 0 {
					reply := formatTCPTransport(ch, 1)
					back, berrs := parseTransports(reply)
					if len(back) != 1 || berrs[0] != nil || back[0].Interleaved != ch {
						t.Fatalf("reply %q reads back as %+v %v", reply, back, berrs)
					}
				}
			case LowerMulticast:
				// The client's wishes are ignored; the reply names the server's group.
				reply := formatMulticastTransport(netip.MustParseAddrPort("239.255.1.2:5004"), 1, 1)
				back, berrs := parseTransports(reply)
				if len(back) != 1 || berrs[0] != nil || back[0].Lower != LowerMulticast ||
					back[0].Destination != "239.255.1.2" || back[0].Port != [2]int{5004, 5005} || back[0].TTL != 1 {
					t.Fatalf("reply %q reads back as %+v %v", reply, back, berrs)
				}
			default:
				t.Fatalf("usable spec with lower transport %v", sp.Lower)
			}
		}
	})
}

// FuzzServerConn feeds arbitrary bytes to a real server connection: the server never panics,
// and everything it writes back is a sequence of well-formed responses (and interleaved
// frames) with known status codes, a 400 without CSeq only as the last.
//
// UDP media and BYEs may only go to the fuzzer's own sink ports: inputs that would set up UDP
// towards any other port on the machine are skipped, so that fuzzing cannot disturb other
// programs on loopback.
func FuzzServerConn(f *testing.F) {
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { sink.Close() })
	sinkPort := sink.LocalAddr().(*net.UDPAddr).Port
	sinkRTCP, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sinkPort + 1})
	if err != nil {
		f.Skipf("no UDP port pair for the sink: %v", err)
	}
	f.Cleanup(func() { sinkRTCP.Close() })
	allowed := [2]int{sinkPort, sinkPort + 1}

	reqs, _ := fixtureSeeds(f)
	ports := fmt.Sprintf("%d-%d", allowed[0], allowed[1])
	for _, r := range reqs {
		s := strings.ReplaceAll(string(r), "192.0.2.10:8554", "127.0.0.1")
		for _, old := range []string{"60094-60095", "6970-6971", "23030-23031", "50000-50001"} {
			s = strings.ReplaceAll(s, old, ports)
		}
		f.Add([]byte(s))
	}
	f.Add([]byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\nSETUP rtsp://h/stream/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast\r\n\r\n" +
		"PLAY rtsp://h/stream RTSP/1.0\r\nCSeq: 3\r\nSession: X\r\n\r\n$\x01\x00\x00garbage\r\n\r\n"))
	f.Add([]byte("SETUP rtsp://h/stream/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;unicast;client_port=" + ports + "\r\n\r\n"))

	// A stream that knows its parameter sets (so DESCRIBE answers at once) but carries no
	// media: viewers wait for a keyframe that never comes, so no RTP leaves the process.
	pool := encoder.NewPool()
	stream := NewStream(StreamConfig{})
	ps := clipParameterSets(f)
	stream.Publish(testAU(pool, true, ps.SPS, ps.PPS, testNALU(0x65, 100)))
	srv, err := NewServer(Config{
		Limits:         fuzzLimits,
		SessionTimeout: time.Second,
		RequestTimeout: 2 * time.Second,
		IdleTimeout:    2 * time.Second,
		MaxViewers:     1000,
		Logger:         newTestLogger(f),
	}, stream)
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	f.Cleanup(func() {
		srv.Close()
		<-done
		stream.Close()
	})

	f.Fuzz(func(t *testing.T, data []byte) {
		if !udpStaysInSink(data, allowed) {
			t.Skip("input would send UDP outside the sink")
		}
		nc, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(ioDeadline))
		werr := make(chan error, 1)
		go func() {
			_, err := nc.Write(data)
			if err == nil {
				err = nc.(*net.TCPConn).CloseWrite()
			}
			werr <- err
		}()
		out, err := io.ReadAll(nc)
		<-werr // the server may close before reading everything: a write error is fine
		if err != nil && !errors.Is(err, net.ErrClosed) && !isConnReset(err) {
			t.Fatalf("reading the server's answer: %v", err)
		}
		checkServerOutput(t, out)
	})
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// udpStaysInSink pre-parses data as the connection will and reports whether every usable UDP
// transport offered would send to the allowed ports only.
func udpStaysInSink(data []byte, allowed [2]int) bool {
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		b, err := br.Peek(1)
		if err != nil {
			return true
		}
		if b[0] == '$' {
			var hdr [4]byte
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return true
			}
			if _, err := br.Discard(int(binary.BigEndian.Uint16(hdr[2:]))); err != nil {
				return true
			}
			continue
		}
		req, err := readRequest(br, fuzzLimits.withDefaults())
		if err != nil {
			return true
		}
		for _, f := range req.Header {
			if !strings.EqualFold(f.Name, "Transport") {
				continue
			}
			specs, errs := parseTransports(f.Value)
			for i, sp := range specs {
				if errs[i] == nil && sp.Lower == LowerUDP && sp.ClientPorts != allowed {
					return false
				}
			}
		}
	}
}

// checkServerOutput parses what the server wrote: responses and interleaved frames only.
func checkServerOutput(t *testing.T, out []byte) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(out))
	for {
		b, err := br.Peek(1)
		if err == io.EOF {
			return
		}
		if b[0] == '$' {
			var hdr [4]byte
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				t.Fatalf("truncated interleaved frame header")
			}
			if _, err := br.Discard(int(binary.BigEndian.Uint16(hdr[2:]))); err != nil {
				t.Fatalf("truncated interleaved frame")
			}
			continue
		}
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "RTSP/1.0 ") || !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("not a status line: %q (%v)", line, err)
		}
		code, err := strconv.Atoi(strings.Fields(line)[1])
		if err != nil || strings.HasPrefix(StatusText(code), "Status ") {
			t.Fatalf("unknown status in %q", line)
		}
		hasCSeq, length := false, 0
		for {
			h, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("truncated response headers after %q", line)
			}
			if h == "\r\n" {
				break
			}
			name, value, ok := strings.Cut(strings.TrimSuffix(h, "\r\n"), ": ")
			if !ok || !isToken(name) || strings.ContainsAny(value, "\r\n") {
				t.Fatalf("bad response header %q", h)
			}
			switch name {
			case "CSeq":
				hasCSeq = true
				if !validCSeq(value) {
					t.Fatalf("echoed an invalid CSeq %q", value)
				}
			case "Content-Length":
				length, _ = strconv.Atoi(value)
			}
		}
		if _, err := br.Discard(length); err != nil {
			t.Fatalf("body shorter than Content-Length %d", length)
		}
		if !hasCSeq {
			if code != StatusBadRequest {
				t.Fatalf("%d without CSeq", code)
			}
			if br.Buffered() > 0 {
				if rest, _ := br.Peek(br.Buffered()); !bytes.HasPrefix(rest, []byte("$")) {
					t.Fatalf("server answered after a 400 that closes the connection: %q", rest)
				}
			}
		}
	}
}

// FuzzTunnelReader: whatever a tunnel's POST carries, the decoder neither panics nor loops,
// and what it yields is the body's base64 decoded quantum by quantum (whitespace skipped),
// up to the first quantum that is not base64, where it stops with an error.
func FuzzTunnelReader(f *testing.F) {
	for _, s := range []string{
		base64.StdEncoding.EncodeToString([]byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")),
		"T1BUSU9OUw==\r\nIA==", "T1BU\r\nSU9O", "QQ==QkM=", "====", "!!!!", "QUJD\nRA", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr := &tunnelReader{src: bufio.NewReader(bytes.NewReader(body))}
		got, err := io.ReadAll(tr)
		var want []byte
		var q []byte
		valid := true
		for _, b := range body {
			if b == ' ' || b == '\t' || b == '\r' || b == '\n' {
				continue
			}
			if q = append(q, b); len(q) < 4 {
				continue
			}
			out := make([]byte, 3)
			n, derr := base64.StdEncoding.Decode(out, q)
			if derr != nil {
				valid = false
				break
			}
			want, q = append(want, out[:n]...), q[:0]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("decoded %q, want %q", got, want)
		}
		if !valid && (err == nil || !errors.Is(err, errMalformed)) {
			t.Fatalf("invalid base64 ended with %v, want a malformed-input error", err)
		}
		if valid && err != nil {
			t.Fatalf("valid input ended with %v", err)
		}
	})
}
