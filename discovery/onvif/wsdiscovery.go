package onvif

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/camerad/camerad/discovery"
)

const (
	// maxAnswerDelay bounds the random wait before answering a multicast probe (WS-Discovery
	// §3.1.3: up to APP_MAX_DELAY, 500 ms), which keeps many cameras from answering at once.
	// We draw from the lower half: libonvif (onvif-util) stops listening 500 ms after its
	// probe, so a 490 ms wait would make the camera invisible to it.
	maxAnswerDelay = 250 * time.Millisecond
	// maxPending bounds the answers waiting for their delay; beyond it probes are dropped.
	maxPending = 64
	// packetQueue bounds the datagrams read but not yet handled (8 KB each at most).
	packetQueue = 32
	// recentKept bounds the remembered message IDs: probes already answered (clients send
	// a multicast probe more than once, SOAP-over-UDP §3.2) and our own messages.
	recentKept = 256
	recentFor  = 5 * time.Second
	// linkSettle lets a burst of netlink events (DHCP sets an address, then routes) settle
	// into one rescan; retryDelay paces retries when the socket or netlink is unavailable.
	linkSettle = time.Second
	retryDelay = 5 * time.Second
)

// DiscoveryConfig is what the WS-Discovery responder announces.
type DiscoveryConfig struct {
	Device Device
	// HTTPPort is where the device service listens; XAddrs are
	// http://<address>:HTTPPort + DevicePath.
	HTTPPort int
	// Interfaces limits the responder to these interfaces; empty means every up,
	// multicast-capable, non-loopback interface.
	Interfaces []string
	// Logger receives the responder's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Responder makes the camera findable by ONVIF clients with WS-Discovery. Create it with
// NewResponder; Run it once.
type Responder struct {
	cfg    DiscoveryConfig
	log    *slog.Logger
	epr    string
	scopes []string
}

// NewResponder validates cfg. It opens nothing: sockets belong to Run.
func NewResponder(cfg DiscoveryConfig) (*Responder, error) {
	if cfg.Device.Name == "" && cfg.Device.SerialNumber == "" {
		// The endpoint reference is made from one of them; without both, every such
		// camera would have the same, and NVRs would take them for one.
		return nil, errors.New("Device: needs a Name or a SerialNumber")
	}
	if cfg.HTTPPort < 1 || cfg.HTTPPort > 65535 {
		return nil, fmt.Errorf("HTTPPort: %d is not a TCP port", cfg.HTTPPort)
	}
	for i, name := range cfg.Interfaces {
		if strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("Interfaces[%d]: empty interface name", i)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Responder{cfg: cfg, log: log, epr: cfg.Device.EndpointReference(), scopes: cfg.Device.Scopes()}, nil
}

// datagram is one read from the socket.
type datagram struct {
	data    []byte
	src     netip.AddrPort
	ifIndex int
	dst     netip.Addr
}

// pendingAnswer waits for its random delay.
type pendingAnswer struct {
	due     time.Time
	req     *wsdRequest
	to      netip.AddrPort
	ifIndex int
}

// recentID is a message ID seen or sent lately.
type recentID struct {
	key string
	at  time.Time
}

// wsdRun is the state of one Run; it lives on Run's goroutine only.
type wsdRun struct {
	r          *Responder
	sock       *wsdSocket
	links      []discovery.Link
	instanceID int64
	msgNumber  uint64
	budget     *discovery.AnswerBudget
	pending    []pendingAnswer
	timer      *time.Timer
	recent     []recentID // a ring of recentKept
	recentNext int
	// started is set once Run has logged where it serves; addresses that come later are
	// logged as they come (a camera usually starts before its DHCP lease).
	started bool
}

// Run sends Hello on every interface, answers probes and resolves until ctx ends, then
// sends Bye and returns nil. Network trouble is logged and retried, not returned: a camera
// must become findable once the network is there.
func (r *Responder) Run(ctx context.Context) error {
	st := &wsdRun{
		r: r,
		// AppSequence's InstanceId must grow with every restart (WS-Discovery §7): the
		// start time in seconds does, without keeping state on the SD card.
		instanceID: time.Now().Unix(),
		budget:     discovery.NewAnswerBudget(),
		timer:      time.NewTimer(time.Hour),
		recent:     make([]recentID, recentKept),
	}
	defer st.timer.Stop()
	for {
		sock, err := listenWSD(ctx)
		if err == nil {
			st.sock = sock
			break
		}
		r.log.Warn("ONVIF discovery cannot open its socket; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retryDelay):
		}
	}

	packets := make(chan datagram, packetQueue)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		st.read(packets)
	}()
	defer func() {
		st.sock.close()
		wg.Wait()
	}()

	var watchC <-chan struct{}
	if w, err := discovery.WatchLinks(); err != nil {
		r.log.Warn("ONVIF discovery cannot follow interface changes; rescanning periodically", "err", err)
	} else {
		defer w.Close()
		watchC = w.C()
	}
	rescan := time.NewTicker(retryDelay)
	defer rescan.Stop()
	if watchC != nil {
		rescan.Stop()
	}
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()

	st.update()
	r.log.Info("ONVIF discovery on "+st.describe(), "endpoint", r.epr, "port", r.cfg.HTTPPort)
	st.started = true

	for {
		select {
		case <-ctx.Done():
			st.bye()
			return nil
		case d := <-packets:
			st.handle(d, time.Now())
		case <-st.timer.C:
			st.sendDue(time.Now())
		case <-watchC:
			settle.Reset(linkSettle)
		case <-settle.C:
			st.update()
		case <-rescan.C:
			st.update()
		}
	}
}

// read hands datagrams to Run's goroutine until the socket is closed. A full queue drops:
// a flood must not grow memory.
func (st *wsdRun) read(out chan<- datagram) {
	buf := make([]byte, maxDatagram+1)
	for {
		n, cm, src, err := st.sock.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP errors from earlier sends (port unreachable) surface here; go on.
			continue
		}
		if n > maxDatagram || cm == nil {
			continue
		}
		ua, ok := src.(*net.UDPAddr)
		if !ok {
			continue
		}
		d := datagram{data: slices.Clone(buf[:n]), src: ua.AddrPort(), ifIndex: cm.IfIndex}
		d.src = netip.AddrPortFrom(d.src.Addr().Unmap(), d.src.Port())
		d.dst, _ = netip.AddrFromSlice(cm.Dst)
		d.dst = d.dst.Unmap()
		select {
		case out <- d:
		default:
		}
	}
}

// update rescans the interfaces, joins the group on new ones and says Hello on every
// interface with an address it did not have: an NVR that is already running learns of a
// camera that got its DHCP lease after start, or moved to another address.
func (st *wsdRun) update() {
	links, err := discovery.Links(st.r.cfg.Interfaces)
	if err != nil {
		st.r.log.Warn("ONVIF discovery: list interfaces", "err", err)
		return
	}
	old := st.links
	st.links = links
	for _, l := range links {
		if len(v4Addrs(l)) == 0 {
			continue
		}
		if err := st.sock.join(l); err != nil {
			st.r.log.Warn("ONVIF discovery: join multicast group", "interface", l.Name, "err", err)
			continue
		}
		i := slices.IndexFunc(old, func(o discovery.Link) bool { return o.Index == l.Index })
		if i >= 0 && !hasNewV4(old[i], l) {
			continue
		}
		// Logged before the Hello goes out, so anyone who has seen the Hello finds the line.
		if st.started {
			st.r.log.Info("ONVIF discovery on "+describeLink(l), "endpoint", st.r.epr)
		}
		st.multicast(l, wsdActionHello)
	}
}

// bye tells every interface that the camera is going (an NVR then shows it offline at once
// instead of after its next failed poll).
func (st *wsdRun) bye() {
	for _, l := range st.links {
		if len(v4Addrs(l)) > 0 {
			st.multicast(l, wsdActionBye)
		}
	}
}

func (st *wsdRun) multicast(l discovery.Link, action string) {
	src := v4Addrs(l)[0]
	b := st.build(wsdMessage{soapNS: nsSOAP12, action: action, xaddrs: st.xaddrs(l, src)})
	if err := st.sock.send(b, l.Index, src, wsdGroup); err != nil {
		st.r.log.Warn("ONVIF discovery: send "+action[len(nsDiscovery)+1:], "interface", l.Name, "err", err)
	}
}

// build fills in what every message has, and remembers its ID as ours.
func (st *wsdRun) build(m wsdMessage) []byte {
	m.messageID = newMessageID()
	st.msgNumber++
	m.messageNumber = st.msgNumber
	m.instanceID = st.instanceID
	m.epr = st.r.epr
	m.scopes = st.r.scopes
	st.remember("own " + m.messageID)
	return buildWSD(m)
}

// handle decides whether a datagram gets an answer. Nothing in it can make the camera send
// more than the budget allows, or hold more than maxPending answers.
func (st *wsdRun) handle(d datagram, now time.Time) {
	log := st.r.log
	i := slices.IndexFunc(st.links, func(l discovery.Link) bool { return l.Index == d.ifIndex })
	if i < 0 {
		return // an interface we do not serve
	}
	l := st.links[i]
	// WS-Discovery's multicast is link-scoped (TTL 1), and answers go straight back to the
	// source address. A source that is not on the receiving link came through a router or
	// is forged: answering it would let hosts off the LAN (or anyone naming a victim as
	// the source) use the camera to send them traffic.
	if !l.OnLink(d.src.Addr()) {
		log.Debug("ONVIF discovery: ignored a datagram from off the link", "from", d.src, "interface", l.Name)
		return
	}
	req, err := parseWSD(d.data)
	if err != nil {
		if !errors.Is(err, errNotDiscovery) {
			log.Debug("ONVIF discovery: ignored a datagram", "from", d.src, "err", err)
		}
		return
	}
	if st.seen("own "+req.messageID, now) {
		return // our own message, back through multicast loopback or a reflector
	}
	switch req.kind {
	case wsdProbe:
		if !matchesTypes(req.types) || !matchesScopes(req.scopes, req.matchBy, st.r.scopes) {
			return
		}
	case wsdResolve:
		if req.epr != st.r.epr {
			return
		}
	}
	key := "req " + d.src.String() + " " + req.messageID
	if st.seen(key, now) {
		return // a repeat of a request already answered
	}
	if !st.budget.Allow(d.src.Addr(), now) {
		log.Debug("ONVIF discovery: over the answer budget", "from", d.src)
		return
	}
	st.remember(key)
	if !d.dst.IsMulticast() {
		// A directed request: the sender asked us alone, no one to collide with.
		st.answer(pendingAnswer{req: req, to: d.src, ifIndex: d.ifIndex})
		return
	}
	if len(st.pending) >= maxPending {
		log.Debug("ONVIF discovery: too many answers waiting", "from", d.src)
		return
	}
	delay := time.Duration(rand.Int64N(int64(maxAnswerDelay)))
	st.pending = append(st.pending, pendingAnswer{due: now.Add(delay), req: req, to: d.src, ifIndex: d.ifIndex})
	st.armTimer(now)
}

// armTimer sets the one timer to the earliest pending answer: no goroutine per probe.
func (st *wsdRun) armTimer(now time.Time) {
	if len(st.pending) == 0 {
		return
	}
	next := st.pending[0].due
	for _, p := range st.pending[1:] {
		if p.due.Before(next) {
			next = p.due
		}
	}
	st.timer.Stop()
	st.timer.Reset(max(next.Sub(now), 0))
}

func (st *wsdRun) sendDue(now time.Time) {
	keep := st.pending[:0]
	for _, p := range st.pending {
		if p.due.After(now) {
			keep = append(keep, p)
			continue
		}
		st.answer(p)
	}
	clear(st.pending[len(keep):])
	st.pending = keep
	st.armTimer(now)
}

// answer sends ProbeMatches or ResolveMatches in the request's SOAP version, from and
// naming our address on the interface the request came in on.
func (st *wsdRun) answer(p pendingAnswer) {
	i := slices.IndexFunc(st.links, func(l discovery.Link) bool { return l.Index == p.ifIndex })
	if i < 0 {
		return // the interface went away while the answer waited
	}
	l := st.links[i]
	src, ok := localFor(l, p.to.Addr())
	if !ok {
		return
	}
	action := wsdActionProbeMatches
	if p.req.kind == wsdResolve {
		action = wsdActionResolveMatches
	}
	b := st.build(wsdMessage{soapNS: p.req.soapNS, action: action, relatesTo: p.req.messageID, xaddrs: st.xaddrs(l, src)})
	if err := st.sock.send(b, l.Index, src, net.UDPAddrFromAddrPort(p.to)); err != nil {
		st.r.log.Warn("ONVIF discovery: answer", "to", p.to, "err", err)
		return
	}
	st.r.log.Debug("ONVIF discovery: answered", "action", action[len(nsDiscovery)+1:], "to", p.to, "interface", l.Name, "xaddr", src)
}

// xaddrs are the device service's URLs on one interface, first at src: clients take the
// first (libonvif, Home Assistant), and src is the one the asking host can reach.
func (st *wsdRun) xaddrs(l discovery.Link, src netip.Addr) []string {
	addrs := v4Addrs(l)
	slices.SortStableFunc(addrs, func(a, b netip.Addr) int {
		switch {
		case a == src:
			return -1
		case b == src:
			return 1
		}
		return 0
	})
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = "http://" + net.JoinHostPort(a.String(), strconv.Itoa(st.r.cfg.HTTPPort)) + DevicePath
	}
	return out
}

// localFor is our IPv4 address on l for talking to peer: one in the peer's subnet if there
// is one (a camera with a DHCP address and a link-local one), else l's first.
func localFor(l discovery.Link, peer netip.Addr) (netip.Addr, bool) {
	for _, p := range l.Subnets {
		if p.Addr().Is4() && p.Contains(peer) {
			for _, a := range l.Addrs {
				if p.Contains(a) {
					return a, true
				}
			}
		}
	}
	if v4 := v4Addrs(l); len(v4) > 0 {
		return v4[0], true
	}
	return netip.Addr{}, false
}

func v4Addrs(l discovery.Link) []netip.Addr {
	var out []netip.Addr
	for _, a := range l.Addrs {
		if a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

// hasNewV4 reports whether now has an IPv4 address old had not.
func hasNewV4(old, now discovery.Link) bool {
	for _, a := range v4Addrs(now) {
		if !slices.Contains(old.Addrs, a) {
			return true
		}
	}
	return false
}

// remember adds key to the ring of recent IDs, overwriting the oldest.
func (st *wsdRun) remember(key string) {
	st.recent[st.recentNext] = recentID{key: key, at: time.Now()}
	st.recentNext = (st.recentNext + 1) % len(st.recent)
}

func (st *wsdRun) seen(key string, now time.Time) bool {
	for _, r := range st.recent {
		if r.key == key && now.Sub(r.at) < recentFor {
			return true
		}
	}
	return false
}

func (st *wsdRun) describe() string {
	var names []string
	for _, l := range st.links {
		if d := describeLink(l); d != "" {
			names = append(names, d)
		}
	}
	if len(names) == 0 {
		return "no interface yet (waiting for an address)"
	}
	return strings.Join(names, ", ")
}

// describeLink is "eth0 192.168.1.23" (each IPv4 address, comma-separated); "" without one.
func describeLink(l discovery.Link) string {
	var names []string
	for _, a := range v4Addrs(l) {
		names = append(names, l.Name+" "+a.String())
	}
	return strings.Join(names, ", ")
}
