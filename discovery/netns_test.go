package discovery

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// testNet is two network namespaces joined by a veth pair: the camera side
// (A, 10.77.0.1) and the viewer side (B, 10.77.0.2).
type testNet struct {
	nsA, nsB     string
	ifA, ifB     string
	addrA, addrB string
}

var netSeq atomic.Int32

// newTestNet makes the namespaces or skips the test, saying why.
func newTestNet(t *testing.T) *testNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (CI runs tests as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip program (iproute2) to create network namespaces")
	}
	id := fmt.Sprintf("cmdisc%d-%d", os.Getpid(), netSeq.Add(1))
	n := &testNet{
		nsA: id + "a", nsB: id + "b",
		ifA: "vcam", ifB: "vview",
		addrA: "10.77.0.1", addrB: "10.77.0.2",
	}
	if out, err := exec.Command("ip", "netns", "add", n.nsA).CombinedOutput(); err != nil {
		t.Skipf("cannot create network namespace (needs CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.nsA).Run() })
	mustIP(t, "netns", "add", n.nsB)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.nsB).Run() })

	mustIP(t, "link", "add", n.ifA, "netns", n.nsA, "type", "veth", "peer", "name", n.ifB, "netns", n.nsB)
	for _, side := range []struct{ ns, ifc, addr string }{{n.nsA, n.ifA, n.addrA}, {n.nsB, n.ifB, n.addrB}} {
		// No IPv6 DAD: addresses are usable at once, so the set the responder
		// sees at start is the set the test expects.
		exec.Command("ip", "netns", "exec", side.ns, "sysctl", "-qw", "net.ipv6.conf."+side.ifc+".accept_dad=0").Run()
		mustIP(t, "-n", side.ns, "addr", "add", side.addr+"/24", "dev", side.ifc)
		mustIP(t, "-n", side.ns, "link", "set", side.ifc, "up")
		mustIP(t, "-n", side.ns, "link", "set", "lo", "up")
	}
	return n
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on an OS thread switched into namespace ns. Sockets fn
// opens stay in ns after fn returns, whichever thread later uses them. The
// thread is switched back; if that fails it is left locked, so the runtime
// discards it instead of reusing a thread in the wrong namespace.
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
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
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
