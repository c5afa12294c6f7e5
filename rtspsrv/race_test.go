//go:build race

package rtspsrv

// raceEnabled is set in -race builds, where allocation counts mean nothing.
const raceEnabled = true
