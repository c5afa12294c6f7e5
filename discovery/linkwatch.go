package discovery

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// linkWatcher signals on C whenever the kernel reports a link or address
// change (an interface coming up, DHCP assigning an address, IPv6 DAD
// finishing). It does not parse the messages: the responder rescans the
// interfaces and compares, which is simpler and cannot miss a case.
type linkWatcher struct {
	C  chan struct{}
	f  *os.File
	wg sync.WaitGroup
}

// watchLinks subscribes to rtnetlink's link and address multicast groups.
func watchLinks() (*linkWatcher, error) {
	// Non-blocking, so that os.NewFile registers it with Go's poller and Close
	// can interrupt a pending Read.
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	sa := &unix.SockaddrNetlink{
		Family: unix.AF_NETLINK,
		Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR,
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	w := &linkWatcher{C: make(chan struct{}, 1), f: os.NewFile(uintptr(fd), "rtnetlink")}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

func (w *linkWatcher) loop() {
	defer w.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		if _, err := w.f.Read(buf); err != nil {
			// ENOBUFS means we missed events; a rescan covers that too.
			if errors.Is(err, unix.ENOBUFS) {
				w.notify()
				continue
			}
			return
		}
		w.notify()
	}
}

// notify coalesces bursts: one pending signal is enough to trigger a rescan.
func (w *linkWatcher) notify() {
	select {
	case w.C <- struct{}{}:
	default:
	}
}

func (w *linkWatcher) close() {
	w.f.Close()
	w.wg.Wait()
}
