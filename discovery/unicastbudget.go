package discovery

import (
	"net/netip"
	"time"

	"golang.org/x/time/rate"
)

// The answers sent straight back to a querier (legacy resolvers, QU questions) are not
// covered by the multicast rate limit, and a flood of queries would otherwise be answered
// in full. Each querying host gets a budget of its own, so that one host's flood does not
// use up another's answers, and all of them together a larger one, for a flood from forged
// sources. Real queriers ask a few times a minute.
const (
	unicastHostRate  = 10
	unicastHostBurst = 20
	unicastAllRate   = 50
	unicastAllBurst  = 100
	// unicastHostsKept bounds the per-host buckets: they are forgotten every minute, or
	// sooner when this many hosts have asked (a flood from forged sources).
	unicastHostsKept = 256
)

// unicastBudget decides whether a unicast answer may go. It belongs to the responder's run
// loop and is not safe for concurrent use; times are passed in, so tests need no sleeping.
type unicastBudget struct {
	all     *rate.Limiter
	perHost map[netip.Addr]*rate.Limiter
	since   time.Time // when perHost was last cleared
}

func newUnicastBudget() *unicastBudget {
	return &unicastBudget{
		all:     rate.NewLimiter(unicastAllRate, unicastAllBurst),
		perHost: map[netip.Addr]*rate.Limiter{},
	}
}

// allow reports whether a unicast answer to host may go at now, and if so spends it.
func (b *unicastBudget) allow(host netip.Addr, now time.Time) bool {
	if now.Sub(b.since) > time.Minute || len(b.perHost) >= unicastHostsKept {
		clear(b.perHost)
		b.since = now
	}
	l := b.perHost[host]
	if l == nil {
		l = rate.NewLimiter(unicastHostRate, unicastHostBurst)
		b.perHost[host] = l
	}
	return l.AllowN(now, 1) && b.all.AllowN(now, 1)
}
