package stats

import (
	"math"
	"slices"
)

// Summary condenses a set of samples into the figures the report prints.
type Summary struct {
	N    int     `json:"n"`
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Summarize computes the summary of samples (nearest-rank percentiles). It sorts a copy.
func Summarize(samples []float64) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return Summary{
		N:    len(s),
		Min:  s[0],
		P50:  rank(s, 0.50),
		P95:  rank(s, 0.95),
		Max:  s[len(s)-1],
		Mean: sum / float64(len(s)),
	}
}

// rank is the nearest-rank percentile of sorted s.
func rank(s []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
