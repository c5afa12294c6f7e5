package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/beevik/ntp"
	"golang.org/x/sys/unix"
)

// DefaultNTPServers are used when DHCP offers none.
var DefaultNTPServers = []string{"pool.ntp.org", "time.cloudflare.com"}

// SetClockOnce asks the servers in turn and steps the system clock by the first valid answer.
// A Pi has no battery-backed clock: until this succeeds it thinks it is 1970 (or the build
// date), which RTCP sender reports and logs would show.
func SetClockOnce(servers []string) (time.Duration, string, error) {
	var errs []error
	for _, s := range servers {
		r, err := ntp.QueryWithOptions(s, ntp.QueryOptions{Timeout: 3 * time.Second})
		if err == nil {
			err = r.Validate()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
			continue
		}
		tv := unix.NsecToTimeval(time.Now().Add(r.ClockOffset).UnixNano())
		if err := unix.Settimeofday(&tv); err != nil {
			return 0, s, fmt.Errorf("settimeofday: %w", err)
		}
		return r.ClockOffset, s, nil
	}
	return 0, "", fmt.Errorf("ntp: %w", errors.Join(errs...))
}

// KeepClock sets the clock when the network comes up and then hourly; servers from DHCP
// come first. extra (from the kernel command line) overrides everything, for tests.
func KeepClock(ctx context.Context, log *slog.Logger, leases <-chan Lease, extra []string) {
	var fromDHCP []string
	synced := false
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-leases:
			fromDHCP = fromDHCP[:0]
			for _, ip := range l.NTP {
				fromDHCP = append(fromDHCP, net.JoinHostPort(ip.String(), "123"))
			}
			if synced {
				continue
			}
		case <-retry.C:
		}
		servers := append(append(append([]string(nil), extra...), fromDHCP...), DefaultNTPServers...)
		if len(extra) > 0 {
			servers = extra
		}
		offset, server, err := SetClockOnce(servers)
		if err != nil {
			log.Warn("clock not set", "err", err)
			retry.Reset(30 * time.Second)
			continue
		}
		synced = true
		log.Info("clock set by ntp", "server", server, "offset", offset.Round(time.Millisecond), "now", time.Now().UTC().Format(time.RFC3339))
		retry.Reset(time.Hour)
	}
}
