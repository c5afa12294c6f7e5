package board

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

// WiFi is the Wi-Fi part of camera.yml.
type WiFi struct {
	SSID, PSK, Country string
}

// NetConfig is what PID 1 needs to bring the network up.
type NetConfig struct {
	Hostname string // sent in DHCP requests so routers list the camera by name
	WiFi     WiFi
}

// Lease is an address obtained by DHCP.
type Lease struct {
	Interface string
	Addr      net.IPNet
	Router    net.IP
	DNS, NTP  []net.IP
	Duration  time.Duration
}

// Network brings up every Ethernet interface (and the Wi-Fi one when an SSID is configured)
// with DHCP, including USB adapters that appear later, and keeps the leases renewed.
type Network struct {
	Log    *slog.Logger
	Config NetConfig
	// WiFiWait is how long the wireless interface of a configured Wi-Fi may take to appear
	// (driver, firmware) before a warning says it has not (default 30 s).
	WiFiWait time.Duration
	// WiFiHint, if set, says in that warning what is likely missing (WiFiFirmwareHint).
	WiFiHint func() string

	mu      sync.Mutex
	started map[string]bool
	leases  chan Lease
}

// Leases delivers each lease as it is obtained or renewed (buffered; may drop if unread).
func (n *Network) Leases() <-chan Lease {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.leases == nil {
		n.leases = make(chan Lease, 16)
	}
	return n.leases
}

// Run watches for interfaces until ctx ends.
func (n *Network) Run(ctx context.Context) {
	n.Leases()
	n.mu.Lock()
	n.started = map[string]bool{}
	n.mu.Unlock()
	if lo, err := netlink.LinkByName("lo"); err == nil {
		if err := netlink.LinkSetUp(lo); err != nil {
			n.Log.Warn("loopback up", "err", err)
		}
	}
	watch := wifiWatch{ssid: n.Config.WiFi.SSID, wait: n.WiFiWait, hint: n.WiFiHint}
	start := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		wireless := n.scan(ctx)
		watch.check(n.Log, time.Since(start), wireless)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scan starts managing interfaces not seen before; it reports whether there is a wireless one.
func (n *Network) scan(ctx context.Context) (anyWireless bool) {
	links, err := netlink.LinkList()
	if err != nil {
		n.Log.Warn("list interfaces", "err", err)
		return false
	}
	for _, l := range links {
		name := l.Attrs().Name
		if name == "lo" || l.Type() != "device" {
			continue
		}
		wireless := isWireless(name)
		anyWireless = anyWireless || wireless
		if wireless && n.Config.WiFi.SSID == "" {
			continue
		}
		n.mu.Lock()
		seen := n.started[name]
		n.started[name] = true
		n.mu.Unlock()
		if seen {
			continue
		}
		n.Log.Info("network interface found", "if", name, "wireless", wireless, "mac", l.Attrs().HardwareAddr.String())
		go n.manage(ctx, name, wireless)
	}
	return anyWireless
}

// wifiWatch warns once when Wi-Fi is configured but no wireless interface has appeared
// within wait: without it, a camera whose radio never started would say nothing at all.
type wifiWatch struct {
	ssid string
	wait time.Duration // default 30 s
	hint func() string
	done bool // warned, or an interface appeared
}

func (w *wifiWatch) check(log *slog.Logger, elapsed time.Duration, wireless bool) {
	wait := w.wait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	if wireless {
		w.done = true
	}
	if w.ssid == "" || w.done || elapsed < wait {
		return
	}
	w.done = true
	hint := "the Wi-Fi driver or its firmware did not load"
	if w.hint != nil {
		hint = w.hint()
	}
	log.Warn("wifi: no wireless interface: the camera cannot join the Wi-Fi network", "ssid", w.ssid,
		"after", wait, "cause", hint)
}

func isWireless(ifname string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", ifname, "wireless"))
	return err == nil
}

// manage keeps one interface configured: up, (Wi-Fi: associated), leased, renewed.
func (n *Network) manage(ctx context.Context, ifname string, wireless bool) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		n.Log.Error("interface vanished", "if", ifname, "err", err)
		return
	}
	if err := netlink.LinkSetUp(link); err != nil {
		n.Log.Error("interface up", "if", ifname, "err", err)
		return
	}
	var wifi *wifiLink
	if wireless {
		wifi = &wifiLink{log: n.Log, ifname: ifname, cfg: n.Config.WiFi}
		defer wifi.close()
	}
	failures := 0
	for ctx.Err() == nil {
		if wifi != nil {
			if err := wifi.ensureConnected(ctx); err != nil {
				n.Log.Warn("wifi not connected", "if", ifname, "ssid", n.Config.WiFi.SSID, "err", err)
				failures++
				sleepCtx(ctx, Backoff(failures, 2*time.Second, time.Minute))
				continue
			}
		}
		lease, err := n.dhcp(ctx, ifname)
		if err != nil {
			failures++
			if failures == 1 || failures%10 == 0 {
				n.Log.Warn("dhcp failed", "if", ifname, "attempt", failures, "err", err)
			}
			sleepCtx(ctx, Backoff(failures, time.Second, 30*time.Second))
			continue
		}
		failures = 0
		if err := apply(link, lease); err != nil {
			n.Log.Error("configure address", "if", ifname, "err", err)
			sleepCtx(ctx, 5*time.Second)
			continue
		}
		n.Log.Info("network up", "if", ifname, "addr", lease.Addr.String(), "router", lease.Router, "dns", lease.DNS, "lease", lease.Duration)
		select {
		case n.leases <- lease:
		default:
		}
		// Renew at half the lease (RFC 2131's T1) with a fresh exchange.
		sleepCtx(ctx, lease.Duration/2)
	}
}

func (n *Network) dhcp(ctx context.Context, ifname string) (Lease, error) {
	c, err := nclient4.New(ifname, nclient4.WithTimeout(4*time.Second), nclient4.WithRetry(2))
	if err != nil {
		return Lease{}, fmt.Errorf("dhcp client on %s: %w", ifname, err)
	}
	defer c.Close()
	var mods []dhcpv4.Modifier
	if n.Config.Hostname != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(n.Config.Hostname)))
	}
	mods = append(mods, dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	l, err := c.Request(rctx, mods...)
	if err != nil {
		return Lease{}, fmt.Errorf("dhcp on %s: %w", ifname, err)
	}
	return leaseFrom(ifname, l.ACK), nil
}

// leaseFrom turns a DHCPACK into the settings to apply.
func leaseFrom(ifname string, ack *dhcpv4.DHCPv4) Lease {
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ack.YourIPAddr.DefaultMask()
	}
	l := Lease{
		Interface: ifname,
		Addr:      net.IPNet{IP: ack.YourIPAddr, Mask: mask},
		DNS:       ack.DNS(),
		NTP:       ack.NTPServers(),
		Duration:  ack.IPAddressLeaseTime(time.Hour),
	}
	if r := ack.Router(); len(r) > 0 {
		l.Router = r[0]
	}
	if l.Duration < time.Minute {
		l.Duration = time.Minute
	}
	return l
}

func apply(link netlink.Link, l Lease) error {
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: l.Addr.IP, Mask: l.Addr.Mask}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("address %s: %w", l.Addr.String(), err)
	}
	if l.Router != nil {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: l.Router, Dst: nil}
		if err := netlink.RouteReplace(route); err != nil {
			return fmt.Errorf("default route via %s: %w", l.Router, err)
		}
	}
	if len(l.DNS) > 0 {
		var b strings.Builder
		for _, d := range l.DNS {
			fmt.Fprintf(&b, "nameserver %s\n", d)
		}
		if err := os.MkdirAll("/etc", 0o755); err == nil {
			if err := os.WriteFile("/etc/resolv.conf", []byte(b.String()), 0o644); err != nil {
				return fmt.Errorf("resolv.conf: %w", err)
			}
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
