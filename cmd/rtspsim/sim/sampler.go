package sim

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/internal/procstat"
	"github.com/camerad/camerad/cmd/rtspsim/internal/stats"
)

// ProcessReport is the CPU and memory use of a process during the run.
type ProcessReport struct {
	PID     int `json:"pid"`
	Samples int `json:"samples"`
	// CPUPercent is per sampling interval, in percent of one core (200 = two cores busy).
	CPUPercent stats.Summary `json:"cpu_percent"`
	// CPUSeconds is the CPU time the process used over the whole run.
	CPUSeconds float64       `json:"cpu_seconds"`
	RSSBytes   stats.Summary `json:"rss_bytes"`
	Error      string        `json:"error,omitempty"`
}

// procSeries accumulates the readings of one process.
type procSeries struct {
	pid   int
	every time.Duration // the sampling interval
	// first and latest bound the run; last is where the latest CPU percentage ended.
	first, last, latest procstat.Usage
	have                bool
	cpu, rss            []float64
	err                 error
}

func (p *procSeries) sample() {
	if p.err != nil {
		return
	}
	u, err := procstat.Read(p.pid)
	if err != nil {
		p.err = err // the process exited, or was never there
		return
	}
	p.add(u)
}

// add takes one reading. A reading less than half an interval after the last (the closing
// one) counts toward CPUSeconds but gives no CPU percentage: the kernel counts CPU time in
// 10 ms ticks, so one tick over a few milliseconds would read as a core or more busy.
func (p *procSeries) add(u procstat.Usage) {
	p.rss = append(p.rss, float64(u.RSSBytes))
	p.latest = u
	switch {
	case !p.have:
		p.first, p.last, p.have = u, u, true
	case u.At.Sub(p.last.At) >= p.every/2:
		p.cpu = append(p.cpu, procstat.CPUPercent(p.last, u))
		p.last = u
	}
}

func (p *procSeries) report() *ProcessReport {
	r := &ProcessReport{PID: p.pid, Samples: len(p.rss), CPUPercent: stats.Summarize(p.cpu), RSSBytes: stats.Summarize(p.rss)}
	if p.have {
		r.CPUSeconds = (p.latest.CPU - p.first.CPU).Seconds()
	}
	if p.err != nil {
		r.Error = p.err.Error()
	}
	return r
}

// sampler reads the server under test (when a PID was given) and rtspsim itself.
type sampler struct {
	mu     sync.Mutex
	server *procSeries
	self   procSeries
}

func newSampler(pid int, every time.Duration) *sampler {
	s := &sampler{self: procSeries{pid: os.Getpid(), every: every}}
	if pid > 0 {
		s.server = &procSeries{pid: pid, every: every}
	}
	return s
}

func (s *sampler) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server != nil {
		s.server.sample()
	}
	s.self.sample()
}

func (s *sampler) run(ctx context.Context) {
	s.tick()
	tk := time.NewTicker(s.self.every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			s.tick() // the closing reading covers the tail of the run
			return
		case <-tk.C:
			s.tick()
		}
	}
}
