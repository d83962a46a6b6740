//go:build bench

package sandbox

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/internal/benchtab"
)

// benchTree writes about mib MiB under a new directory: text files, real binaries from /usr/bin
// and .tar.gz files of both (so the walk descends), and returns it and the bytes written.
func benchTree(t *testing.T, mib int) (string, int64) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	var bins []string
	filepath.WalkDir("/usr/bin", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Size() > 4096 && fi.Size() < 16<<20 {
				bins = append(bins, p)
			}
		}
		return nil
	})
	words := []string{"the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dog\n"}
	text := func() []byte {
		b := make([]byte, 4<<10+rng.IntN(256<<10))
		for j := 0; j < len(b); {
			j += copy(b[j:], words[rng.IntN(len(words))])
		}
		return b
	}
	var total int64
	target := int64(mib) << 20
	var tw *tar.Writer
	var gz *gzip.Writer
	var tf *os.File
	for i := 0; total < target; i++ {
		var data []byte
		if i%2 == 0 || len(bins) == 0 {
			data = text()
		} else if b, err := os.ReadFile(bins[i%len(bins)]); err == nil {
			data = b
		} else {
			continue
		}
		if i%5 == 0 { // every fifth file goes into the current tarball
			if tw == nil {
				f, err := os.Create(filepath.Join(dir, fmt.Sprintf("t%04d.tar.gz", i)))
				if err != nil {
					t.Fatal(err)
				}
				tf, gz = f, gzip.NewWriter(f)
				tw = tar.NewWriter(gz)
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%05d", i), Mode: 0o644, Size: int64(len(data))})
			tw.Write(data)
			if i%50 == 0 {
				tw.Close()
				gz.Close()
				tf.Close()
				tw = nil
			}
		} else {
			p := filepath.Join(dir, fmt.Sprintf("d%02d", i%8), fmt.Sprintf("f%05d", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		total += int64(len(data))
	}
	if tw != nil {
		tw.Close()
		gz.Close()
		tf.Close()
	}
	return dir, total
}

func selfRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBenchSandbox: the same import-style scan (spool, parent re-check) in the sandboxed worker
// and in-process (--no-sandbox), best of AIRLOCK_BENCH_REPS (3) each, alternating; target: at most
// 5% slower. The note gives the CPU-time ratio too, which a loaded machine disturbs less.
// Size: AIRLOCK_BENCH_SANDBOX_MIB (default 256).
func TestBenchSandbox(t *testing.T) {
	mib := benchtab.EnvInt(t, "AIRLOCK_BENCH_SANDBOX_MIB", 256)
	reps := benchtab.EnvInt(t, "AIRLOCK_BENCH_REPS", 3)
	dir, n := benchTree(t, mib)
	rules := testRules(t)
	run := func(c *Config) (benchtab.Measure, Confinement) {
		spool := t.TempDir()
		cpu0 := selfCPU()
		start := time.Now()
		res, conf, err := c.Scan(context.Background(), &ScanRequest{Source: Source{Path: dir, Kind: Dir}, Rules: rules, SpoolDir: spool})
		if err == nil {
			err = Recheck(res, spool)
		}
		if err != nil {
			t.Fatal(err)
		}
		// CPU: this process's (the parent, or the whole in-process scan) plus the worker's.
		m := benchtab.Measure{Wall: time.Since(start), PeakRSS: conf.PeakRSS, CPU: selfCPU() - cpu0 + conf.CPU}
		os.RemoveAll(spool)
		return m, conf
	}
	// In-process, the scan runs under the memory limit airlock scan sets, as the worker does.
	debug.SetMemoryLimit(64 << 20)
	run(&Config{}) // warm the page cache for both sides
	var ours, theirs benchtab.Measure
	var parentRSS int64
	for i := 0; i < reps; i++ {
		m, _ := run(&Config{})
		ours.Keep(m)
		if i == 0 {
			parentRSS = selfRSS() // before any in-process run grows this process
		}
		m, _ = run(&Config{Disabled: true})
		m.PeakRSS = selfRSS()
		theirs.Keep(m)
	}
	row := benchtab.Row{What: fmt.Sprintf("scan %d MiB in the sandboxed worker", mib), Peer: "same scan in-process (--no-sandbox)",
		Ours: ours, Theirs: theirs, Bytes: n, Target: 1.05,
		Note: fmt.Sprintf("CPU ratio %.2f; peak RSS: worker %d MiB, parent %d MiB (in-process run %d MiB)",
			float64(ours.CPU)/float64(max(theirs.CPU, 1)), ours.PeakRSS>>20, parentRSS>>20, theirs.PeakRSS>>20)}
	benchtab.Report(t, row)
}
