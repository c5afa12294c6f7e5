package onvif

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/discovery"
)

// The camera in these tests is multi-homed: one namespace with two veths, each to a viewer
// namespace on a subnet of its own. An answer into viewer 2 must name 10.123.2.1, never
// 10.123.1.1, which viewer 2 cannot reach.
const (
	camAddr1, viewAddr1 = "10.123.1.1", "10.123.1.2"
	camAddr2, viewAddr2 = "10.123.2.1", "10.123.2.2"
	testHTTPPort        = 8080
)

var testDevice = Device{Name: "camera-abcd", Model: "Raspberry Pi 4", SerialNumber: "10000000abcdef01"}

type wsdNet struct{ cam, view1, view2 string }

var wsdNetSeq atomic.Int32

// newWSDNet makes the three namespaces or skips, saying why. They are deleted when the test
// ends, failed or not.
func newWSDNet(t *testing.T) *wsdNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (CI runs tests as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip program (iproute2) to create network namespaces")
	}
	id := fmt.Sprintf("cmwsd%d-%d", os.Getpid(), wsdNetSeq.Add(1))
	n := &wsdNet{cam: id + "c", view1: id + "v1", view2: id + "v2"}
	for _, ns := range []string{n.cam, n.view1, n.view2} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Skipf("cannot create network namespace (needs CAP_SYS_ADMIN): %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	}
	for i, view := range []struct{ ns, camAddr, viewAddr string }{{n.view1, camAddr1, viewAddr1}, {n.view2, camAddr2, viewAddr2}} {
		c, v := fmt.Sprintf("wc%d", i+1), fmt.Sprintf("wv%d", i+1)
		ipCmd(t, "link", "add", c, "netns", n.cam, "type", "veth", "peer", "name", v, "netns", view.ns)
		ipCmd(t, "-n", n.cam, "addr", "add", view.camAddr+"/24", "dev", c)
		ipCmd(t, "-n", view.ns, "addr", "add", view.viewAddr+"/24", "dev", v)
		ipCmd(t, "-n", n.cam, "link", "set", c, "up")
		ipCmd(t, "-n", view.ns, "link", "set", v, "up")
		// No default route in a viewer namespace: multicast needs a route of its own.
		ipCmd(t, "-n", view.ns, "route", "add", "224.0.0.0/4", "dev", v)
	}
	return n
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNS runs fn on a thread in namespace ns; sockets fn opens stay there. The thread is never
// unlocked, so the runtime ends it with the goroutine instead of reusing it elsewhere.
func inNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

const wsdHelperEnv = "CAMERAD_WSD_HELPER"

// TestWSDHelper is not a test: it is the responder process the namespace tests start in
// the camera's namespace (ip netns exec), so that its sockets, interface scans and netlink
// watch all live there. It runs until SIGTERM, like camerad.
func TestWSDHelper(t *testing.T) {
	spec := os.Getenv(wsdHelperEnv)
	if spec == "" {
		return
	}
	var cfg DiscoveryConfig
	if err := json.Unmarshal([]byte(spec), &cfg); err != nil {
		t.Fatalf("helper config: %v", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := NewResponder(cfg)
	if err != nil {
		t.Fatalf("NewResponder: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// startWSD runs the responder helper in ns; stop sends SIGTERM and waits for a clean exit;
// logs returns what it has logged so far.
func startWSD(t *testing.T, ns string) (stop func(), logs func() string) {
	t.Helper()
	spec, _ := json.Marshal(DiscoveryConfig{Device: testDevice, HTTPPort: testHTTPPort})
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestWSDHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), wsdHelperEnv+"="+string(spec))
	// The helper logs to a file, read back when a test fails.
	logPath := t.TempDir() + "/responder.log"
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd.Stdout, cmd.Stderr = logFile, logFile
	out := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatalf("start responder: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	var exitErr error
	wait := func() {
		once.Do(func() {
			select {
			case exitErr = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				exitErr = fmt.Errorf("no exit 20 s after SIGTERM: %v", <-done)
			}
		})
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		wait()
		if t.Failed() {
			t.Logf("responder output:\n%s", out())
		}
	})
	return func() {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("signal responder: %v", err)
		}
		wait()
		if exitErr != nil {
			t.Fatalf("responder: %v\n%s", exitErr, out())
		}
	}, out
}

// wsdAnswer is a received ProbeMatches, ResolveMatches, Hello or Bye as a client reads it.
type wsdAnswer struct {
	XMLName xml.Name
	Header  struct {
		RelatesTo string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing RelatesTo"`
		Action    string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing Action"`
	} `xml:"Header"`
	Body struct {
		Inner []struct {
			XMLName xml.Name
			EPR     string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing EndpointReference>Address"`
			XAddrs  string `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery XAddrs"`
			Match   *struct {
				EPR    string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing EndpointReference>Address"`
				XAddrs string `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery XAddrs"`
			} `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery ProbeMatch"`
			Resolved *struct {
				EPR    string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing EndpointReference>Address"`
				XAddrs string `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery XAddrs"`
			} `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery ResolveMatch"`
		} `xml:",any"`
	} `xml:"Body"`
	src *net.UDPAddr
}

// epr and xaddrs are those of whichever message it is.
func (a wsdAnswer) epr() string    { e, _ := a.endpoint(); return e }
func (a wsdAnswer) xaddrs() string { _, x := a.endpoint(); return x }

func (a wsdAnswer) endpoint() (epr, xaddrs string) {
	if len(a.Body.Inner) == 0 {
		return "", ""
	}
	in := a.Body.Inner[0]
	switch {
	case in.Match != nil:
		return in.Match.EPR, in.Match.XAddrs
	case in.Resolved != nil:
		return in.Resolved.EPR, in.Resolved.XAddrs
	}
	return in.EPR, in.XAddrs
}

// probeConn is a client socket in a viewer namespace.
type probeConn struct {
	t *testing.T
	c *net.UDPConn
}

func openProbe(t *testing.T, ns, local string) *probeConn {
	t.Helper()
	var c *net.UDPConn
	err := inNS(ns, func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(local)})
		return err
	})
	if err != nil {
		t.Fatalf("open probe socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { c.Close() })
	return &probeConn{t: t, c: c}
}

// probe sends a probe for a NetworkVideoTransmitter, as libonvif words it, with this ID.
func (p *probeConn) probe(id string, soapNS string, to *net.UDPAddr) {
	p.t.Helper()
	msg := `<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="` + soapNS + `" xmlns:w="` + nsAddressing + `">` +
		`<e:Header><w:Action>` + wsdActionProbe + `</w:Action><w:MessageID>` + id + `</w:MessageID><w:To>` + wsdTo + `</w:To></e:Header>` +
		`<e:Body><Probe xmlns="` + nsDiscovery + `"><Types xmlns:q="` + nsNetwork + `">q:NetworkVideoTransmitter</Types></Probe></e:Body></e:Envelope>`
	p.send([]byte(msg), to)
}

func (p *probeConn) send(b []byte, to *net.UDPAddr) {
	p.t.Helper()
	if to == nil {
		to = wsdGroup
	}
	if _, err := p.c.WriteToUDP(b, to); err != nil {
		p.t.Fatalf("send to %s: %v", to, err)
	}
}

// answers reads datagrams until d has passed.
func (p *probeConn) answers(d time.Duration) []wsdAnswer {
	return readAnswers(p.t, p.c, d)
}

func readAnswers(t *testing.T, c *net.UDPConn, d time.Duration) []wsdAnswer {
	t.Helper()
	var out []wsdAnswer
	buf := make([]byte, 64<<10)
	c.SetReadDeadline(time.Now().Add(d))
	for {
		n, src, err := c.ReadFromUDP(buf)
		if err != nil {
			return out
		}
		var a wsdAnswer
		if err := xml.Unmarshal(buf[:n], &a); err != nil {
			t.Errorf("an answer that does not parse: %v\n%s", err, buf[:n])
			continue
		}
		a.src = src
		out = append(out, a)
	}
}

// waitAnswer probes until an answer relating to the probe comes back (the responder needs a
// moment to start), and returns it.
func (p *probeConn) waitAnswer(soapNS string, to *net.UDPAddr) wsdAnswer {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		id := fmt.Sprintf("urn:uuid:test-%d-%d", time.Now().UnixNano(), i)
		p.probe(id, soapNS, to)
		for _, a := range p.answers(time.Second) {
			if a.Header.RelatesTo == id {
				return a
			}
		}
	}
	p.t.Fatalf("no answer to probes from %s within 15 s", p.c.LocalAddr())
	return wsdAnswer{}
}

func xaddr(ip string) string { return fmt.Sprintf("http://%s:%d%s", ip, testHTTPPort, DevicePath) }

// TestNetnsProbeXAddrs: a probe from either side gets ProbeMatches naming the camera's
// address on that side only, in the probe's SOAP version, from that address.
func TestNetnsProbeXAddrs(t *testing.T) {
	n := newWSDNet(t)
	startWSD(t, n.cam)
	for _, side := range []struct{ ns, view, cam, other string }{{n.view2, viewAddr2, camAddr2, camAddr1}, {n.view1, viewAddr1, camAddr1, camAddr2}} {
		p := openProbe(t, side.ns, side.view)
		for _, soapNS := range []string{nsSOAP12, nsSOAP11} {
			a := p.waitAnswer(soapNS, nil)
			if a.XMLName.Space != soapNS || a.Header.Action != wsdActionProbeMatches {
				t.Errorf("answer {%s}%s action %q, want a %s ProbeMatches", a.XMLName.Space, a.XMLName.Local, a.Header.Action, soapNS)
			}
			if got := a.xaddrs(); got != xaddr(side.cam) {
				t.Errorf("probe from %s: XAddrs %q, want %q (and never %s)", side.view, got, xaddr(side.cam), side.other)
			}
			if a.epr() != testDevice.EndpointReference() {
				t.Errorf("EPR %q, want %q", a.epr(), testDevice.EndpointReference())
			}
			if a.src.IP.String() != side.cam || a.src.Port != wsdPort {
				t.Errorf("answer came from %s, want %s:%d", a.src, side.cam, wsdPort)
			}
		}
	}

	// A directed Resolve for our EPR is answered at once; one for another EPR is not.
	p := openProbe(t, n.view2, viewAddr2)
	resolve := func(id, epr string) string {
		return `<s:Envelope xmlns:s="` + nsSOAP12 + `" xmlns:a="` + nsAddressing + `" xmlns:d="` + nsDiscovery + `"><s:Header>` +
			`<a:Action>` + wsdActionResolve + `</a:Action><a:MessageID>` + id + `</a:MessageID></s:Header><s:Body><d:Resolve>` +
			`<a:EndpointReference><a:Address>` + epr + `</a:Address></a:EndpointReference></d:Resolve></s:Body></s:Envelope>`
	}
	cam := &net.UDPAddr{IP: net.ParseIP(camAddr2), Port: wsdPort}
	p.send([]byte(resolve("urn:uuid:r-other", "urn:uuid:00000000-0000-0000-0000-000000000000")), cam)
	p.send([]byte(resolve("urn:uuid:r-ours", testDevice.EndpointReference())), cam)
	got := p.answers(2 * time.Second)
	if len(got) != 1 || got[0].Header.RelatesTo != "urn:uuid:r-ours" || got[0].Header.Action != wsdActionResolveMatches ||
		got[0].xaddrs() != xaddr(camAddr2) || got[0].epr() != testDevice.EndpointReference() {
		t.Errorf("resolve answers: %+v", got)
	}

	// Clients repeat a multicast probe (SOAP-over-UDP §3.2); one answer is enough.
	for range 3 {
		p.probe("urn:uuid:repeated", nsSOAP12, nil)
	}
	if got := p.answers(time.Second); len(got) != 1 {
		t.Errorf("a probe sent 3 times got %d answers, want 1", len(got))
	}
}

// TestNetnsHelloBye: Hello on start, Hello again when the camera gets another address (as
// after DHCP), Bye on stop; all multicast, each naming the address on that link.
func TestNetnsHelloBye(t *testing.T) {
	n := newWSDNet(t)
	var c *net.UDPConn
	err := inNS(n.view2, func() error {
		lc := net.ListenConfig{Control: discovery.ReusePort}
		pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", wsdPort))
		if err != nil {
			return err
		}
		c = pc.(*net.UDPConn)
		ifc, err := net.InterfaceByName("wv2")
		if err != nil {
			return err
		}
		return joinGroup(c, ifc)
	})
	if err != nil {
		t.Fatalf("listen for multicast in %s: %v", n.view2, err)
	}
	defer c.Close()

	stop, logs := startWSD(t, n.cam)
	hello := waitMessage(t, c, wsdActionHello, 15*time.Second)
	if hello.epr() != testDevice.EndpointReference() || hello.xaddrs() != xaddr(camAddr2) {
		t.Errorf("Hello: EPR %q XAddrs %q", hello.epr(), hello.xaddrs())
	}

	const later = "10.123.2.7"
	ipCmd(t, "-n", n.cam, "addr", "add", later+"/24", "dev", "wc2")
	again := waitMessage(t, c, wsdActionHello, 10*time.Second)
	if !strings.Contains(again.xaddrs(), xaddr(later)) {
		t.Errorf("Hello after a new address: XAddrs %q, want %s among them", again.xaddrs(), xaddr(later))
	}
	// The log says so too: a camera usually gets its address after it starts.
	if !strings.Contains(logs(), "ONVIF discovery on wc2 "+camAddr2+", wc2 "+later) {
		t.Errorf("no log line for the new address:\n%s", logs())
	}

	stop()
	bye := waitMessage(t, c, wsdActionBye, 5*time.Second)
	if bye.epr() != testDevice.EndpointReference() {
		t.Errorf("Bye: EPR %q", bye.epr())
	}
}

func joinGroup(c *net.UDPConn, ifc *net.Interface) error {
	mreq := &unix.IPMreqn{Multiaddr: [4]byte{239, 255, 255, 250}, Ifindex: int32(ifc.Index)}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq)
	}); err != nil {
		return err
	}
	return serr
}

func waitMessage(t *testing.T, c *net.UDPConn, action string, within time.Duration) wsdAnswer {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, a := range readAnswers(t, c, 200*time.Millisecond) {
			if a.Header.Action == action {
				return a
			}
		}
	}
	t.Fatalf("no %s within %s", action, within)
	return wsdAnswer{}
}

// TestNetnsProbeFlood: thousands of probes, each with a new ID, get a bounded number of
// answers: the camera must not become an amplifier.
func TestNetnsProbeFlood(t *testing.T) {
	n := newWSDNet(t)
	startWSD(t, n.cam)
	p := openProbe(t, n.view2, viewAddr2)
	p.waitAnswer(nsSOAP12, nil)
	time.Sleep(3 * time.Second) // let the budget refill after the start-up probes

	const probes = 2000
	start := time.Now()
	for i := range probes {
		p.probe(fmt.Sprintf("urn:uuid:flood-%d", i), nsSOAP12, nil)
	}
	got := p.answers(2 * time.Second)
	elapsed := time.Since(start).Seconds()
	// discovery's answer budget: 20 at once per host, then 10 a second.
	limit := 20 + int(10*elapsed) + 2
	if len(got) == 0 || len(got) > limit {
		t.Errorf("%d probes in %.1f s got %d answers, want 1..%d", probes, elapsed, len(got), limit)
	}
	t.Logf("%d probes in %.1f s got %d answers", probes, elapsed, len(got))
}

// TestNetnsGarbage: datagrams that are not probes, too long, malformed or from off the
// link get no answer and do not stop the responder from answering the next real probe.
func TestNetnsGarbage(t *testing.T) {
	n := newWSDNet(t)
	startWSD(t, n.cam)
	p := openProbe(t, n.view2, viewAddr2)
	p.waitAnswer(nsSOAP12, nil)

	validProbe := func(id string) string {
		return `<s:Envelope xmlns:s="` + nsSOAP12 + `" xmlns:a="` + nsAddressing + `"><s:Header><a:MessageID>` + id +
			`</a:MessageID></s:Header><s:Body><d:Probe xmlns:d="` + nsDiscovery + `"/></s:Body></s:Envelope>`
	}
	oversize := strings.Replace(validProbe("urn:uuid:g-big"), "<s:Body>", "<s:Body>"+strings.Repeat(" ", 9000), 1)
	deep := strings.Replace(validProbe("urn:uuid:g-deep"), "<d:Probe", strings.Repeat("<x>", 2000)+"<d:Probe", 1)
	garbage := [][]byte{
		{},
		{0xff, 0xfe, 0, 1, 2, 3},
		bytes.Repeat([]byte{0x41}, 1400),
		[]byte(oversize),
		[]byte(deep),
		[]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><x>&b;</x>`),
		[]byte(`<s:Envelope xmlns:s="` + nsSOAP12 + `"><s:Body><d:Probe xmlns:d="` + nsDiscovery + `"/></s:Body></s:Envelope>`), // no MessageID
		[]byte(validProbe("urn:uuid:g-cut")[:200]),
		[]byte(`<s:Envelope xmlns:s="` + nsSOAP12 + `"><s:Body/></s:Envelope>`),
		[]byte(`HTTP/1.1 200 OK` + "\r\n\r\n"),
	}
	for _, g := range garbage {
		p.send(g, nil)
		p.send(g, &net.UDPAddr{IP: net.ParseIP(camAddr2), Port: wsdPort})
	}

	// A real probe from an address that is not on the camera's subnet: a forged source, or
	// a host behind a router. It gets nothing.
	const offLink = "10.99.0.2"
	ipCmd(t, "-n", n.view2, "addr", "add", offLink+"/32", "dev", "wv2")
	ipCmd(t, "-n", n.cam, "route", "add", offLink+"/32", "dev", "wc2")
	off := openProbe(t, n.view2, offLink)
	off.probe("urn:uuid:g-offlink", nsSOAP12, nil)
	off.probe("urn:uuid:g-offlink-direct", nsSOAP12, &net.UDPAddr{IP: net.ParseIP(camAddr2), Port: wsdPort})

	if got := p.answers(time.Second); len(got) != 0 {
		t.Errorf("garbage got %d answers: %+v", len(got), got)
	}
	if got := off.answers(500 * time.Millisecond); len(got) != 0 {
		t.Errorf("a probe from off the link got %d answers", len(got))
	}
	a := p.waitAnswer(nsSOAP12, nil)
	if a.xaddrs() != xaddr(camAddr2) {
		t.Errorf("after the garbage: XAddrs %q", a.xaddrs())
	}
}

// TestNetnsOnvifUtil: the real client, libonvif's `onvif-util -a`, run in a viewer
// namespace, lists the camera by the address on its side. After discovery it asks the
// device service for GetHostname; that service is not part of this package, so a stub
// stands in for it below.
func TestNetnsOnvifUtil(t *testing.T) {
	bin, err := exec.LookPath("onvif-util")
	if err != nil {
		t.Skip("onvif-util not installed (apt-get install onvif-tools)")
	}
	n := newWSDNet(t)
	startWSD(t, n.cam)
	// Below-the-interface stand-in for the device service (written elsewhere): it answers
	// GetHostname, which onvif-util -a prints, and faults anything else.
	var ln net.Listener
	if err := inNS(n.cam, func() error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", testHTTPPort))
		return err
	}); err != nil {
		t.Fatalf("listen for the stub device service: %v", err)
	}
	var asked atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
		if r.URL.Path != DevicePath || !bytes.Contains(body, []byte("GetHostname")) {
			// onvif-util also asks GetSystemDateAndTime first, and goes on without it.
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<s:Envelope xmlns:s="`+nsSOAP12+`" xmlns:ter="`+nsError+`"><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value>`+
				`<s:Subcode><s:Value>ter:ActionNotSupported</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">stub: GetHostname only</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`)
			return
		}
		asked.Add(1)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="`+nsSOAP12+`" xmlns:tds="`+nsDevice+`" xmlns:tt="`+nsSchema+`"><s:Body>`+
			`<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP><tt:Name>stub-hostname</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse></s:Body></s:Envelope>`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// The responder needs a moment to start; onvif-util listens 500 ms per interface.
	p := openProbe(t, n.view2, viewAddr2)
	p.waitAnswer(nsSOAP12, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", n.view2, bin, "-a").CombinedOutput()
	if err != nil {
		t.Fatalf("onvif-util -a: %v\n%s", err, out)
	}
	t.Logf("onvif-util -a:\n%s", out)
	// It prints "<host> <hostname>(<name scope> <hardware scope>)" for each camera found.
	want := camAddr2 + " stub-hostname(camera-abcd Raspberry Pi 4)"
	if !strings.Contains(string(out), "Found 1 cameras") || !strings.Contains(string(out), want) {
		t.Errorf("onvif-util -a did not list the camera as %q", want)
	}
	if strings.Contains(string(out), camAddr1) {
		t.Errorf("onvif-util -a was given the camera's address on the other link, %s", camAddr1)
	}
	if asked.Load() == 0 {
		t.Error("onvif-util did not reach the device service at the XAddrs it was given")
	}
}
