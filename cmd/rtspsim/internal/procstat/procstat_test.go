package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPUWithAwkwardName(t *testing.T) {
	line := []byte("1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 200 0")
	got, err := parseStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if got != 3*time.Second {
		t.Errorf("cpu = %v, want 3s (250+50 ticks)", got)
	}
	if _, err := parseStatCPU([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
}

func TestReadSelf(t *testing.T) {
	u, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.RSSBytes <= 0 {
		t.Errorf("RSS = %d, want > 0", u.RSSBytes)
	}
	// Burn some CPU so the second reading must be larger.
	deadline := u.CPU + 20*time.Millisecond
	var v Usage
	for v.CPU <= deadline {
		x := 0
		for i := range 1_000_000 {
			x += i
		}
		_ = x
		if v, err = Read(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if p := CPUPercent(u, v); p <= 0 {
		t.Errorf("CPUPercent = %v after burning CPU, want > 0", p)
	}
	if _, err := Read(1 << 30); err == nil {
		t.Error("reading a nonexistent pid succeeded")
	}
}
