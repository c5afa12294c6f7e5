package rtspsrv

import (
	"testing"
	"time"
)

func TestWarnLimiter(t *testing.T) {
	l := warnLimiter{interval: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	if ok, skipped := l.allow(t0); !ok || skipped != 0 {
		t.Fatalf("first warning: allow = %v, %d; want true, 0", ok, skipped)
	}
	for i := range 5 {
		if ok, _ := l.allow(t0.Add(time.Duration(i+1) * time.Second)); ok {
			t.Fatalf("warning %d within the interval was let through", i+2)
		}
	}
	if ok, skipped := l.allow(t0.Add(10 * time.Second)); !ok || skipped != 5 {
		t.Fatalf("after the interval: allow = %v, %d; want true and the 5 held back", ok, skipped)
	}
	if ok, skipped := l.allow(t0.Add(25 * time.Second)); !ok || skipped != 0 {
		t.Fatalf("after a quiet interval: allow = %v, %d; want true, 0", ok, skipped)
	}
}
