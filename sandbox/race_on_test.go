//go:build race

package sandbox

// raceEnabled: the race detector's runtime needs far more address space than RLIMIT_AS tests give.
const raceEnabled = true
