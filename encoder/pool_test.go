package encoder

import (
	"runtime/debug"
	"testing"
)

func TestClassFor(t *testing.T) {
	tests := []struct{ n, class, capacity int }{
		{0, 0, 16 << 10},
		{16 << 10, 0, 16 << 10},
		{16<<10 + 1, 1, 24 << 10},
		{24<<10 + 1, 2, 32 << 10},
		{100 << 10, 6, 128 << 10},
		{1 << 20, 12, 1 << 20},
		{1<<20 + 1, 13, 3 << 19},
		{4 << 20, 16, 4 << 20},
		{4<<20 + 1, -1, 4<<20 + 1},
	}
	for _, tt := range tests {
		c := classFor(tt.n)
		if c != tt.class || capacityFor(c, tt.n) != tt.capacity {
			t.Errorf("classFor(%d) = %d cap %d, want %d cap %d", tt.n, c, capacityFor(c, tt.n), tt.class, tt.capacity)
		}
	}
}

func TestGetHonoursSizeHint(t *testing.T) {
	p := NewPool()
	for _, hint := range []int{0, 1, 20 << 10, 300 << 10, 5 << 20} {
		au := p.Get(hint)
		if cap(au.buf) < hint {
			t.Errorf("Get(%d) buffer capacity %d", hint, cap(au.buf))
		}
		au.Release()
	}
	if p.Outstanding() != 0 {
		t.Errorf("outstanding = %d", p.Outstanding())
	}
}

// TestSteadyStateAllocatesNothing is the zero-allocation promise of DESIGN.md §2 for the
// source side: once the pool holds a buffer of the right class, a frame costs no allocation.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector makes sync.Pool drop items at random; allocation counts are meaningless")
	}
	p := NewPool()
	sps, idr, slice := pattern(20, 1), pattern(40<<10, 2), pattern(8<<10, 3)
	cycle := func() {
		au := p.Get(len(sps) + len(idr) + len(slice))
		au.AppendNALU(sps)
		au.AppendNALU(idr)
		au.AppendNALU(slice)
		au.Retain() // a viewer
		au.Release()
		au.Release()
	}
	cycle() // warm the pool
	if allocs := testing.AllocsPerRun(1000, cycle); allocs != 0 {
		t.Errorf("steady-state Get/AppendNALU/Release allocates %.1f times per frame, want 0", allocs)
	}
	if p.Outstanding() != 0 {
		t.Errorf("outstanding = %d", p.Outstanding())
	}
}

func BenchmarkGetAppendRelease(b *testing.B) {
	p := NewPool()
	nalu := pattern(30<<10, 1)
	b.ReportAllocs()
	b.SetBytes(int64(len(nalu)))
	for b.Loop() {
		au := p.Get(len(nalu))
		au.AppendNALU(nalu)
		au.Release()
	}
}

// raceEnabled reports a -race build: the race detector makes sync.Pool drop a random quarter
// of what it is given, so allocation counts say nothing there.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
