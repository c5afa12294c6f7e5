// Command benchratio reads `go test -bench` output and prints, for each benchmark run side by
// side with a peer (sub-benchmarks named …/camerad and …/gortsplib or …/pion), camerad's
// figures as ratios to the peer's, against the targets of the fan-out issue. With -count N
// each figure is the mean of the N runs. A fan-out case's target is on its fan-out part (the
// process minus the source feeding it); its whole-process ratio, for reference, also shows the
// ratio camerad would have if its fan-out cost nothing ("source alone"), and its CPU figures
// the ratio of the kernel floor (sub-benchmark …/floor: the source and the bare system calls
// that hand the same bytes to the same viewers) to the peer, the best any server could show
// in that run, and camerad's cost over the floor's.
//
//	go test -run '^$' -bench 'Fanout|Packetize' -benchmem ./rtspsrv/ | tee bench.txt
//	go run ./scripts/benchratio bench.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// ours is the sub-benchmark name of camerad's side; floor is the fan-out's kernel floor, a
// reference rather than a peer.
const (
	ours  = "camerad"
	floor = "floor"
)

// targets are the ratios the fan-out issue asks for (lower is better for every metric here).
// The fan-out target is on the fan-out's own CPU: the server process's minus that of the
// source feeding it, which the benchmark runs alone beside each case. The whole process's
// figure is printed too, for reference: at one viewer the source is half of it, and what a
// timer wake-up costs depends on the host more than on either server.
var targets = map[string]map[string]float64{
	"Packetize": {"ns/op": 1.0 / 5},
	"Fanout":    {"fanout-cpu-s/Gbit": 1.0 / 3},
}

// references are metrics shown beside a target without one of their own.
var references = map[string]map[string]string{
	"Fanout": {"cpu-s/Gbit": "whole process, for reference"},
}

// compared are the metrics worth a ratio, by benchmark: costs, where lower is better. A
// fan-out case's ns/op is only its measuring time.
var compared = map[string][]string{
	"Fanout": {"cpu-s/Gbit", "fanout-cpu-s/Gbit", "MB-peak-RSS"},
	"":       {"ns/op", "B/op", "allocs/op"},
}

func metricsOf(group string) []string {
	top, _, _ := strings.Cut(group, "/")
	if m, ok := compared[top]; ok {
		return m
	}
	return compared[""]
}

// result is the sums of one sub-benchmark's metrics over its runs.
type result struct {
	sums map[string]float64
	runs map[string]int
}

// mean is the metric's mean over the runs; false if there is none (or no result).
func (r *result) mean(metric string) (float64, bool) {
	if r == nil {
		return 0, false
	}
	n := r.runs[metric]
	if n == 0 {
		return 0, false
	}
	return r.sums[metric] / float64(n), true
}

// benchLine matches "BenchmarkX/a/b-2   <iterations>   <value> <unit>   <value> <unit> ...".
var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse returns the results by group (the name without its last element) and side.
func parse(r io.Reader) (map[string]map[string]*result, []string, error) {
	groups := map[string]map[string]*result{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		i := strings.LastIndexByte(m[1], '/')
		if i < 0 {
			continue // not run side by side
		}
		group, side := m[1][:i], m[1][i+1:]
		if groups[group] == nil {
			groups[group] = map[string]*result{}
			order = append(order, group)
		}
		res := groups[group][side]
		if res == nil {
			res = &result{sums: map[string]float64{}, runs: map[string]int{}}
			groups[group][side] = res
		}
		f := strings.Fields(m[2])
		for j := 0; j+1 < len(f); j += 2 {
			v, err := strconv.ParseFloat(f[j], 64)
			if err != nil {
				continue
			}
			res.sums[f[j+1]] += v
			res.runs[f[j+1]]++
		}
	}
	return groups, order, sc.Err()
}

// target returns the ratio the issue asks of group's metric, if any.
func target(group, metric string) (float64, bool) {
	top, _, _ := strings.Cut(group, "/")
	t, ok := targets[top][metric]
	return t, ok
}

// reference returns how a metric without a target is labelled, if it is a reference figure.
func reference(group, metric string) (string, bool) {
	top, _, _ := strings.Cut(group, "/")
	r, ok := references[top][metric]
	return r, ok
}

// sourceFloor is, for a fan-out case's whole-process figure, the ratio that camerad would
// reach if its fan-out cost nothing: the source alone (whole process minus fan-out) over the
// peer's whole process. Where it is above a third, no fan-out could have brought the whole
// process under a third in that run.
func sourceFloor(mine *result, peerWhole float64, metric string) (float64, bool) {
	if metric != "cpu-s/Gbit" || peerWhole <= 0 {
		return 0, false
	}
	whole, ok1 := mine.mean("cpu-s/Gbit")
	fanout, ok2 := mine.mean("fanout-cpu-s/Gbit")
	if !ok1 || !ok2 {
		return 0, false
	}
	return max(0, whole-fanout) / peerWhole, true
}

func report(w io.Writer, groups map[string]map[string]*result, order []string) (misses int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tmetric\tcamerad\tpeer\tratio\ttarget")
	for _, group := range order {
		mine := groups[group][ours]
		if mine == nil {
			continue
		}
		var peers []string
		for side := range groups[group] {
			if side != ours && side != floor {
				peers = append(peers, side)
			}
		}
		slices.Sort(peers)
		for _, peer := range peers {
			theirs := groups[group][peer]
			for _, metric := range metricsOf(group) {
				a, okA := mine.mean(metric)
				b, okB := theirs.mean(metric)
				if !okA || !okB {
					continue
				}
				ratio, verdict := "-", ""
				if b > 0 {
					ratio = fmt.Sprintf("%.2f×", a/b)
				}
				if t, ok := target(group, metric); ok {
					verdict = fmt.Sprintf("≤ %.2f× meets", t)
					if b <= 0 || a/b > t {
						verdict = fmt.Sprintf("≤ %.2f× MISSES", t)
						misses++
					}
				} else if r, ok := reference(group, metric); ok {
					verdict = r
				}
				var notes []string
				if f, ok := sourceFloor(mine, b, metric); ok {
					notes = append(notes, fmt.Sprintf("source alone %.2f×", f))
				}
				if f, ok := groups[group][floor].mean(metric); ok && f > 0 && b > 0 && strings.Contains(metric, "cpu-s") {
					notes = append(notes, fmt.Sprintf("kernel floor %.2f×, camerad %.2f× the floor", f/b, a/f))
				}
				if len(notes) > 0 {
					verdict += " (" + strings.Join(notes, "; ") + ")"
				}
				if metric == "allocs/op" && strings.HasPrefix(group, "Packetize") {
					verdict = "0 meets"
					if a != 0 {
						verdict = "0 MISSES"
						misses++
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%.4g\t%s %.4g\t%s\t%s\n", group, metric, a, peer, b, ratio, verdict)
			}
		}
	}
	tw.Flush()
	return misses
}

func main() {
	var in io.Reader = os.Stdin
	if len(os.Args) > 1 {
		var readers []io.Reader
		for _, name := range os.Args[1:] {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, "benchratio:", err)
				os.Exit(2)
			}
			defer f.Close()
			readers = append(readers, f)
		}
		in = io.MultiReader(readers...)
	}
	groups, order, err := parse(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(2)
	}
	if len(order) == 0 {
		fmt.Fprintln(os.Stderr, "benchratio: no side-by-side benchmarks in the input")
		os.Exit(2)
	}
	if misses := report(os.Stdout, groups, order); misses > 0 {
		fmt.Printf("%d figure(s) miss their target\n", misses)
	}
}
