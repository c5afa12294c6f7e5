package discovery

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"unicode/utf8"
)

// Config describes what the responder publishes.
type Config struct {
	// Hostname is the host label without ".local" (e.g. "camera-abcd"). It is
	// required: the caller supplies DefaultHostname(board serial) by default.
	Hostname string
	// Instance is the DNS-SD instance name people see, e.g. "camerad ABCD".
	// Empty means the hostname.
	Instance string
	// Port is the RTSP port the SRV record points at.
	Port int
	// TXT holds the service's key=value pairs, e.g. path=/stream, model=…,
	// version=…. Keys are written in sorted order so the record is stable.
	TXT map[string]string
	// Interfaces restricts publishing to these interface names; empty means
	// every interface that is up, multicast-capable and not loopback.
	Interfaces []string
	// Logger receives the responder's logs; nil means slog.Default().
	Logger *slog.Logger
}

// maxLabel is the longest DNS label (RFC 1035 §2.3.4); both the host name and
// the instance name are single labels.
const maxLabel = 63

var errNoHostname = errors.New("discovery: hostname is empty")

// validate checks cfg and returns a copy with defaults filled in.
func (cfg Config) validate() (Config, error) {
	if cfg.Hostname == "" {
		return cfg, errNoHostname
	}
	cfg.Hostname = strings.TrimSuffix(strings.TrimSuffix(cfg.Hostname, "."), ".local")
	if !validHostLabel(cfg.Hostname) {
		return cfg, fmt.Errorf("discovery: hostname %q is not a DNS label (letters, digits, '-', at most 63)", cfg.Hostname)
	}
	if cfg.Instance == "" {
		cfg.Instance = cfg.Hostname
	}
	if err := validateInstance(cfg.Instance); err != nil {
		return cfg, err
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return cfg, fmt.Errorf("discovery: port %d out of range", cfg.Port)
	}
	for k, v := range cfg.TXT {
		if k == "" || strings.ContainsRune(k, '=') {
			return cfg, fmt.Errorf("discovery: TXT key %q must be non-empty and without '='", k)
		}
		for i := 0; i < len(k); i++ {
			if k[i] < 0x20 || k[i] > 0x7e {
				return cfg, fmt.Errorf("discovery: TXT key %q must be printable ASCII", k)
			}
		}
		if len(k)+1+len(v) > 255 {
			return cfg, fmt.Errorf("discovery: TXT entry %q is longer than 255 bytes", k)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// validateInstance applies RFC 6763 §4.1.1 plus one restriction of ours: no
// '.', because golang.org/x/net/dns/dnsmessage
// cannot carry an escaped dot inside a label.
func validateInstance(s string) error {
	if len(s) > maxLabel {
		return fmt.Errorf("discovery: instance name %q is longer than %d bytes", s, maxLabel)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("discovery: instance name %q is not UTF-8", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '.' || r == '\\' {
			return fmt.Errorf("discovery: instance name %q contains %q", s, r)
		}
	}
	return nil
}

// txtStrings encodes TXT as the record's character-strings, sorted by key so
// that our announcements and answers carry byte-identical data every time
// (a difference would look like a conflicting record to every cache).
func txtStrings(txt map[string]string) []string {
	keys := make([]string, 0, len(txt))
	for k := range txt {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+txt[k])
	}
	if len(out) == 0 {
		// RFC 6763 §6.1: a TXT record is never empty; one empty string stands for "no keys".
		out = append(out, "")
	}
	return out
}
