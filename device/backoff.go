package device

import (
	"context"
	"time"
)

// Backoff spaces out reopen attempts: Min after the first failure, doubling to Max, and back
// to Min once a session has delivered frames.
type Backoff struct {
	Min, Max time.Duration
	next     time.Duration
}

// Reset starts the next wait at Min again.
func (b *Backoff) Reset() { b.next = 0 }

// Wait sleeps for the next interval; false when ctx ended first.
func (b *Backoff) Wait(ctx context.Context) bool {
	switch {
	case b.next == 0:
		b.next = b.Min
	case b.next < b.Max:
		b.next = min(2*b.next, b.Max)
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Current is the interval of the last Wait.
func (b *Backoff) Current() time.Duration { return b.next }
