// Package procstat samples a process's CPU time and resident memory from /proc, so a load run
// can report what the server under test spent serving it (and what rtspsim itself spent, to
// show the tool was not the bottleneck).
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of utime/stime in /proc/<pid>/stat. The kernel reports these in
// USER_HZ, which is 100 on every Linux architecture Go supports.
const userHZ = 100

// Usage is one reading.
type Usage struct {
	At       time.Time
	CPU      time.Duration // user + system time since the process started
	RSSBytes int64
}

// Read takes one reading of pid.
func Read(pid int) (Usage, error) {
	now := time.Now()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return Usage{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	statm, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("read statm of pid %d: %w", pid, err)
	}
	f := bytes.Fields(statm)
	if len(f) < 2 {
		return Usage{}, fmt.Errorf("pid %d: short statm %q", pid, statm)
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return Usage{}, fmt.Errorf("pid %d: statm resident %q: %w", pid, f[1], err)
	}
	return Usage{At: now, CPU: cpu, RSSBytes: pages * int64(os.Getpagesize())}, nil
}

// parseStatCPU returns utime+stime from a /proc/<pid>/stat line. The command name (field 2)
// may contain spaces and parentheses, so fields are counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat %q", stat)
	}
	f := bytes.Fields(stat[i+1:])
	// After ')': state is field 3, so utime (14) and stime (15) are at index 11 and 12.
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat cpu field %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// CPUPercent is the CPU use between two readings, in percent of one core.
func CPUPercent(a, b Usage) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return float64(b.CPU-a.CPU) / float64(wall) * 100
}
