package discovery

import (
	"net/netip"
	"testing"
)

// TestOnLink: packets from our subnets and from link-local addresses are from
// the LAN; anything else came through a router or forged its source.
func TestOnLink(t *testing.T) {
	l := link{subnets: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}}
	for src, want := range map[string]bool{
		"192.168.1.77":        true,
		"::ffff:192.168.1.77": true,
		"169.254.10.20":       true,
		"fe80::1%eth0":        true,
		"2001:db8:1::9":       true,
		"192.168.2.1":         false,
		"8.8.8.8":             false,
		"0.0.0.0":             false,
		"2001:db8:2::9":       false,
	} {
		if got := l.onLink(netip.MustParseAddr(src)); got != want {
			t.Errorf("onLink(%s) = %v, want %v", src, got, want)
		}
	}
}
