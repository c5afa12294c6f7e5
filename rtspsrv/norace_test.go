//go:build !race

package rtspsrv

const raceEnabled = false
