//go:build race

package testsrc

// The race detector makes sync.Pool drop items at random, so allocation counts mean nothing.
const raceEnabled = true
