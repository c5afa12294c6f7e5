package discovery

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// drain sends whatever is due at now, as the run loop does when its timer
// fires, and returns what went out on r.
func drain(q *responseQueue, r route, now time.Time) []dnsmessage.Resource {
	out := q.take(now)
	for rt, rrs := range out {
		q.sent(rt, rrs, now)
	}
	return out[r]
}

// TestResponseQueueFlood: a querier asking a hundred times a second for ten
// seconds gets the first answer at once and then one a second, never two
// within a second (RFC 6762 §6), and each question is answered within a
// second of being asked.
func TestResponseQueueFlood(t *testing.T) {
	q := newResponseQueue()
	r := route{ifIndex: 2}
	a := aRecord(tHost, "10.0.0.5", hostTTL)
	t0 := time.Unix(1000, 0)
	var sends []time.Duration
	lastAsked := time.Duration(-1)
	for at := time.Duration(0); at < 10*time.Second; at += time.Millisecond {
		now := t0.Add(at)
		if at%(10*time.Millisecond) == 0 {
			q.add(r, a, netip.Addr{}, now, 0, multicastLimit)
			if lastAsked < 0 {
				lastAsked = at
			}
		}
		if due, ok := q.next(); ok && !due.After(now) {
			if got := drain(q, r, now); len(got) != 1 {
				t.Fatalf("at %v sent %d records, want the A", at, len(got))
			}
			if wait := at - lastAsked; wait > multicastLimit {
				t.Errorf("a question at %v was answered %v later", lastAsked, wait)
			}
			sends = append(sends, at)
			lastAsked = -1
		}
	}
	if len(sends) == 0 || sends[0] != 0 {
		t.Fatalf("first answer at %v, want at once", sends)
	}
	for i := 1; i < len(sends); i++ {
		if gap := sends[i] - sends[i-1]; gap < multicastLimit {
			t.Errorf("the A went out %v after the previous one, want at least %v", gap, multicastLimit)
		}
	}
	if len(sends) != 10 {
		t.Errorf("sent %d answers in 10 s of questions, want 10: %v", len(sends), sends)
	}
}

// TestResponseQueueLimits: the delay and the limit since the last multicast
// both hold, the earlier of two schedules wins, a probe's answer may follow
// after a quarter second, and routes are limited separately.
func TestResponseQueueLimits(t *testing.T) {
	q := newResponseQueue()
	v4, v6, other := route{ifIndex: 2}, route{ifIndex: 2, v6: true}, route{ifIndex: 3}
	a := aRecord(tHost, "10.0.0.5", hostTTL)
	t0 := time.Unix(1000, 0)
	due := func() time.Duration {
		t.Helper()
		at, ok := q.next()
		if !ok {
			t.Fatal("nothing pending")
		}
		return at.Sub(t0)
	}

	q.add(v4, a, netip.Addr{}, t0, 50*time.Millisecond, multicastLimit)
	if d := due(); d != 50*time.Millisecond {
		t.Errorf("due at %v, want the 50ms delay", d)
	}
	q.add(v4, a, netip.Addr{}, t0, 10*time.Millisecond, multicastLimit)
	if d := due(); d != 10*time.Millisecond {
		t.Errorf("due at %v, want the earlier 10ms", d)
	}
	drain(q, v4, t0.Add(10*time.Millisecond))
	if _, ok := q.next(); ok {
		t.Fatal("still pending after it was sent")
	}

	q.add(v4, a, netip.Addr{}, t0.Add(20*time.Millisecond), 0, multicastLimit)
	if d := due(); d != 1010*time.Millisecond {
		t.Errorf("repeat due at %v, want a second after the last send (1.01s)", d)
	}
	q.add(v4, a, netip.Addr{}, t0.Add(20*time.Millisecond), 0, probeDefenseLimit)
	if d := due(); d != 260*time.Millisecond {
		t.Errorf("probe defence due at %v, want 250ms after the last send", d)
	}
	if !q.recent(v4, a, t0.Add(20*time.Millisecond), multicastLimit) || q.recent(v6, a, t0.Add(20*time.Millisecond), multicastLimit) {
		t.Error("recent does not tell the routes apart")
	}
	drain(q, v4, t0.Add(time.Second))

	for _, r := range []route{v6, other} {
		q.add(r, a, netip.Addr{}, t0.Add(20*time.Millisecond), 0, multicastLimit)
		if d := due(); d != 20*time.Millisecond {
			t.Errorf("route %+v: due at %v, want at once (nothing sent there yet)", r, d)
		}
		drain(q, r, t0.Add(20*time.Millisecond))
	}
}

// TestResponseQueueCancel: another host's multicast of a pending record with
// at least half its TTL answers the question for us (RFC 6762 §7.4); with
// less, or on another route, it does not.
func TestResponseQueueCancel(t *testing.T) {
	q := newResponseQueue()
	r := route{ifIndex: 2}
	t0 := time.Unix(1000, 0)
	ptr := func(ttl uint32) dnsmessage.Resource {
		rrs, err := testZone().sharedRecords(ttl)
		if err != nil {
			t.Fatal(err)
		}
		return rrs[0]
	}
	q.add(r, ptr(otherTTL), netip.Addr{}, t0, 50*time.Millisecond, multicastLimit)
	q.cancel(r, ptr(otherTTL/2-1))
	q.cancel(route{ifIndex: 3}, ptr(otherTTL))
	if _, ok := q.next(); !ok {
		t.Fatal("cancelled by a stale copy or by another route")
	}
	q.cancel(r, ptr(otherTTL/2))
	if _, ok := q.next(); ok {
		t.Error("still pending after another host answered")
	}
}

// TestResponseQueueKnownAnswers: known answers that follow a truncated query
// drop a pending record only if their sender alone asked for it (RFC 6762
// §7.2); a second querier that asked for it still gets it.
func TestResponseQueueKnownAnswers(t *testing.T) {
	q := newResponseQueue()
	r := route{ifIndex: 2}
	t0 := time.Unix(1000, 0)
	a, b := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.8")
	ptr := func() dnsmessage.Resource {
		rrs, err := testZone().sharedRecords(otherTTL)
		if err != nil {
			t.Fatal(err)
		}
		return rrs[0]
	}()
	q.add(r, ptr, a, t0, truncatedDelayMin, multicastLimit)
	q.cancelKnown(r, ptr, b)
	if _, ok := q.next(); !ok {
		t.Fatal("another querier's known answer dropped the record")
	}
	q.cancelKnown(r, ptr, a)
	if _, ok := q.next(); ok {
		t.Fatal("the asker's own known answer did not drop the record")
	}
	q.add(r, ptr, a, t0, truncatedDelayMin, multicastLimit)
	q.add(r, ptr, b, t0, sharedDelayMin, multicastLimit)
	q.cancelKnown(r, ptr, a)
	if at, ok := q.next(); !ok || !at.Equal(t0.Add(sharedDelayMin)) {
		t.Fatalf("asked for by two: next %v %v, want still pending at the earlier time", at, ok)
	}
}
