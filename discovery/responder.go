// Package discovery makes a camera findable on its LAN with multicast DNS:
// "<hostname>.local" (A/AAAA) and a DNS-SD "_rtsp._tcp" service whose SRV
// points at the RTSP port and whose TXT carries path=/stream and friends.
//
// It speaks RFC 6762 itself, with golang.org/x/net/dns/dnsmessage on sockets
// sharing port 5353 (wire.go): probing, announcing, answering, goodbyes,
// defending its names and following address changes. pion/mdns/v2 answered
// the questions at first, but it cannot limit how often it answers (§6): any
// host on the LAN could make the camera flood the segment, a few thousand
// answers in five seconds. Its answers also lacked the cache-flush bit and
// carried other TTLs than our announcements. It remains in the tests, as an
// independent querier.
package discovery

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// RFC 6762 timings: §8.1 probing (random start up to 250 ms, three probes
// 250 ms apart, a 250 ms wait; after too many conflicts, five seconds between
// attempts), §8.2 (one second after losing a tie-break), §8.3 announcing.
const (
	probeJitter     = 250 * time.Millisecond
	probeInterval   = 250 * time.Millisecond
	probeCount      = 3
	tiebreakDelay   = time.Second
	conflictWindow  = 10 * time.Second
	conflictLimit   = 15
	conflictBackoff = 5 * time.Second
	announceGap     = time.Second
	announceCount   = 2
	// linkSettle lets a burst of netlink events (DHCP sets an address, then
	// routes; IPv6 finishes DAD) settle into one rescan.
	linkSettle = time.Second
	// retryDelay is how long to wait before trying again after a socket
	// could not be opened, and the rescan period if netlink is unavailable.
	retryDelay = 5 * time.Second
)

// Responder publishes the camera on mDNS. Create it with New; Run it once.
type Responder struct {
	cfg Config
	txt []string
}

// New validates cfg. It opens nothing: sockets belong to Run.
func New(cfg Config) (*Responder, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return &Responder{cfg: cfg, txt: txtStrings(cfg.TXT)}, nil
}

type phase int

const (
	phaseIdle       phase = iota // no usable link or sockets; waiting
	phaseProbing                 // claiming names; not answering yet
	phaseAnnouncing              // names ours; sending the announcements
	phaseRunning                 // answering and defending
)

// run is the state of one Run call; it lives on Run's goroutine only, so it
// needs no locking. The wire's readers hand packets over on a channel.
type run struct {
	r   *Responder
	ctx context.Context
	log *slog.Logger

	base         names
	hostN, instN int // rename counters: 1 is the configured name

	links snapshot
	w     *wire

	phase      phase
	sent       int // probes or announcements sent in this phase
	timer      *time.Timer
	conflictAt []time.Time

	// answers holds multicast answers until they may go; respond fires when
	// the next is due. unicast limits the answers sent straight back.
	answers *responseQueue
	respond *time.Timer
	unicast *unicastBudget

	// announced is what other hosts' caches hold from us, so that a rename
	// or shutdown can withdraw exactly that.
	announced *announced
}

type announced struct {
	names names
	links snapshot
}

// Run claims the names, answers queries, announces at start and whenever the
// interfaces' addresses change, and sends goodbyes when ctx ends. It returns
// nil after the goodbye is sent; it keeps retrying (and logging) on network
// errors rather than failing, since a camera must stay findable once the
// network comes back.
func (r *Responder) Run(ctx context.Context) error {
	st := &run{
		r:     r,
		ctx:   ctx,
		log:   r.cfg.Logger,
		base:  names{host: r.cfg.Hostname, instance: r.cfg.Instance},
		hostN: 1,
		instN: 1,
		timer: time.NewTimer(time.Hour),

		answers: newResponseQueue(),
		respond: time.NewTimer(time.Hour),
		unicast: newUnicastBudget(),
	}
	st.timer.Stop()
	defer st.timer.Stop()
	st.respond.Stop()
	defer st.respond.Stop()

	var changes <-chan struct{}
	var poll <-chan time.Time
	if watch, err := watchLinks(); err != nil {
		st.log.Warn("mdns: no netlink notifications, polling interfaces instead", "err", err)
		t := time.NewTicker(retryDelay)
		defer t.Stop()
		poll = t.C
	} else {
		defer watch.close()
		changes = watch.C
	}
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()

	st.relink()
	for {
		var in chan packet
		if st.w != nil {
			in = st.w.in
		}
		select {
		case <-ctx.Done():
			st.shutdown()
			return nil
		case <-changes:
			settle.Reset(linkSettle)
		case <-settle.C:
			st.relink()
		case <-poll:
			st.relink()
		case p := <-in:
			st.handle(p)
		case <-st.timer.C:
			st.tick()
		case <-st.respond.C:
			st.sendAnswers()
		}
	}
}

func (st *run) names() names {
	return names{host: altHost(st.base.host, st.hostN), instance: altInstance(st.base.instance, st.instN)}
}

func (st *run) zone(l link, n names) zone {
	return zone{names: n, port: uint16(st.r.cfg.Port), txt: st.r.txt, addrs: l.addrs}
}

func (st *run) after(d time.Duration) { st.timer.Reset(d) }

// relink rescans the interfaces and, if anything changed, reopens the
// sockets on the new set: probing again if an interface is new, only
// announcing again if just addresses moved (RFC 6762 §8.4, §13).
func (st *run) relink() {
	snap, err := scanLinks(st.r.cfg.Interfaces)
	if err != nil {
		st.log.Warn("mdns: scan interfaces", "err", err)
		st.phase = phaseIdle
		st.after(retryDelay)
		return
	}
	if st.w != nil && snap.equal(st.links) {
		return
	}
	sameIfaces := st.w != nil && sameInterfaces(snap, st.links)
	wasClaimed := st.phase == phaseAnnouncing || st.phase == phaseRunning
	st.withdrawRemovedAddrs(snap)
	st.closeNet()
	st.links = snap
	st.timer.Stop()
	st.forgetAnswers()
	if len(snap) == 0 {
		st.log.Info("mdns: no usable interface; waiting for one")
		st.phase = phaseIdle
		return
	}
	w, err := openWire(st.ctx, snap, st.log)
	if err != nil {
		st.log.Warn("mdns: open sockets", "err", err)
		st.phase = phaseIdle
		st.after(retryDelay)
		return
	}
	st.w = w
	st.log.Info("mdns: links", "links", describe(snap))
	if sameIfaces && wasClaimed {
		st.claimed()
		return
	}
	st.startProbing(rand.N(probeJitter))
}

func sameInterfaces(a, b snapshot) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ifc.Index != b[i].ifc.Index {
			return false
		}
	}
	return true
}

func describe(s snapshot) map[string][]string {
	out := make(map[string][]string, len(s))
	for _, l := range s {
		for _, a := range l.addrs {
			out[l.ifc.Name] = append(out[l.ifc.Name], a.String())
		}
	}
	return out
}

// withdrawRemovedAddrs sends goodbyes for addresses we announced that a link
// no longer has. They go out over every address family the link still has
// and the removed addresses had: over a family with no address left, the
// kernel sends from 0.0.0.0, which receivers that check the source (RFC 6762
// §11) drop, but caches on that family alone may still take it. A link that
// is gone makes the send fail, which is only logged.
func (st *run) withdrawRemovedAddrs(next snapshot) {
	if st.announced == nil || st.w == nil {
		return
	}
	for _, old := range st.announced.links {
		var gone []netip.Addr
		cur, _ := next.byIndex(old.ifc.Index)
		for _, a := range old.addrs {
			if !slices.Contains(cur.addrs, a) {
				gone = append(gone, a)
			}
		}
		if len(gone) == 0 {
			continue
		}
		z := zone{names: st.announced.names, addrs: gone}
		msg, err := addressGoodbye(z)
		if err == nil {
			via := old
			via.addrs = append(slices.Clone(cur.addrs), gone...)
			err = st.w.send(via, msg)
		}
		if err != nil {
			st.log.Debug("mdns: withdraw old addresses", "iface", old.ifc.Name, "err", err)
		} else {
			st.log.Info("mdns: withdrew addresses", "iface", old.ifc.Name, "addrs", gone)
		}
	}
}

func (st *run) startProbing(delay time.Duration) {
	st.forgetAnswers()
	st.phase = phaseProbing
	st.sent = 0
	st.after(delay)
}

// tick advances the probing/announcing schedule.
func (st *run) tick() {
	switch st.phase {
	case phaseIdle:
		st.relink()
	case phaseProbing:
		if st.sent == probeCount {
			st.claimed()
			return
		}
		n := st.names()
		for _, l := range st.links {
			msg, err := probeMessage(st.zone(l, n))
			if err == nil {
				err = st.w.send(l, msg)
			}
			if err != nil {
				st.log.Warn("mdns: send probe", "iface", l.ifc.Name, "err", err)
			}
		}
		st.sent++
		st.after(probeInterval)
	case phaseAnnouncing:
		st.announce()
		st.sent++
		if st.sent < announceCount {
			st.after(announceGap << (st.sent - 1))
			return
		}
		st.phase = phaseRunning
	case phaseRunning:
	}
}

// claimed starts answering for names nobody contested and announces them.
func (st *run) claimed() {
	st.phase = phaseAnnouncing
	st.sent = 0
	st.tick()
}

func (st *run) announce() {
	n := st.names()
	ok := false
	now := time.Now()
	for _, l := range st.links {
		msg, err := announcement(st.zone(l, n), false)
		if err == nil {
			err = st.w.send(l, msg)
		}
		if err != nil {
			st.log.Warn("mdns: send announcement", "iface", l.ifc.Name, "err", err)
			continue
		}
		for _, r := range routes(l) {
			st.answers.sent(r, msg.Answers, now)
		}
		ok = true
	}
	if ok {
		st.announced = &announced{names: n, links: st.links}
		if st.sent == 0 {
			st.log.Info("mdns: announced", "host", n.hostFQDN(), "instance", n.instance,
				"port", st.r.cfg.Port, "links", describe(st.links))
		}
	}
}

// handle reacts to one packet seen on the group.
func (st *run) handle(p packet) {
	l, ok := st.links.byIndex(p.ifIndex)
	if !ok || st.phase == phaseIdle {
		return
	}
	if !p.linkLocal && !l.onLink(p.src.Addr()) {
		st.log.Debug("mdns: ignore packet from off the link", "from", p.src, "iface", l.ifc.Name)
		return
	}
	if h := p.msg.Header; h.OpCode != 0 || h.RCode != dnsmessage.RCodeSuccess {
		return // RFC 6762 §18.3, §18.11: not an mDNS message
	}
	n := st.names()
	z := st.zone(l, n)
	if p.msg.Header.Response {
		if p.src.Port() != mdnsPort {
			return // §6: a response not from port 5353 is no mDNS response (and may be forged)
		}
		st.duplicateAnswers(p)
		host, inst := conflicts(&p.msg, z, st.links.allAddrs(), st.phase == phaseProbing)
		if !host && !inst {
			return
		}
		if st.phase == phaseProbing {
			st.rename(host, inst, p.src)
			return
		}
		// §9: someone else now claims a name we hold. Probe again: if they
		// defend it, the probe sees their answer and we rename.
		st.log.Warn("mdns: another host answers for our name; probing again",
			"from", p.src, "host", host, "instance", inst)
		st.startProbing(rand.N(probeJitter))
		return
	}
	switch st.phase {
	case phaseProbing:
		if st.ownProbe(&p.msg, n) {
			return
		}
		if lostTiebreak(&p.msg, z) {
			st.log.Info("mdns: lost simultaneous probe tie-break; probing again in a second", "from", p.src)
			st.startProbing(tiebreakDelay)
		}
	case phaseAnnouncing, phaseRunning:
		if len(p.msg.Questions) == 0 {
			st.moreKnownAnswers(p)
			return
		}
		st.answer(p, z)
	}
}

// ownProbe reports whether q is a probe we sent on one of our links.
func (st *run) ownProbe(q *dnsmessage.Message, n names) bool {
	for _, l := range st.links {
		if sameClaims(q, st.zone(l, n)) {
			return true
		}
	}
	return false
}

// rename picks the next free-looking name for whatever conflicted and probes
// again, withdrawing what we announced under the old name first.
func (st *run) rename(host, inst bool, from netip.AddrPort) {
	old := st.names()
	if host {
		st.hostN++
	}
	if inst {
		st.instN++
	}
	n := st.names()
	st.log.Warn("mdns: name in use by another host; renaming", "from", from,
		"old_host", old.host, "host", n.host, "old_instance", old.instance, "instance", n.instance)
	st.sendGoodbye()

	now := time.Now()
	st.conflictAt = slices.DeleteFunc(st.conflictAt, func(t time.Time) bool { return now.Sub(t) > conflictWindow })
	st.conflictAt = append(st.conflictAt, now)
	delay := rand.N(probeJitter)
	if len(st.conflictAt) > conflictLimit {
		delay = conflictBackoff
	}
	st.startProbing(delay)
}

// sendGoodbye withdraws everything we announced (RFC 6762 §10.1).
func (st *run) sendGoodbye() {
	if st.announced == nil || st.w == nil {
		return
	}
	for _, l := range st.announced.links {
		msg, err := announcement(st.zone(l, st.announced.names), true)
		if err == nil {
			err = st.w.send(l, msg)
		}
		if err != nil {
			st.log.Warn("mdns: send goodbye", "iface", l.ifc.Name, "err", err)
		}
	}
	st.log.Info("mdns: goodbye sent", "host", st.announced.names.hostFQDN(), "instance", st.announced.names.instance)
	st.announced = nil
}

func (st *run) closeNet() {
	if st.w != nil {
		st.w.close()
		st.w = nil
	}
}

// shutdown drops pending answers first, so no answer follows the goodbye,
// then says goodbye and closes the sockets.
func (st *run) shutdown() {
	st.forgetAnswers()
	st.sendGoodbye()
	st.closeNet()
}
