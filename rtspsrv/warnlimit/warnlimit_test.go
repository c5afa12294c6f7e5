package warnlimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := Limiter{Interval: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	if ok, skipped := l.Allow(t0); !ok || skipped != 0 {
		t.Fatalf("first warning: Allow = %v, %d; want true, 0", ok, skipped)
	}
	for i := range 5 {
		if ok, _ := l.Allow(t0.Add(time.Duration(i+1) * time.Second)); ok {
			t.Fatalf("warning %d within the interval was let through", i+2)
		}
	}
	if ok, skipped := l.Allow(t0.Add(10 * time.Second)); !ok || skipped != 5 {
		t.Fatalf("after the interval: Allow = %v, %d; want true and the 5 held back", ok, skipped)
	}
	if ok, skipped := l.Allow(t0.Add(25 * time.Second)); !ok || skipped != 0 {
		t.Fatalf("after a quiet interval: Allow = %v, %d; want true, 0", ok, skipped)
	}
	// The clock set back an hour: not an hour of silence.
	if ok, _ := l.Allow(t0.Add(-time.Hour)); !ok {
		t.Fatal("a warning after the clock was set back was held back")
	}
}
