package stats

import (
	"testing"
	"time"
)

func TestSeqLossAcrossWrap(t *testing.T) {
	var s Seq
	seqs := []uint16{65533, 65534, 65535, 1, 2, 2, 0, 5}
	gaps := 0
	for _, q := range seqs {
		if s.Push(q) {
			gaps++
		}
	}
	// 65533..5 spans 9 numbers; 3 and 4 never came; 0 came late; 2 came twice.
	if got := s.Expected(); got != 9 {
		t.Errorf("Expected = %d, want 9", got)
	}
	if got := s.Lost(); got != 1 {
		t.Errorf("Lost = %d, want 1 (9 expected, 8 received incl. a duplicate)", got)
	}
	if gaps != 2 {
		t.Errorf("gaps = %d, want 2 (65535->1 and 2->5)", gaps)
	}
	if s.Reordered != 2 {
		t.Errorf("Reordered = %d, want 2", s.Reordered)
	}
	if s.HighestExtended() != 1<<16|5 {
		t.Errorf("HighestExtended = %#x", s.HighestExtended())
	}
}

func TestJitterSteadyStreamIsZero(t *testing.T) {
	j := NewJitter(90000)
	t0 := time.Unix(0, 0)
	for i := range 100 {
		j.Push(t0.Add(time.Duration(i)*40*time.Millisecond), uint32(i*3600))
	}
	if j.Units() != 0 {
		t.Errorf("jitter of a perfectly paced stream = %d, want 0", j.Units())
	}
}

func TestJitterConvergesToAlternatingDelay(t *testing.T) {
	j := NewJitter(90000)
	t0 := time.Unix(0, 0)
	// Every other packet is 10 ms late: |D| is 10 ms (900 units) for every pair.
	for i := range 500 {
		late := time.Duration(i%2) * 10 * time.Millisecond
		j.Push(t0.Add(time.Duration(i)*40*time.Millisecond+late), uint32(i*3600))
	}
	if u := j.Units(); u < 890 || u > 900 {
		t.Errorf("jitter = %d units, want ~900", u)
	}
	if d := j.Duration(); d < 9*time.Millisecond || d > 10*time.Millisecond {
		t.Errorf("jitter = %v, want ~10ms", d)
	}
}

func TestSummarize(t *testing.T) {
	var s []float64
	for i := 1; i <= 100; i++ {
		s = append(s, float64(101-i))
	}
	got := Summarize(s)
	want := Summary{N: 100, Min: 1, P50: 50, P95: 95, Max: 100, Mean: 50.5}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("empty summary not zero")
	}
}
