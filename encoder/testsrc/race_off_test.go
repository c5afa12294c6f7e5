//go:build !race

package testsrc

const raceEnabled = false
