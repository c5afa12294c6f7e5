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
	pid         int
	first, last procstat.Usage
	have        bool
	cpu, rss    []float64
	err         error
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
	if p.have {
		p.cpu = append(p.cpu, procstat.CPUPercent(p.last, u))
	} else {
		p.first = u
	}
	p.rss = append(p.rss, float64(u.RSSBytes))
	p.last, p.have = u, true
}

func (p *procSeries) report() *ProcessReport {
	r := &ProcessReport{PID: p.pid, Samples: len(p.rss), CPUPercent: stats.Summarize(p.cpu), RSSBytes: stats.Summarize(p.rss)}
	if p.have {
		r.CPUSeconds = (p.last.CPU - p.first.CPU).Seconds()
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

func newSampler(pid int) *sampler {
	s := &sampler{self: procSeries{pid: os.Getpid()}}
	if pid > 0 {
		s.server = &procSeries{pid: pid}
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

func (s *sampler) run(ctx context.Context, every time.Duration) {
	s.tick()
	tk := time.NewTicker(every)
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
