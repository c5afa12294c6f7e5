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
// port (avahi's, pion's or ours), so we might never see it. Multicast replies
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

// anyAnswer answers ANY questions for our unique names. pion/mdns ignores
// ANY, but it is what other hosts' probes ask (RFC 6762 §8.1), and answering
// is how we defend our names. legacy echoes the query id and questions for a
// querier that did not send from port 5353 (§6.7). It returns nil when no
// question concerns us.
func anyAnswer(z zone, q *dnsmessage.Message, legacy bool) (*dnsmessage.Message, error) {
	var answers []dnsmessage.Resource
	var questions []dnsmessage.Question
	for _, qu := range q.Questions {
		if qu.Type != dnsmessage.TypeALL || qu.Class&classMask != dnsmessage.ClassINET && qu.Class&classMask != dnsmessage.ClassANY {
			continue
		}
		rrs, err := z.uniqueRecordsFor(qu.Name.String())
		if err != nil {
			return nil, err
		}
		if len(rrs) == 0 {
			continue
		}
		questions = append(questions, qu)
		answers = append(answers, rrs...)
	}
	if len(answers) == 0 {
		return nil, nil
	}
	m := &dnsmessage.Message{
		Header:  dnsmessage.Header{Response: true, Authoritative: true},
		Answers: answers,
	}
	if legacy {
		m.Header.ID = q.Header.ID
		m.Questions = questions
		// §6.7: legacy resolvers do not understand the cache-flush bit, and
		// must not cache for long.
		for i := range m.Answers {
			m.Answers[i].Header.Class &= classMask
			m.Answers[i].Header.TTL = min(m.Answers[i].Header.TTL, 10)
		}
	}
	return m, nil
}
