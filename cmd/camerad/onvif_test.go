package main

import (
	"net"
	"strings"
	"testing"
)

// TestONVIFDiscoveryInterfaces: WS-Discovery announces the device service only where its
// address answers.
func TestONVIFDiscoveryInterfaces(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 8899} }
	if ifaces, why := onvifDiscoveryInterfaces(tcp("0.0.0.0")); ifaces != nil || why != "" {
		t.Errorf("all addresses: %q, %q; want every interface", ifaces, why)
	}
	if ifaces, why := onvifDiscoveryInterfaces(tcp("::")); ifaces != nil || why != "" {
		t.Errorf("all addresses (IPv6): %q, %q; want every interface", ifaces, why)
	}
	if _, why := onvifDiscoveryInterfaces(tcp("127.0.0.1")); !strings.Contains(why, "loopback") {
		t.Errorf("loopback: why = %q, want discovery off", why)
	}
	if _, why := onvifDiscoveryInterfaces(tcp("203.0.113.77")); !strings.Contains(why, "no interface has") {
		t.Errorf("an address of no interface: why = %q, want discovery off", why)
	}
	// An address of this machine's: only its interface.
	all, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range all {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.IsLoopback() || n.IP.To4() == nil {
				continue
			}
			ifaces, why := onvifDiscoveryInterfaces(tcp(n.IP.String()))
			if why != "" || len(ifaces) != 1 || ifaces[0] != ifc.Name {
				t.Errorf("%s: %q, %q; want [%s]", n.IP, ifaces, why, ifc.Name)
			}
			return
		}
	}
	t.Log("no interface with an IPv4 address besides loopback: that case is not checked")
}
