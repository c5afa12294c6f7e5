package discovery

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// link is one interface we publish on, with its addresses at one moment.
type link struct {
	ifc   net.Interface
	addrs []netip.Addr // sorted; IPv4 unmapped; IPv6 without zone
	// subnets are the prefixes of addrs: the hosts on the link.
	subnets []netip.Prefix
}

// ipv4LinkLocal is on every IPv4 link (RFC 3927), whatever address we have.
var ipv4LinkLocal = netip.MustParsePrefix("169.254.0.0/16")

// onLink reports whether a packet from src is from a host on l by its address
// (RFC 6762 §5.5, §11): a source in one of l's subnets, or a link-local one.
// A packet sent to one of our addresses from anywhere else, with a TTL below
// 255, came through a router or lies about its source: answering it would
// make the camera an amplifier for hosts off the LAN, and heeding a response
// from it would let them make it give up its names. (A packet sent to the
// mDNS group is from the link whatever its source: see packet.linkLocal.)
func (l link) onLink(src netip.Addr) bool {
	src = src.Unmap().WithZone("")
	if src.IsLinkLocalUnicast() || ipv4LinkLocal.Contains(src) {
		return true
	}
	return slices.ContainsFunc(l.subnets, func(p netip.Prefix) bool { return p.Contains(src) })
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
	notYet := unusableV6()
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
			if !ok || notYet[ifAddr{ifc.Index, ip.Unmap()}] {
				continue
			}
			ip = ip.Unmap()
			l.addrs = append(l.addrs, ip)
			ones, _ := ipn.Mask.Size()
			if ip.Is4() && len(ipn.Mask) == net.IPv6len {
				ones -= 96
			}
			l.subnets = append(l.subnets, netip.PrefixFrom(ip, ones).Masked())
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

// ifAddr is an address on one interface (IPv6 link-local addresses are per interface).
type ifAddr struct {
	index int
	addr  netip.Addr
}

// unusableV6 returns the IPv6 addresses the kernel cannot send from: still
// tentative (duplicate address detection runs for a second or so after a link
// comes up, as at every boot) or failed. A send from one fails with "cannot
// assign requested address"; left out, it is announced once the link watcher
// reports it usable. If the kernel cannot be asked, nothing is left out.
func unusableV6() map[ifAddr]bool {
	out := map[ifAddr]bool{}
	// x/sys/unix has the constants but not the dump and parse helpers; syscall has those.
	rib, err := syscall.NetlinkRIB(unix.RTM_GETADDR, unix.AF_INET6)
	if err != nil {
		return out
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return out
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != unix.RTM_NEWADDR || len(m.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		hdr := (*unix.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		flags := uint32(hdr.Flags)
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			continue
		}
		var addr netip.Addr
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.IFA_ADDRESS:
				addr, _ = netip.AddrFromSlice(a.Value)
			case unix.IFA_FLAGS: // the full 32-bit flags, when the kernel sends them
				if len(a.Value) >= 4 {
					flags = binary.NativeEndian.Uint32(a.Value)
				}
			}
		}
		if addr.IsValid() && flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			out[ifAddr{int(hdr.Index), addr}] = true
		}
	}
	return out
}
