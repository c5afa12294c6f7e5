package discovery

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// TTLs from RFC 6762 §10: records that name a host (A, AAAA, SRV) live 120 s,
// the rest 75 minutes.
const (
	hostTTL  = 120
	otherTTL = 4500
)

// classCacheFlush is the top bit of a resource record's class in mDNS (RFC
// 6762 §10.2): it marks a unique record, telling caches to drop older data for
// the same name and type. In a question the same bit asks for a unicast reply.
const (
	classCacheFlush = dnsmessage.Class(0x8000)
	classMask       = dnsmessage.Class(0x7fff)
)

const (
	rtspService    = "_rtsp._tcp"
	localDomain    = "local."
	enumerationFQD = "_services._dns-sd._udp.local."
)

// names is the pair of unique names this responder owns; probing may change
// either of them.
type names struct {
	host     string // label, e.g. "camera-abcd"
	instance string // label, e.g. "camerad ABCD"
}

func (n names) hostFQDN() string     { return n.host + "." + localDomain }
func (n names) instanceFQDN() string { return n.instance + "." + serviceFQDN() }
func serviceFQDN() string            { return rtspService + "." + localDomain }

// zone is every record the responder publishes on one interface.
type zone struct {
	names names
	port  uint16
	txt   []string
	addrs []netip.Addr // this interface's addresses
}

func mustName(s string) (dnsmessage.Name, error) {
	n, err := dnsmessage.NewName(s)
	if err != nil {
		return n, fmt.Errorf("dns name %q: %w", s, err)
	}
	return n, nil
}

// hostRecords are the unique A/AAAA records for the host name.
func (z zone) hostRecords(ttl uint32) ([]dnsmessage.Resource, error) {
	name, err := mustName(z.names.hostFQDN())
	if err != nil {
		return nil, err
	}
	out := make([]dnsmessage.Resource, 0, len(z.addrs))
	for _, a := range z.addrs {
		h := dnsmessage.ResourceHeader{Name: name, Class: dnsmessage.ClassINET | classCacheFlush, TTL: ttl}
		switch {
		case a.Is4():
			h.Type = dnsmessage.TypeA
			out = append(out, dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: a.As4()}})
		case a.Is6():
			h.Type = dnsmessage.TypeAAAA
			out = append(out, dnsmessage.Resource{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
		}
	}
	return out, nil
}

// instanceRecords are the unique SRV and TXT records of the service instance.
func (z zone) instanceRecords(srvTTL, txtTTL uint32) ([]dnsmessage.Resource, error) {
	inst, err := mustName(z.names.instanceFQDN())
	if err != nil {
		return nil, err
	}
	target, err := mustName(z.names.hostFQDN())
	if err != nil {
		return nil, err
	}
	return []dnsmessage.Resource{
		{
			Header: dnsmessage.ResourceHeader{Name: inst, Type: dnsmessage.TypeSRV, Class: dnsmessage.ClassINET | classCacheFlush, TTL: srvTTL},
			Body:   &dnsmessage.SRVResource{Port: z.port, Target: target},
		},
		{
			Header: dnsmessage.ResourceHeader{Name: inst, Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET | classCacheFlush, TTL: txtTTL},
			Body:   &dnsmessage.TXTResource{TXT: z.txt},
		},
	}, nil
}

// sharedRecords are the PTRs a browser follows: service type → instance, and
// the service-type enumeration (RFC 6763 §9). Many hosts publish them, so they
// never carry the cache-flush bit.
func (z zone) sharedRecords(ttl uint32) ([]dnsmessage.Resource, error) {
	svc, err := mustName(serviceFQDN())
	if err != nil {
		return nil, err
	}
	inst, err := mustName(z.names.instanceFQDN())
	if err != nil {
		return nil, err
	}
	enum, err := mustName(enumerationFQD)
	if err != nil {
		return nil, err
	}
	return []dnsmessage.Resource{
		{
			Header: dnsmessage.ResourceHeader{Name: svc, Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET, TTL: ttl},
			Body:   &dnsmessage.PTRResource{PTR: inst},
		},
		{
			Header: dnsmessage.ResourceHeader{Name: enum, Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET, TTL: ttl},
			Body:   &dnsmessage.PTRResource{PTR: svc},
		},
	}, nil
}

// all returns every record of the zone; goodbye sets every TTL to zero (RFC
// 6762 §10.1), which tells caches to forget them in one second.
func (z zone) all(goodbye bool) ([]dnsmessage.Resource, error) {
	ttl := func(t uint32) uint32 {
		if goodbye {
			return 0
		}
		return t
	}
	shared, err := z.sharedRecords(ttl(otherTTL))
	if err != nil {
		return nil, err
	}
	inst, err := z.instanceRecords(ttl(hostTTL), ttl(otherTTL))
	if err != nil {
		return nil, err
	}
	host, err := z.hostRecords(ttl(hostTTL))
	if err != nil {
		return nil, err
	}
	out := append(shared, inst...)
	return append(out, host...), nil
}

// uniqueRecordsFor returns our unique records whose owner name is name (host
// or instance), or nil if we own no such name.
func (z zone) uniqueRecordsFor(name string) ([]dnsmessage.Resource, error) {
	switch {
	case sameName(name, z.names.hostFQDN()):
		return z.hostRecords(hostTTL)
	case sameName(name, z.names.instanceFQDN()):
		return z.instanceRecords(hostTTL, otherTTL)
	}
	return nil, nil
}

// rdata returns the uncompressed wire form of a record's data, with names in
// lower case: the form RFC 6762 §8.2 compares for tie-breaking, and what we
// compare to decide whether someone else's record is identical to ours.
func rdata(body dnsmessage.ResourceBody) []byte {
	switch b := body.(type) {
	case *dnsmessage.AResource:
		return b.A[:]
	case *dnsmessage.AAAAResource:
		return b.AAAA[:]
	case *dnsmessage.SRVResource:
		out := binary.BigEndian.AppendUint16(nil, b.Priority)
		out = binary.BigEndian.AppendUint16(out, b.Weight)
		out = binary.BigEndian.AppendUint16(out, b.Port)
		return appendWireName(out, b.Target.String())
	case *dnsmessage.TXTResource:
		var out []byte
		for _, s := range b.TXT {
			out = append(out, byte(len(s)))
			out = append(out, s...)
		}
		return out
	case *dnsmessage.PTRResource:
		return appendWireName(nil, b.PTR.String())
	case *dnsmessage.UnknownResource:
		return b.Data
	}
	return nil
}

func appendWireName(out []byte, name string) []byte {
	for _, label := range strings.Split(strings.TrimSuffix(lowerName(name), "."), ".") {
		if label == "" {
			continue
		}
		out = append(out, byte(len(label)))
		out = append(out, label...)
	}
	return append(out, 0)
}

// sameRecord reports whether a and b carry the same name, type, class (cache
// flush bit aside) and data.
func sameRecord(a, b dnsmessage.Resource) bool {
	return sameName(a.Header.Name.String(), b.Header.Name.String()) &&
		a.Header.Type == b.Header.Type &&
		a.Header.Class&classMask == b.Header.Class&classMask &&
		bytes.Equal(rdata(a.Body), rdata(b.Body))
}

// compareRecords orders records as RFC 6762 §8.2 does for simultaneous
// probes: by class (without the cache-flush bit), then type, then raw rdata.
func compareRecords(a, b dnsmessage.Resource) int {
	if c := int(a.Header.Class&classMask) - int(b.Header.Class&classMask); c != 0 {
		return c
	}
	if c := int(a.Header.Type) - int(b.Header.Type); c != 0 {
		return c
	}
	return bytes.Compare(rdata(a.Body), rdata(b.Body))
}
