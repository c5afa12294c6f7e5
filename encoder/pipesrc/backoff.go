package pipesrc

import "time"

// healthyRun is how long a child must run for its next failure to count as a new one:
// the restart delay then starts again from the minimum instead of where it left off. A
// child that published pictures counts as healthy however short its run (a command that
// plays a short file and exits): doubling its delay would leave ever longer gaps.
const healthyRun = 10 * time.Second

// backoff is the exponential delay between child restarts.
type backoff struct {
	min, max time.Duration
	next     time.Duration
}

// after returns the delay before the next start, given how long the last child ran and
// whether it published any picture.
func (b *backoff) after(ran time.Duration, published bool) time.Duration {
	if b.next == 0 || ran >= healthyRun || published {
		b.next = b.min
	}
	d := b.next
	b.next = min(2*b.next, b.max)
	return d
}
