package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkPacketize/camerad-2   1000   800.0 ns/op   0 B/op   0 allocs/op
BenchmarkPacketize/pion-2      1000   12000 ns/op   30000 B/op   32 allocs/op
BenchmarkFanout/udp/viewers=1/camerad-2    1  5000000000 ns/op  0.60 cpu-s/Gbit  0.20 fanout-cpu-s/Gbit
BenchmarkFanout/udp/viewers=1/camerad-2    1  5000000000 ns/op  0.40 cpu-s/Gbit  0.10 fanout-cpu-s/Gbit
BenchmarkFanout/udp/viewers=1/gortsplib-2  1  5000000000 ns/op  1.90 cpu-s/Gbit  1.20 fanout-cpu-s/Gbit
BenchmarkFanout/udp/viewers=1/gortsplib-2  1  5000000000 ns/op  2.10 cpu-s/Gbit  1.80 fanout-cpu-s/Gbit
BenchmarkFanout/udp/viewers=1/floor-2      1  5000000000 ns/op  0.40 cpu-s/Gbit  0.12 fanout-cpu-s/Gbit
BenchmarkEncode-2   500   2000 ns/op
PASS
`

// Ratios are camerad's mean over its peer's mean, checked against the targets; a
// fan-out case's ns/op (its measuring time) and benchmarks without a peer are left out.
func TestReport(t *testing.T) {
	groups, order, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	misses := report(&out, groups, order)
	got := normalize(out.String())
	for _, want := range []string{
		"Packetize ns/op 800 pion 1.2e+04 0.07× ≤ 0.20× meets",
		"Packetize allocs/op 0 pion 32 0.00× 0 meets",
		"Fanout/udp/viewers=1 cpu-s/Gbit 0.5 gortsplib 2 0.25× whole process, for reference (source alone 0.17×; kernel floor 0.20×, camerad 1.25× the floor)",
		"Fanout/udp/viewers=1 fanout-cpu-s/Gbit 0.15 gortsplib 1.5 0.10× ≤ 0.33× meets (kernel floor 0.08×, camerad 1.25× the floor)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(got, "Encode") || strings.Contains(got, "Fanout/udp/viewers=1 ns/op") || strings.Contains(got, " floor 0.4") {
		t.Errorf("report has a figure it should leave out:\n%s", out.String())
	}
	if misses != 0 {
		t.Errorf("%d misses, want 0", misses)
	}

	// A peer cheaper than the target allows is a miss; on the whole process it is not, as
	// that figure has no target of its own.
	cheaper := strings.NewReplacer(
		"1.90 cpu-s/Gbit  1.20 fanout", "1.10 cpu-s/Gbit  0.40 fanout",
		"2.10 cpu-s/Gbit  1.80 fanout", "0.90 cpu-s/Gbit  0.40 fanout").Replace(sample)
	groups, order, _ = parse(strings.NewReader(cheaper))
	out.Reset()
	misses = report(&out, groups, order)
	got = normalize(out.String())
	if misses != 1 || !strings.Contains(got, "fanout-cpu-s/Gbit 0.15 gortsplib 0.4 0.38× ≤ 0.33× MISSES (kernel floor 0.30×") {
		t.Errorf("want one miss at 0.38×, got %d:\n%s", misses, out.String())
	}
	if !strings.Contains(got, "cpu-s/Gbit 0.5 gortsplib 1 0.50× whole process, for reference (source alone 0.35×; kernel floor 0.40×") {
		t.Errorf("whole-process figure not shown for reference:\n%s", out.String())
	}
}

// normalize collapses the table's padding, line by line.
func normalize(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}
