package discovery

import (
	"fmt"

	"golang.org/x/net/dns/dnsmessage"
)

// probeMessage asks "does anyone own these names?" (RFC 6762 §8.1): one ANY
// question per unique name, with the records we intend to publish in the
// authority section so that simultaneous probes can be tie-broken (§8.2).
//
// The questions ask for multicast replies (QM), not the QU bit §8.1 suggests:
// a unicast reply to port 5353 goes to only one of the sockets sharing the
// port (avahi-daemon's or ours), so we might never see it. Multicast replies
// reach every socket.
func probeMessage(z zone) (*dnsmessage.Message, error) {
	host, err := mustName(z.names.hostFQDN())
	if err != nil {
		return nil, err
	}
	inst, err := mustName(z.names.instanceFQDN())
	if err != nil {
		return nil, err
	}
	hostRRs, err := z.hostRecords(hostTTL)
	if err != nil {
		return nil, err
	}
	instRRs, err := z.instanceRecords(hostTTL, otherTTL)
	if err != nil {
		return nil, err
	}
	// §8.2: authority records in a probe do not carry the cache-flush bit.
	auth := append(hostRRs, instRRs...)
	for i := range auth {
		auth[i].Header.Class &= classMask
	}
	return &dnsmessage.Message{
		Questions: []dnsmessage.Question{
			{Name: host, Type: dnsmessage.TypeALL, Class: dnsmessage.ClassINET},
			{Name: inst, Type: dnsmessage.TypeALL, Class: dnsmessage.ClassINET},
		},
		Authorities: auth,
	}, nil
}

// announcement is an unsolicited response carrying every record (RFC 6762
// §8.3); with goodbye set, every TTL is zero (§10.1).
func announcement(z zone, goodbye bool) (*dnsmessage.Message, error) {
	rrs, err := z.all(goodbye)
	if err != nil {
		return nil, fmt.Errorf("build announcement: %w", err)
	}
	return &dnsmessage.Message{
		Header:  dnsmessage.Header{Response: true, Authoritative: true},
		Answers: rrs,
	}, nil
}

// addressGoodbye withdraws addresses a link no longer has, so caches stop
// handing out a stale address after DHCP moves us.
func addressGoodbye(z zone) (*dnsmessage.Message, error) {
	rrs, err := z.hostRecords(0)
	if err != nil {
		return nil, err
	}
	return &dnsmessage.Message{
		Header:  dnsmessage.Header{Response: true, Authoritative: true},
		Answers: rrs,
	}, nil
}
