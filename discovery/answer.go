package discovery

import (
	"slices"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// legacyTTL caps the TTLs in an answer to a one-shot querier (RFC 6762 §6.7):
// it does not hear our goodbyes, so must not cache for long.
const legacyTTL = 10

// reply is how the responder answers one query: records to multicast on the
// link the query came in on (the response queue decides when), and a message
// to send straight back to the querier.
type reply struct {
	multicast []dnsmessage.Resource
	unicast   *dnsmessage.Message
	// probe is set for another host's probe (questions with proposed records
	// in the authority section, RFC 6762 §8.1): its answers defend our names
	// and may follow a multicast of the same record sooner than others.
	probe bool
	// shared is set when a multicast answer is a shared record, which other
	// hosts may answer too: it waits 20-120 ms so their answers do not collide.
	shared bool
}

// replyTo decides the answer to query q (RFC 6762 §6). legacy is set when q
// came from a port other than 5353: a one-shot resolver wanting a plain DNS
// answer (§6.7). recent reports whether a record was multicast on q's link
// within the given time: a question with the unicast-response bit (QU, §5.4)
// is answered by unicast only for records multicast in the last quarter of
// their TTL, so that every cache on the link is refreshed now and then.
// Records listed in q's known answers with at least half their TTL left are
// not repeated (§7.1).
func replyTo(z zone, q *dnsmessage.Message, legacy bool, recent func(dnsmessage.Resource, time.Duration) bool) (reply, error) {
	r := reply{probe: len(q.Authorities) > 0}
	var unicast []dnsmessage.Resource
	for _, qu := range q.Questions {
		rrs, err := z.answers(qu)
		if err != nil {
			return reply{}, err
		}
		rrs = slices.DeleteFunc(rrs, func(rr dnsmessage.Resource) bool { return knownTo(q, rr) })
		if len(rrs) == 0 {
			continue
		}
		wantsUnicast := qu.Class&classCacheFlush != 0 && !r.probe
		for _, rr := range rrs {
			switch {
			case legacy:
				unicast = appendNew(unicast, rr)
			case wantsUnicast && recent(rr, time.Duration(rr.Header.TTL)*time.Second/4):
				unicast = appendNew(unicast, rr)
			default:
				r.multicast = appendNew(r.multicast, rr)
				if rr.Header.Class&classCacheFlush == 0 {
					r.shared = true
				}
			}
		}
	}
	if len(unicast) == 0 {
		return r, nil
	}
	extra, err := z.additionals(unicast)
	if err != nil {
		return reply{}, err
	}
	extra = slices.DeleteFunc(extra, func(rr dnsmessage.Resource) bool { return knownTo(q, rr) })
	r.unicast = &dnsmessage.Message{
		Header:      dnsmessage.Header{Response: true, Authoritative: true},
		Answers:     unicast,
		Additionals: extra,
	}
	if legacy {
		r.unicast.Header.ID = q.Header.ID
		r.unicast.Questions = q.Questions // §6.7: the question as given
		for _, sec := range [][]dnsmessage.Resource{r.unicast.Answers, r.unicast.Additionals} {
			for i := range sec {
				sec[i].Header.Class &= classMask
				sec[i].Header.TTL = min(sec[i].Header.TTL, legacyTTL)
			}
		}
	}
	return r, nil
}

// answers returns z's records that answer question qu, or none if qu is not
// about a name z holds. The top bit of a question's class is the QU bit, not
// part of the class.
func (z zone) answers(qu dnsmessage.Question) ([]dnsmessage.Resource, error) {
	if class := qu.Class & classMask; class != dnsmessage.ClassINET && class != dnsmessage.ClassANY {
		return nil, nil
	}
	name := qu.Name.String()
	var rrs []dnsmessage.Resource
	var err error
	switch {
	case sameName(name, z.names.hostFQDN()):
		rrs, err = z.hostRecords(hostTTL)
	case sameName(name, z.names.instanceFQDN()):
		rrs, err = z.instanceRecords(hostTTL, otherTTL)
	case sameName(name, serviceFQDN()), sameName(name, enumerationFQD):
		rrs, err = z.sharedRecords(otherTTL)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(rrs, func(rr dnsmessage.Resource) bool {
		return !sameName(rr.Header.Name.String(), name) ||
			qu.Type != dnsmessage.TypeALL && rr.Header.Type != qu.Type
	}), nil
}

// additionals returns the records a querier will ask for next, so that one
// answer is enough to connect: with the service's PTR, the instance's SRV
// and TXT and the host's addresses (RFC 6763 §12.1); with an SRV, the
// addresses (§12.2); with an address, the host's other addresses, of both
// families (RFC 6762 §6.2). Records among answers are not repeated.
func (z zone) additionals(answers []dnsmessage.Resource) ([]dnsmessage.Resource, error) {
	var instance, host bool
	for _, rr := range answers {
		switch rr.Header.Type {
		case dnsmessage.TypePTR:
			if sameName(rr.Header.Name.String(), serviceFQDN()) {
				instance, host = true, true
			}
		case dnsmessage.TypeSRV, dnsmessage.TypeA, dnsmessage.TypeAAAA:
			host = true
		}
	}
	var out []dnsmessage.Resource
	if instance {
		rrs, err := z.instanceRecords(hostTTL, otherTTL)
		if err != nil {
			return nil, err
		}
		out = append(out, rrs...)
	}
	if host {
		rrs, err := z.hostRecords(hostTTL)
		if err != nil {
			return nil, err
		}
		out = append(out, rrs...)
	}
	return slices.DeleteFunc(out, func(rr dnsmessage.Resource) bool { return containsRecord(answers, rr) }), nil
}

// knownTo reports whether query q lists rr among its known answers with at
// least half of rr's TTL left (RFC 6762 §7.1): the querier has it already.
func knownTo(q *dnsmessage.Message, rr dnsmessage.Resource) bool {
	for _, k := range q.Answers {
		if k.Header.TTL >= rr.Header.TTL/2 && sameRecord(k, rr) {
			return true
		}
	}
	return false
}

func containsRecord(list []dnsmessage.Resource, rr dnsmessage.Resource) bool {
	return slices.ContainsFunc(list, func(o dnsmessage.Resource) bool { return sameRecord(o, rr) })
}

// appendNew appends rr unless list has it already: an ANY and an A question
// in one query both yield the A record, which is sent once.
func appendNew(list []dnsmessage.Resource, rr dnsmessage.Resource) []dnsmessage.Resource {
	if containsRecord(list, rr) {
		return list
	}
	return append(list, rr)
}
