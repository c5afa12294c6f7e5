package discovery

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/mdns/v2"
)

// startPion runs pion/mdns's responder for the names we have claimed. It
// answers A/AAAA, PTR, SRV and TXT questions. pion reads interface addresses
// only when it starts, so the responder replaces it whenever the links change.
func startPion(ctx context.Context, links snapshot, n names, port uint16, txt map[string]string, log *slog.Logger) (*mdns.Conn, error) {
	v4, v6, err := listenMDNS(ctx)
	if err != nil {
		return nil, err
	}
	entries := make([]mdns.TXTEntry, 0, len(txt))
	// Same order and encoding as txtStrings, so pion's TXT answers are
	// byte-identical to our announcements.
	for _, s := range txtStrings(txt) {
		if s == "" {
			continue
		}
		for i := 0; i < len(s); i++ {
			if s[i] == '=' {
				entries = append(entries, mdns.NewTXTString(s[:i], s[i+1:]))
				break
			}
		}
	}
	opts := []mdns.ServerOption{
		mdns.WithName("camerad"),
		mdns.WithLoggerFactory(pionLogger{log}),
		mdns.WithLocalNames(n.host + ".local"),
		mdns.WithInterfaces(links.interfaces()...),
		// A responder has nothing to keep fresh: no browsing, no cache refresh.
		mdns.WithCacheRefresh(false),
		mdns.WithService(mdns.ServiceInstance{
			Instance: n.instance,
			Service:  rtspService,
			Domain:   "local",
			// pion packs this as a DNS name: it must be fully qualified.
			Host: n.hostFQDN(),
			Port: port,
			Text: entries,
		}),
	}
	// pion takes ownership of the sockets and closes them in Close.
	conn, err := mdns.NewServer(v4, v6, opts...)
	if err != nil {
		v4.Close()
		if v6 != nil {
			v6.Close()
		}
		return nil, fmt.Errorf("start pion mdns server: %w", err)
	}
	return conn, nil
}
