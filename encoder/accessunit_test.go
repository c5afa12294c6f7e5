package encoder

import (
	"bytes"
	"sync"
	"testing"
)

// pattern returns n bytes that differ per seed, so a NAL unit overwritten by another shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// TestAppendNALUGrowthKeepsEarlierNALUs appends units that push the buffer up through the
// size classes and past the largest, and checks that the units appended earlier still read
// back intact after each move to a larger buffer.
func TestAppendNALUGrowthKeepsEarlierNALUs(t *testing.T) {
	p := NewPool()
	au := p.Get(100)
	if au.class != 0 {
		t.Fatalf("Get(100) class = %d, want 0", au.class)
	}
	sizes := []int{10 << 10, 40 << 10, 200 << 10, 700 << 10, 3 << 20, 5 << 20}
	wantClass := []int{0, 4, 8, 12, 16, -1} // 10 KB, 50 KB, 250 KB, 950 KB, 3.9 MB, 8.9 MB
	var want [][]byte
	total := 0
	for i, n := range sizes {
		nalu := pattern(n, byte(i+1))
		want = append(want, nalu)
		au.AppendNALU(nalu)
		total += n
		if au.class != wantClass[i] {
			t.Errorf("after %d bytes class = %d, want %d", total, au.class, wantClass[i])
		}
		got := au.NALUs()
		if len(got) != len(want) {
			t.Fatalf("%d NAL units, want %d", len(got), len(want))
		}
		for j := range want {
			if !bytes.Equal(got[j], want[j]) {
				t.Fatalf("after growth to %d bytes, NAL unit %d is corrupted", total, j)
			}
			if cap(got[j]) != len(got[j]) {
				t.Fatalf("NAL unit %d has spare capacity %d: an append to it would overwrite its neighbour", j, cap(got[j])-len(got[j]))
			}
		}
		if au.Size() != total {
			t.Errorf("Size = %d, want %d", au.Size(), total)
		}
	}
	au.AppendNALU(nil)
	if len(au.NALUs()) != len(sizes) {
		t.Error("empty NAL unit was appended")
	}
	au.Release()
	if p.Outstanding() != 0 {
		t.Errorf("outstanding = %d after release of an oversized unit", p.Outstanding())
	}
}

func TestAppendNALUCopies(t *testing.T) {
	p := NewPool()
	au := p.Get(0)
	defer au.Release()
	src := []byte{0x65, 1, 2, 3}
	au.AppendNALU(src)
	src[1] = 99
	if au.NALUs()[0][1] != 1 {
		t.Error("AppendNALU aliases its argument instead of copying it into the pooled buffer")
	}
}

func TestRetainRelease(t *testing.T) {
	p := NewPool()
	au := p.Get(10)
	au.AppendNALU([]byte{0x65, 0x88})
	if p.Outstanding() != 1 {
		t.Fatalf("outstanding = %d, want 1", p.Outstanding())
	}
	au.Retain()
	au.Retain()
	au.Release()
	au.Release()
	if p.Outstanding() != 1 {
		t.Fatalf("outstanding = %d with one reference left, want 1", p.Outstanding())
	}
	if len(au.NALUs()) != 1 {
		t.Fatal("unit was recycled while still referenced")
	}
	au.Release()
	if p.Outstanding() != 0 {
		t.Fatalf("outstanding = %d after the last release, want 0", p.Outstanding())
	}
	if p.DoubleReleases() != 0 {
		t.Fatalf("double releases = %d, want 0", p.DoubleReleases())
	}
	au.Release()
	if p.DoubleReleases() != 1 {
		t.Errorf("double releases = %d after releasing a dead unit, want 1", p.DoubleReleases())
	}
	if p.Outstanding() != 0 {
		t.Errorf("a double release changed outstanding to %d", p.Outstanding())
	}
}

func TestReleasedUnitComesBackEmpty(t *testing.T) {
	p := NewPool()
	for range 50 {
		au := p.Get(1000)
		if len(au.NALUs()) != 0 || au.Size() != 0 || au.PTS != 0 || au.Keyframe || !au.Captured.IsZero() {
			t.Fatalf("Get returned a unit with leftovers: %d NALUs, %d bytes, PTS %v", len(au.NALUs()), au.Size(), au.PTS)
		}
		au.AppendNALU(pattern(500, 1))
		au.PTS, au.Keyframe = 42, true
		au.Release()
	}
}

// TestConcurrentRetainRelease shares units between goroutines the way the hub shares them
// between viewers; -race checks the counting.
func TestConcurrentRetainRelease(t *testing.T) {
	p := NewPool()
	const units, viewers = 50, 8
	var wg sync.WaitGroup
	for range units {
		au := p.Get(100)
		au.AppendNALU([]byte{0x41, 0x9a})
		for range viewers {
			au.Retain()
			wg.Go(func() {
				if len(au.NALUs()) != 1 {
					t.Error("unit recycled while a viewer holds it")
				}
				au.Release()
			})
		}
		au.Release()
	}
	wg.Wait()
	if p.Outstanding() != 0 || p.DoubleReleases() != 0 {
		t.Errorf("outstanding = %d, double releases = %d, want 0, 0", p.Outstanding(), p.DoubleReleases())
	}
}
