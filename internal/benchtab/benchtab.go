// Package benchtab measures airlock against the peer tool doing the same work in the same run, and
// prints one row per comparison for `make bench`'s table.
//
// Benchmarks live in files with the build tag `bench`, as tests named TestBench*, and run the real
// programs (the airlock binary from testenv.Airlock and the peer) as child processes so that wall
// time and peak RSS are those of the whole program:
//
//	ours, _ := benchtab.Run(ctx, airlock, "iso", "--out", img, dir)
//	peer, _ := benchtab.Run(ctx, "xorriso", "-as", "mkisofs", "-R", "-o", img2, dir)
//	benchtab.Report(t, benchtab.Row{What: "iso 2 GiB", Peer: "xorriso", Ours: ours, Theirs: peer, Bytes: n,
//		Target: 1.0})
//
// A row with a Target fails its test when the ratio is above it, so `make bench` exits non-zero
// when any row misses its target; the table prints every target beside its ratio.
package benchtab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Marker starts every table row in the test output; scripts/benchtable.sh collects them.
const Marker = "BENCHROW"

// Measure is what one run of a program cost.
type Measure struct {
	Wall    time.Duration
	CPU     time.Duration // user + system time of the child and the descendants it waited for
	PeakRSS int64         // bytes, from the child's rusage
}

// EnvInt is the positive integer in environment variable name (a benchmark's size or count),
// or def when it is unset; anything else fails t.
func EnvInt(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// Keep folds run m into *best, for benchmarks that repeat each side on a shared machine: the
// faster run's wall and CPU time (a zero *best takes m's), and the largest peak RSS seen.
func (best *Measure) Keep(m Measure) {
	rss := max(best.PeakRSS, m.PeakRSS)
	if best.Wall == 0 || m.Wall < best.Wall {
		*best = m
	}
	best.PeakRSS = rss
}

// Run runs the program to completion and measures it. A non-zero exit is an error carrying the
// program's combined output.
func Run(ctx context.Context, name string, args ...string) (Measure, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	m := Measure{Wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.PeakRSS = ru.Maxrss * 1024
			m.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if err != nil {
		return m, fmt.Errorf("%s: %w\n%s", name, err, out.Bytes())
	}
	return m, nil
}

// Row is one comparison: the same work (Bytes of it) done by airlock and by the peer.
type Row struct {
	What   string
	Peer   string
	Ours   Measure
	Theirs Measure
	Bytes  int64
	Note   string  // optional: e.g. a second metric such as appends/s
	Target float64 // optional: the highest acceptable Ratio; Report fails the row above it
}

// Ratio is our wall time over the peer's: below 1 means airlock was faster.
func (r Row) Ratio() float64 {
	if r.Theirs.Wall <= 0 {
		return 0
	}
	return float64(r.Ours.Wall) / float64(r.Theirs.Wall)
}

// Missed reports whether the row has a target and its ratio is above it.
func (r Row) Missed() bool { return r.Target > 0 && r.Ratio() > r.Target }

// Format renders r as a tab-separated table row: marker, what, peer, ratio, target (with MISSED
// when the ratio is above it), our throughput, our peak RSS, note.
func (r Row) Format() string {
	tput := "-"
	if r.Bytes > 0 && r.Ours.Wall > 0 {
		tput = fmt.Sprintf("%.1f MB/s", float64(r.Bytes)/r.Ours.Wall.Seconds()/1e6)
	}
	target := "-"
	if r.Target > 0 {
		target = fmt.Sprintf("<= %.2f", r.Target)
		if r.Missed() {
			target += " MISSED"
		}
	}
	return fmt.Sprintf("%s\t%s\t%s\t%.2f\t%s\t%s\t%.1f MiB\t%s", Marker, r.What, r.Peer, r.Ratio(), target, tput,
		float64(r.Ours.PeakRSS)/(1<<20), r.Note)
}

// Report prints r for the table and logs it on t; a row that misses its target fails t.
func Report(t testing.TB, r Row) {
	t.Helper()
	fmt.Println(r.Format())
	t.Logf("%s vs %s: ratio %.2f, ours %v (peak RSS %d MiB), peer %v", r.What, r.Peer, r.Ratio(),
		r.Ours.Wall, r.Ours.PeakRSS>>20, r.Theirs.Wall)
	if r.Missed() {
		t.Errorf("%s: ratio %.2f against %s misses its target %.2f", r.What, r.Ratio(), r.Peer, r.Target)
	}
}
