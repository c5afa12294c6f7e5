package discovery

import (
	"net/netip"
	"slices"

	"golang.org/x/net/dns/dnsmessage"
)

// conflicts reports which of our names a response from the network
// contradicts. A record is no conflict when it is identical to one of ours
// (our own packets loop back) or is a
// goodbye. While probing, any other record with one of our names is a
// conflict (RFC 6762 §8.1); once the names are ours, only a record of the same
// type with different data is (§9).
func conflicts(msg *dnsmessage.Message, z zone, ourAddrs []netip.Addr, probing bool) (host, inst bool) {
	hostName, instName := z.names.hostFQDN(), z.names.instanceFQDN()
	ours, err := z.instanceRecords(hostTTL, otherTTL)
	if err != nil {
		return false, false
	}
	sections := [][]dnsmessage.Resource{msg.Answers, msg.Authorities, msg.Additionals}
	for _, sec := range sections {
		for _, rr := range sec {
			if rr.Header.TTL == 0 {
				continue
			}
			name := rr.Header.Name.String()
			switch {
			case sameName(name, hostName):
				if hostRecordConflicts(rr, ourAddrs, probing) {
					host = true
				}
			case sameName(name, instName):
				if instanceRecordConflicts(rr, ours, probing) {
					inst = true
				}
			}
		}
	}
	return host, inst
}

func hostRecordConflicts(rr dnsmessage.Resource, ourAddrs []netip.Addr, probing bool) bool {
	var addr netip.Addr
	switch b := rr.Body.(type) {
	case *dnsmessage.AResource:
		addr = netip.AddrFrom4(b.A)
	case *dnsmessage.AAAAResource:
		addr = netip.AddrFrom16(b.AAAA)
	default:
		return probing
	}
	return !slices.Contains(ourAddrs, addr)
}

func instanceRecordConflicts(rr dnsmessage.Resource, ours []dnsmessage.Resource, probing bool) bool {
	sameType := false
	for _, o := range ours {
		if o.Header.Type != rr.Header.Type {
			continue
		}
		sameType = true
		if sameRecord(o, rr) {
			return false
		}
	}
	return sameType || probing
}

// lostTiebreak decides a simultaneous probe (RFC 6762 §8.2): q is another
// host's probe. For each of our names it asks about, its authority records
// and ours are sorted and compared pairwise; the lexicographically later set
// wins. Identical sets are our own probe looped back. It returns true when we
// must wait a second and probe again.
func lostTiebreak(q *dnsmessage.Message, z zone) bool {
	lost := false
	eachClaim(q, z, func(ours, theirs []dnsmessage.Resource) {
		lost = lost || compareRecordSets(ours, theirs) < 0
	})
	return lost
}

// sameClaims reports whether probe q claims exactly what we would in z: it is
// then our own probe, sent with z's addresses. A host with two links on one
// LAN (Ethernet and Wi-Fi to the same router) hears its probes from each link
// on the other, with the other link's addresses; comparing them with this
// link's records would lose the tie-break to itself every second, for ever.
// (IPv4 drops a packet from one of our own addresses; IPv6 delivers it.)
func sameClaims(q *dnsmessage.Message, z zone) bool {
	same, claims := true, false
	eachClaim(q, z, func(ours, theirs []dnsmessage.Resource) {
		claims = true
		same = same && compareRecordSets(ours, theirs) == 0
	})
	return claims && same
}

// eachClaim calls fn, for each of our names that probe q has authority
// records for, with our records and q's for that name, both sorted.
func eachClaim(q *dnsmessage.Message, z zone, fn func(ours, theirs []dnsmessage.Resource)) {
	for _, name := range []string{z.names.hostFQDN(), z.names.instanceFQDN()} {
		var theirs []dnsmessage.Resource
		for _, rr := range q.Authorities {
			if sameName(rr.Header.Name.String(), name) {
				theirs = append(theirs, rr)
			}
		}
		if len(theirs) == 0 {
			continue
		}
		ours, err := z.uniqueRecordsFor(name)
		if err != nil {
			continue
		}
		slices.SortFunc(theirs, compareRecords)
		slices.SortFunc(ours, compareRecords)
		fn(ours, theirs)
	}
}

// compareRecordSets compares sorted sets element by element; when one is a
// prefix of the other, the longer one is later.
func compareRecordSets(a, b []dnsmessage.Resource) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareRecords(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}
