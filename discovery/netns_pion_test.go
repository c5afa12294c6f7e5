package discovery

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pion/mdns/v2"
)

// TestNetnsPionBrowse: pion/mdns, an independent mDNS implementation, browses
// for _rtsp._tcp from the viewer side and resolves the camera's host name:
// the service comes back with its port, host, TXT path and address.
func TestNetnsPionBrowse(t *testing.T) {
	n := newTestNet(t)
	const host, inst = "camera-abcd", "camerad ABCD"
	startResponder(t, n.nsA, Config{Hostname: host, Instance: inst, Port: 8554, TXT: testTXT})

	var conn *mdns.Conn
	// pion opens its sockets and reads the interface list when it starts:
	// both must happen inside the viewer's namespace.
	err := inNetns(n.nsB, func() error {
		ifc, err := net.InterfaceByName(n.ifB)
		if err != nil {
			return err
		}
		v4, v6, err := listenMDNS(context.Background())
		if err != nil {
			return err
		}
		conn, err = mdns.NewServer(v4, v6, mdns.WithInterfaces(*ifc), mdns.WithQueryInterval(500*time.Millisecond))
		return err
	})
	if err != nil {
		t.Fatalf("start pion querier: %v", err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	found := make(chan mdns.ServiceEvent, 1)
	conn.OnServiceDiscovered(func(e mdns.ServiceEvent) {
		select {
		case found <- e:
		default:
		}
	})
	if err := conn.Browse(ctx, rtspService); err != nil {
		t.Fatalf("browse: %v", err)
	}
	select {
	case e := <-found:
		got := e.Instance
		if got.Instance != inst || got.Port != 8554 || got.Host != host+".local." {
			t.Errorf("pion found %q on %s port %d, want %q on %s.local. port 8554", got.Instance, got.Host, got.Port, inst, host)
		}
		if !slices.ContainsFunc(got.Text, func(e mdns.TXTEntry) bool { return e.Key == "path" && string(e.Value) == "/stream" }) {
			t.Errorf("pion's TXT %+v lacks path=/stream", got.Text)
		}
		if e.Addr != netip.MustParseAddr(n.addrA) {
			t.Errorf("pion resolved the service to %v, want %s", e.Addr, n.addrA)
		}
	case <-ctx.Done():
		t.Fatal("pion never found the service")
	}

	_, addr, err := conn.QueryAddr(ctx, host+".local")
	if err != nil {
		t.Fatalf("pion could not resolve %s.local: %v", host, err)
	}
	if addr != netip.MustParseAddr(n.addrA) && !addr.IsLinkLocalUnicast() {
		t.Errorf("pion resolved %s.local to %v, want %s (or our IPv6 link-local)", host, addr, n.addrA)
	}
}
