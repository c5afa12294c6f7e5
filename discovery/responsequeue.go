package discovery

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// RFC 6762 §6: a record is multicast on an interface at most once a second,
// except in answer to a probe, which may follow a quarter of a second after
// the last; a shared record's answer waits 20-120 ms, and the answer to a
// query with more known answers to come (TC bit) 400-500 ms.
const (
	multicastLimit    = time.Second
	probeDefenseLimit = 250 * time.Millisecond
	sharedDelayMin    = 20 * time.Millisecond
	sharedDelaySpread = 100 * time.Millisecond
	truncatedDelayMin = 400 * time.Millisecond
)

// route is where a multicast goes: one interface, one address family.
type route struct {
	ifIndex int
	v6      bool
}

// routes are the routes of link l: a multicast on it goes out over each
// family it has an address of.
func routes(l link) []route {
	var out []route
	if l.hasV4() {
		out = append(out, route{ifIndex: l.ifc.Index})
	}
	if l.hasV6() {
		out = append(out, route{ifIndex: l.ifc.Index, v6: true})
	}
	return out
}

// recordKey identifies a record whatever its TTL and cache-flush bit.
type recordKey struct {
	name string // lower case
	typ  dnsmessage.Type
	data string // hex of rdata
}

func keyOf(rr dnsmessage.Resource) recordKey {
	return recordKey{
		name: lowerName(rr.Header.Name.String()),
		typ:  rr.Header.Type,
		data: hex.EncodeToString(rdata(rr.Body)),
	}
}

type pendingRecord struct {
	rr  dnsmessage.Resource
	due time.Time
	// asker is the one querier that asked for it, or the zero Addr once several have.
	asker netip.Addr
}

// responseQueue holds multicast answers until they may go. It remembers when
// each record was last multicast on each route and holds what was asked for
// until its time, so however fast questions arrive (any host on the LAN can
// send thousands a second), each record goes out at most once a second per
// route and every asker still gets an answer. It belongs to the responder's
// run loop and is not safe for concurrent use; times are passed in, so the
// tests drive it without sleeping.
type responseQueue struct {
	lastSent map[route]map[recordKey]time.Time
	pending  map[route]map[recordKey]pendingRecord
}

func newResponseQueue() *responseQueue {
	return &responseQueue{
		lastSent: map[route]map[recordKey]time.Time{},
		pending:  map[route]map[recordKey]pendingRecord{},
	}
}

// sent notes that rrs were multicast on r at now. Whatever of them was
// pending there is answered by that, and dropped (an announcement carries
// every record a question may be waiting for).
func (q *responseQueue) sent(r route, rrs []dnsmessage.Resource, now time.Time) {
	m := q.lastSent[r]
	if m == nil {
		m = map[recordKey]time.Time{}
		q.lastSent[r] = m
	}
	for _, rr := range rrs {
		k := keyOf(rr)
		m[k] = now
		delete(q.pending[r], k)
	}
}

// recent reports whether rr was multicast on r within d before now.
func (q *responseQueue) recent(r route, rr dnsmessage.Resource, now time.Time, d time.Duration) bool {
	at, ok := q.lastSent[r][keyOf(rr)]
	return ok && now.Sub(at) < d
}

// add schedules rr on r, asked for by asker, for now+delay, or for limit after
// its last multicast on r if that is later. A record already pending keeps the
// earlier time.
func (q *responseQueue) add(r route, rr dnsmessage.Resource, asker netip.Addr, now time.Time, delay, limit time.Duration) {
	k := keyOf(rr)
	due := now.Add(delay)
	if at, ok := q.lastSent[r][k]; ok && at.Add(limit).After(due) {
		due = at.Add(limit)
	}
	m := q.pending[r]
	if m == nil {
		m = map[recordKey]pendingRecord{}
		q.pending[r] = m
	}
	if p, ok := m[k]; ok {
		if p.asker != asker {
			p.asker = netip.Addr{}
		}
		p.due = minTime(p.due, due)
		m[k] = p
		return
	}
	m[k] = pendingRecord{rr: rr, due: due, asker: asker}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// cancel drops rr if it is pending on r: another host has just multicast it
// with at least half our TTL, so every cache has it (RFC 6762 §7.4).
func (q *responseQueue) cancel(r route, rr dnsmessage.Resource) {
	k := keyOf(rr)
	if p, ok := q.pending[r][k]; ok && rr.Header.TTL >= p.rr.Header.TTL/2 {
		delete(q.pending[r], k)
	}
}

// cancelKnown drops rr if it is pending on r for asker alone, who has just
// listed it among its known answers with at least half our TTL (RFC 6762
// §7.2): it has the record. Someone else who asked for it still gets it.
func (q *responseQueue) cancelKnown(r route, rr dnsmessage.Resource, asker netip.Addr) {
	k := keyOf(rr)
	if p, ok := q.pending[r][k]; ok && p.asker == asker && rr.Header.TTL >= p.rr.Header.TTL/2 {
		delete(q.pending[r], k)
	}
}

// next returns when the earliest pending record is due; ok is false if none
// is pending.
func (q *responseQueue) next() (at time.Time, ok bool) {
	for _, m := range q.pending {
		for _, p := range m {
			if !ok || p.due.Before(at) {
				at, ok = p.due, true
			}
		}
	}
	return at, ok
}

// take removes and returns, route by route, the records due at now.
func (q *responseQueue) take(now time.Time) map[route][]dnsmessage.Resource {
	out := map[route][]dnsmessage.Resource{}
	for r, m := range q.pending {
		for k, p := range m {
			if p.due.After(now) {
				continue
			}
			out[r] = append(out[r], p.rr)
			delete(m, k)
		}
		if len(m) == 0 {
			delete(q.pending, r)
		}
		// Map order is random; a fixed order makes the packets reproducible.
		slices.SortFunc(out[r], compareRecords)
	}
	return out
}

// reset forgets everything: the names or the links changed, so neither what
// was sent nor what was asked for still applies.
func (q *responseQueue) reset() {
	clear(q.lastSent)
	clear(q.pending)
}
