package rtspsrv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/encoder"
)

// TestUDPSocketFullLosesNothing: when the link is slower than a burst (here a 100 KB keyframe
// into a 16 KB socket buffer, over an 8 Mbit/s token bucket with a 1500-byte MTU), the
// publishing goroutine hands the rest of the batch to the sender goroutine instead of
// waiting, and the viewer still gets every packet, in order.
func TestUDPSocketFullLosesNothing(t *testing.T) {
	ns := newLoopbackNetns(t, "tbf", "rate", "8mbit", "burst", "4kb", "latency", "500ms")
	var (
		stream *Stream
		srv    *Server
		ln     net.Listener
		u      *udpClient
		ctl    net.Conn
	)
	err := inNetns(ns, func() error {
		stream = NewStream(StreamConfig{})
		var err error
		if srv, err = NewServer(Config{}, stream); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			return err
		}
		u = listenUDPClient(t)
		ctl, err = net.Dial("tcp4", ln.Addr().String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer func() { srv.Close(); stream.Close() }()
	if err := srv.udp.rtp.setWriteBuffer(8 << 10); err != nil { // the kernel doubles it
		t.Fatal(err)
	}

	pool, units := encoder.NewPool(), benchGOPUnits()
	stream.Publish(benchAU(pool, units, 0)) // SPS and PPS known
	playUDPOver(t, ctl, u)
	defer ctl.Close()
	m := monitorUDP(t, u)

	for i := 1; i <= 2*benchGOP; i++ { // two seconds at 30 fps: two keyframes
		stream.Publish(benchAU(pool, units, i))
		time.Sleep(time.Second / benchFPS)
	}
	var sent uint64
	waitUntil(t, "the viewer to receive every packet sent", func() bool {
		st := srv.Viewers()
		if len(st) != 1 {
			return false
		}
		sent = st[0].Packets
		return uint64(m.packets.Load()) >= sent
	})
	if g := m.gaps.Load(); g != 0 {
		t.Errorf("%d sequence gaps in %d packets", g, m.packets.Load())
	}
	if sent == 0 {
		t.Fatal("nothing was sent")
	}
	if srv.udp.handoffs.Load() == 0 {
		t.Fatal("the socket never filled up: the test did not exercise the hand-off")
	}
	t.Logf("%d packets, %d batches finished by the sender goroutine", sent, srv.udp.handoffs.Load())
}

// newLoopbackNetns makes a network namespace whose loopback has an Ethernet MTU and the given
// root qdisc (if any), or skips the test saying why.
func newLoopbackNetns(t *testing.T, qdisc ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace (CI runs tests as root)")
	}
	for _, prog := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("needs %s (iproute2)", prog)
		}
	}
	ns := fmt.Sprintf("camrtsp%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "mtu", "1500", "up").CombinedOutput(); err != nil {
		t.Fatalf("bring up loopback in %s: %v: %s", ns, err, out)
	}
	if len(qdisc) == 0 {
		return ns
	}
	tc := append([]string{"netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root"}, qdisc...)
	if out, err := exec.Command("ip", tc...).CombinedOutput(); err != nil {
		t.Skipf("the kernel lacks the %s queueing discipline (sch_%s): %v: %s", qdisc[0], qdisc[0], err, out)
	}
	return ns
}

// inNetns runs fn on an OS thread switched into namespace ns. Sockets fn opens stay in ns,
// whichever thread later uses them. The thread is switched back, or, if that fails, left
// locked so that the runtime discards it.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}
