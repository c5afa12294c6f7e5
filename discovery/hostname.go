package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// hostnamePrefix and instancePrefix name every camera the same way so that a
// user browsing the LAN recognises them; the suffix tells two cameras apart.
const (
	hostnamePrefix = "camera"
	instancePrefix = "camerad"
	suffixLen      = 4
)

// DefaultHostname derives "camera-xxxx" from a board serial or machine id.
//
// A hexadecimal id (the Pi's /proc/cpuinfo serial, /etc/machine-id) gives its
// last four hex digits, so the name matches what a user can read off the board;
// anything else is hashed so the result is still stable and DNS-safe. An empty
// id gives plain "camera": probing then renames it on a collision.
func DefaultHostname(serialOrMachineID string) string {
	suffix := idSuffix(serialOrMachineID)
	if suffix == "" {
		return hostnamePrefix
	}
	return hostnamePrefix + "-" + suffix
}

// DefaultInstance is the DNS-SD instance name that goes with DefaultHostname:
// "camerad ABCD" for "camera-abcd". Browsers show this string to people, hence
// the space and upper case.
func DefaultInstance(serialOrMachineID string) string {
	suffix := idSuffix(serialOrMachineID)
	if suffix == "" {
		return instancePrefix
	}
	return instancePrefix + " " + strings.ToUpper(suffix)
}

// idSuffix returns the lowercase four-hex-digit tail of id, or of its SHA-256
// when id is not hexadecimal. Leading/trailing space and a "0x" prefix are
// ignored because serial sources differ in how they print it.
func idSuffix(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	id = strings.TrimPrefix(id, "0x")
	if id == "" {
		return ""
	}
	if len(id) >= suffixLen && isHex(id) {
		return id[len(id)-suffixLen:]
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])[:suffixLen]
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validHostLabel reports whether s can be the single DNS label in front of
// ".local": letters, digits and hyphens (RFC 952/1123), 1..63 bytes, no hyphen
// at either end.
func validHostLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return true
}
