package rtspsrv

import "testing"

func TestSigned24(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want int64
	}{{0, 0}, {5, 5}, {0x7fffff, 0x7fffff}, {0xffffff, -1}, {0x800000, -0x800000}} {
		if got := signed24(c.in); got != c.want {
			t.Errorf("signed24(%#x) = %d, want %d", c.in, got, c.want)
		}
	}
}
