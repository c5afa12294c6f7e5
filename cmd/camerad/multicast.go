package main

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strconv"
)

// defaultMulticastPort is where an automatic group sends RTP: 5004, IANA's port for RTP/AVP.
const defaultMulticastPort = 5004

// checkMulticast validates the multicast setting: "auto", "off", or group:port, beside the
// listen address (whose address the media sockets bind to) and udp_port.
func checkMulticast(s, listen string, udpPort int) error {
	switch s {
	case "auto", "off":
		return nil
	}
	if onlyIPv6(listen) {
		return fmt.Errorf("%s is an IPv4 group, and listen %s binds the media sockets to an IPv6 address", s, listen)
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Errorf("%q must be auto, off, or an IPv4 group and even port such as 239.255.1.1:5004", s)
	}
	ip := ap.Addr()
	switch {
	case !ip.Is4() || !ip.IsMulticast():
		return fmt.Errorf("%s is not an IPv4 multicast address (224.0.0.0/4; 239.255.0.0/16 stays on the LAN)", ip)
	case ip.IsLinkLocalMulticast():
		return fmt.Errorf("%s is in 224.0.0.0/24, which is reserved for routing protocols", ip)
	case ap.Port() == 0 || ap.Port()%2 != 0:
		return fmt.Errorf("port %d must be even and not 0 (RTP; RTCP uses the next one)", ap.Port())
	case int(ap.Port()) == udpPort:
		return errors.New("port " + strconv.Itoa(udpPort) + " is udp_port's: the group needs its own ports")
	}
	return nil
}

// onlyIPv6 reports whether a listen address names one IPv6 address: the media sockets are
// then IPv6 only, and cannot send to an IPv4 group.
func onlyIPv6(listen string) bool {
	ip, err := netip.ParseAddr(listenHost(listen))
	return err == nil && ip.Is6() && !ip.Is4In6() && !ip.IsUnspecified()
}

// multicastGroup is the group multicast viewers receive from, per the multicast setting; the
// zero value when it is off. "auto" picks a group in 239.255.0.0/16 (organization-local: it
// stays on the LAN) from the camera's name and RTSP port, so that cameras on one network, or
// two camerad on one machine, do not send into each other's group, on port 5004 (5006 if
// udp_port is 5004); it is off where listen names an IPv6 address.
func multicastGroup(setting, hostname, listen string, udpPort int) netip.AddrPort {
	switch setting {
	case "off":
		return netip.AddrPort{}
	case "auto":
		if onlyIPv6(listen) {
			return netip.AddrPort{}
		}
		_, port, _ := net.SplitHostPort(listen)
		rtspPort, _ := strconv.Atoi(port)
		h := fnv.New32a()
		fmt.Fprintf(h, "%s:%d", hostname, rtspPort)
		sum := h.Sum32()
		// 239.255.0.1 to 239.255.254.254: never 239.255.255.0/24, where SSDP and SLP live.
		ip := netip.AddrFrom4([4]byte{239, 255, byte(sum >> 8 % 255), byte(1 + sum%254)})
		groupPort := uint16(defaultMulticastPort)
		if udpPort == defaultMulticastPort { // the group needs ports of its own
			groupPort += 2
		}
		return netip.AddrPortFrom(ip, groupPort)
	}
	ap, _ := netip.ParseAddrPort(setting) // checkMulticast accepted it
	return ap
}
