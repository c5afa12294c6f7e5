package discovery

import (
	"math/rand/v2"
	"slices"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// answer responds to a query that arrived on the link z describes: at once by
// unicast where the querier asked for that, and otherwise by queueing the
// records for a multicast on the same link and address family.
func (st *run) answer(p packet, z zone) {
	now := time.Now()
	r := routeOf(p)
	legacy := p.src.Port() != mdnsPort
	if p.direct && !legacy {
		// §5.5: a query sent straight to us from port 5353 wants its answer the same
		// way, as if it had the unicast-response bit.
		p.msg.Questions = slices.Clone(p.msg.Questions)
		for i := range p.msg.Questions {
			p.msg.Questions[i].Class |= classCacheFlush
		}
	}
	rep, err := replyTo(z, &p.msg, legacy, func(rr dnsmessage.Resource, d time.Duration) bool {
		return st.answers.recent(r, rr, now, d)
	})
	if err != nil {
		st.log.Warn("mdns: build answer", "to", p.src, "err", err)
		return
	}
	if rep.unicast != nil {
		switch {
		case st.unicast.allow(p.src.Addr(), now):
			if err := st.w.sendUnicast(p.src, rep.unicast); err != nil {
				st.log.Debug("mdns: send unicast answer", "to", p.src, "err", err)
			}
		case !legacy:
			// Over budget, a QU question is answered the multicast way, within the
			// multicast rate limit: the querier hears that too.
			for _, rr := range rep.unicast.Answers {
				rep.multicast = appendNew(rep.multicast, rr)
				rep.shared = rep.shared || rr.Header.Class&classCacheFlush == 0
			}
		default:
			st.log.Debug("mdns: unicast answer dropped, over the querier's budget", "to", p.src)
		}
	}
	if len(rep.multicast) == 0 {
		return
	}
	limit, delay := multicastLimit, time.Duration(0)
	switch {
	case rep.probe:
		limit = probeDefenseLimit
	case p.msg.Header.Truncated:
		delay = truncatedDelayMin + rand.N(sharedDelaySpread)
	case rep.shared:
		delay = sharedDelayMin + rand.N(sharedDelaySpread)
	}
	for _, rr := range rep.multicast {
		st.answers.add(r, rr, p.src.Addr(), now, delay, limit)
	}
	st.scheduleAnswers()
}

// routeOf is the link and family a packet arrived on, where its multicast
// answer goes.
func routeOf(p packet) route {
	return route{ifIndex: p.ifIndex, v6: !p.src.Addr().Unmap().Is4()}
}

// sendAnswers multicasts the queued answers that are due, one message per
// route, with the records a querier will want next in the additional
// section, except those multicast within the last second.
func (st *run) sendAnswers() {
	now := time.Now()
	n := st.names()
	for r, answers := range st.answers.take(now) {
		l, ok := st.links.byIndex(r.ifIndex)
		if !ok {
			continue
		}
		extra, err := st.zone(l, n).additionals(answers)
		if err != nil {
			st.log.Warn("mdns: build answer", "iface", l.ifc.Name, "err", err)
			continue
		}
		extra = slices.DeleteFunc(extra, func(rr dnsmessage.Resource) bool {
			return st.answers.recent(r, rr, now, multicastLimit)
		})
		msg := &dnsmessage.Message{
			Header:      dnsmessage.Header{Response: true, Authoritative: true},
			Answers:     answers,
			Additionals: extra,
		}
		if err := st.w.sendFamily(l, r.v6, msg); err != nil {
			st.log.Warn("mdns: send answer", "iface", l.ifc.Name, "err", err)
			continue
		}
		st.answers.sent(r, answers, now)
		st.answers.sent(r, extra, now)
	}
	st.scheduleAnswers()
}

// moreKnownAnswers takes a query with no questions, only known answers: the rest of a
// querier's known-answer list, which did not fit in the packet of its questions (those had
// the TC bit, and their answers wait 400-500 ms for this). Queued answers it lists with at
// least half their TTL are dropped (RFC 6762 §7.2).
func (st *run) moreKnownAnswers(p packet) {
	r := routeOf(p)
	for _, rr := range p.msg.Answers {
		st.answers.cancelKnown(r, rr, p.src.Addr())
	}
	st.scheduleAnswers()
}

// duplicateAnswers drops queued answers that another host has just
// multicast on the same route (RFC 6762 §7.4). Our own packets, which loop
// back, do not count.
func (st *run) duplicateAnswers(p packet) {
	if slices.Contains(st.links.allAddrs(), p.src.Addr().WithZone("").Unmap()) {
		return
	}
	r := routeOf(p)
	for _, rr := range p.msg.Answers {
		st.answers.cancel(r, rr)
	}
	st.scheduleAnswers()
}

// scheduleAnswers sets the respond timer for the next queued answer.
func (st *run) scheduleAnswers() {
	st.respond.Stop()
	if at, ok := st.answers.next(); ok {
		st.respond.Reset(max(time.Until(at), 0))
	}
}

// forgetAnswers drops everything queued and forgets what was sent: the
// names, the links or the sockets are about to change.
func (st *run) forgetAnswers() {
	st.answers.reset()
	st.respond.Stop()
}
