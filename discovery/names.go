package discovery

// DNS names compare case-insensitively in ASCII only (RFC 6762 §16, RFC 4343): "Café" and
// "CAFÉ" are different names. strings.EqualFold and strings.ToLower fold all of Unicode, and
// would take another host's "CAFÉ CAMÉRA" for a rival to our "Café Caméra".

// sameName reports whether two DNS names are equal, ignoring ASCII case.
func sameName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// lowerName is name with its ASCII letters in lower case.
func lowerName(name string) string {
	b := []byte(name)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
