package discovery

import (
	"net/netip"
	"syscall"
	"time"
)

// This file lends the pieces of the mDNS responder that any other LAN discovery protocol
// needs too (ONVIF's WS-Discovery in discovery/onvif): which interfaces to serve, whether a
// source is on one of them, following address changes, sharing a well-known UDP port, and a
// bounded budget for answers. They stay one implementation; these are thin wrappers.

// Link is one interface to serve on, with its addresses at one moment.
type Link struct {
	Index int
	Name  string
	// Addrs are sorted; IPv4 unmapped; IPv6 without zone. IPv6 addresses still in
	// duplicate address detection are left out.
	Addrs []netip.Addr
	// Subnets are the prefixes of Addrs: the hosts directly on the link.
	Subnets []netip.Prefix
}

// OnLink reports whether src is directly on l: in one of its subnets, or link-local.
func (l Link) OnLink(src netip.Addr) bool {
	return link{addrs: l.Addrs, subnets: l.Subnets}.onLink(src)
}

// Links lists the interfaces to serve: up, multicast-capable, not loopback, with at least
// one address, and named in allow when allow is not empty. Ordered by index.
func Links(allow []string) ([]Link, error) {
	s, err := scanLinks(allow)
	if err != nil {
		return nil, err
	}
	out := make([]Link, len(s))
	for i, l := range s {
		out[i] = Link{Index: l.ifc.Index, Name: l.ifc.Name, Addrs: l.addrs, Subnets: l.subnets}
	}
	return out, nil
}

// LinkWatcher signals when the kernel reports a link or address change; rescan with Links.
type LinkWatcher struct{ w *linkWatcher }

// WatchLinks subscribes to rtnetlink's link and address notifications.
func WatchLinks() (*LinkWatcher, error) {
	w, err := watchLinks()
	if err != nil {
		return nil, err
	}
	return &LinkWatcher{w: w}, nil
}

// C receives one value for any burst of changes.
func (w *LinkWatcher) C() <-chan struct{} { return w.w.C }

// Close stops watching.
func (w *LinkWatcher) Close() { w.w.close() }

// ReusePort is a net.ListenConfig Control that sets SO_REUSEADDR and SO_REUSEPORT, so that
// a well-known multicast port is shared with other daemons on the host.
func ReusePort(network, address string, c syscall.RawConn) error {
	return reusePort(network, address, c)
}

// AnswerBudget limits answers sent straight back to a querier: per host, and all hosts
// together (for floods from forged sources), with bounded state. Not safe for concurrent use.
type AnswerBudget struct{ b *unicastBudget }

// NewAnswerBudget returns a budget with the mDNS responder's limits.
func NewAnswerBudget() *AnswerBudget { return &AnswerBudget{b: newUnicastBudget()} }

// Allow reports whether an answer to host may go at now, and if so spends it.
func (a *AnswerBudget) Allow(host netip.Addr, now time.Time) bool { return a.b.allow(host, now) }
