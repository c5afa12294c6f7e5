package discovery

import "strconv"

// altHost is the n-th alternative of a host label after conflicts (n >= 2):
// "camera-abcd" → "camera-abcd-2", the convention avahi and Bonjour use too.
// The base is shortened so the result stays one DNS label.
func altHost(base string, n int) string {
	if n < 2 {
		return base
	}
	suffix := "-" + strconv.Itoa(n)
	if len(base)+len(suffix) > maxLabel {
		base = base[:maxLabel-len(suffix)]
	}
	return base + suffix
}

// altInstance is the n-th alternative of an instance name (n >= 2):
// "camerad ABCD" → "camerad ABCD (2)", as RFC 6763 §4.1.1 suggests for names
// people read.
func altInstance(base string, n int) string {
	if n < 2 {
		return base
	}
	suffix := " (" + strconv.Itoa(n) + ")"
	if len(base)+len(suffix) > maxLabel {
		base = truncateUTF8(base, maxLabel-len(suffix))
	}
	return base + suffix
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
