//go:build race

package guix

// raceEnabled: the race detector slows the curve arithmetic about tenfold.
const raceEnabled = true
