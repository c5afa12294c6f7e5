package sim

import (
	"testing"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/internal/procstat"
)

// The closing reading comes a moment after the last tick; with CPU time counted in 10 ms
// ticks it must not show up as a spike in the percentages, yet its CPU time counts.
func TestProcSeriesClosingReadingIsNoSpike(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := procSeries{pid: 1, every: time.Second}
	reading := func(at, cpu time.Duration) procstat.Usage {
		return procstat.Usage{At: t0.Add(at), CPU: cpu, RSSBytes: 1 << 20}
	}
	p.add(reading(0, 0))
	p.add(reading(time.Second, 100*time.Millisecond))
	p.add(reading(2*time.Second, 200*time.Millisecond))
	p.add(reading(2*time.Second+5*time.Millisecond, 210*time.Millisecond)) // the closing one

	r := p.report()
	if r.CPUPercent.N != 2 || r.CPUPercent.Max > 10.5 {
		t.Errorf("CPU percentages %+v: want two samples of 10%%, no spike from the closing reading", r.CPUPercent)
	}
	if got := r.CPUSeconds; got < 0.209 || got > 0.211 {
		t.Errorf("CPUSeconds = %v, want 0.21 (the closing reading included)", got)
	}
	if r.Samples != 4 {
		t.Errorf("Samples = %d, want every reading's RSS (4)", r.Samples)
	}
}
