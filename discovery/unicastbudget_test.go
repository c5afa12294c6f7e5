package discovery

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestUnicastBudget: one host's flood uses up its own budget, not another host's; a flood
// from many (forged) sources is held to the overall budget.
func TestUnicastBudget(t *testing.T) {
	b := newUnicastBudget()
	t0 := time.Unix(1000, 0)
	flooder, other := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.8")
	sent := 0
	for i := range 1000 { // 1000 questions a second for one second
		if b.allow(flooder, t0.Add(time.Duration(i)*time.Millisecond)) {
			sent++
		}
	}
	if want := unicastHostBurst + unicastHostRate; sent > want+1 || sent < want-1 {
		t.Errorf("a flooding host got %d answers in a second, want about %d", sent, want)
	}
	if !b.allow(other, t0.Add(time.Second)) {
		t.Error("another host was refused during one host's flood")
	}

	b = newUnicastBudget()
	sent = 0
	for i := range 1000 { // one question each from 1000 addresses within a second
		host := netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
		if b.allow(host, t0.Add(time.Duration(i)*time.Millisecond)) {
			sent++
		}
	}
	if want := unicastAllBurst + unicastAllRate; sent > want+1 || sent < want-1 {
		t.Errorf("1000 sources got %d answers in a second, want about %d", sent, want)
	}
}
