//go:build !race

package guix

const raceEnabled = false
