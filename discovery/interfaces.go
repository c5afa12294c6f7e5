package discovery

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// link is one interface we publish on, with its addresses at one moment.
type link struct {
	ifc   net.Interface
	addrs []netip.Addr // sorted; IPv4 unmapped; IPv6 without zone
}

func (l link) hasV4() bool { return slices.ContainsFunc(l.addrs, netip.Addr.Is4) }
func (l link) hasV6() bool {
	return slices.ContainsFunc(l.addrs, func(a netip.Addr) bool { return a.Is6() })
}

// snapshot is the set of links at one moment, ordered by interface index.
type snapshot []link

// equal reports whether two snapshots publish the same addresses on the same
// interfaces, i.e. whether anything needs to be announced again.
func (s snapshot) equal(o snapshot) bool {
	return slices.EqualFunc(s, o, func(a, b link) bool {
		return a.ifc.Index == b.ifc.Index && a.ifc.Name == b.ifc.Name && slices.Equal(a.addrs, b.addrs)
	})
}

func (s snapshot) interfaces() []net.Interface {
	out := make([]net.Interface, len(s))
	for i, l := range s {
		out[i] = l.ifc
	}
	return out
}

func (s snapshot) byIndex(idx int) (link, bool) {
	for _, l := range s {
		if l.ifc.Index == idx {
			return l, true
		}
	}
	return link{}, false
}

// allAddrs is every address of every link: any of them in someone else's
// record for our host name is ours, not a conflict.
func (s snapshot) allAddrs() []netip.Addr {
	var out []netip.Addr
	for _, l := range s {
		out = append(out, l.addrs...)
	}
	return out
}

// scanLinks lists the interfaces to publish on: up, multicast-capable, not
// loopback, with at least one address, and in allow if allow is not empty.
func scanLinks(allow []string) (snapshot, error) {
	ifcs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out snapshot
	for _, ifc := range ifcs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagMulticast == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		if len(allow) > 0 && !slices.Contains(allow, ifc.Name) {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			// The interface may have vanished between the two calls; the next
			// change notification brings us back here.
			continue
		}
		var l link
		l.ifc = ifc
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			l.addrs = append(l.addrs, ip.Unmap())
		}
		if len(l.addrs) == 0 {
			continue
		}
		slices.SortFunc(l.addrs, netip.Addr.Compare)
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b link) int { return a.ifc.Index - b.ifc.Index })
	return out, nil
}
