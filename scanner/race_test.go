//go:build race

package scanner

// raceEnabled: the race detector slows decoders tenfold, so wall-time bounds are not checked.
const raceEnabled = true
