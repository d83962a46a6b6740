//go:build bench

package guix_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestBenchGuixOracleImport: `airlock guix verify` of a real multi-item export of
// AIRLOCK_BENCH_GUIX_ORACLE_MIB MiB (default 1024: eight directory items of four random files
// each, added with add-to-store, and a text item referencing them all, exported with `guix
// archive --export -r` by a real guix-daemon) against `guix archive --import` of the same file
// into an empty scratch store that authorizes the exporting key, same run, best of two each
// (the store is emptied between imports). Target: ratio <= 0.25 (airlock only reads and
// checks; the daemon also writes and registers the store).
func TestBenchGuixOracleImport(t *testing.T) {
	mib := benchtab.EnvInt(t, "AIRLOCK_BENCH_GUIX_ORACLE_MIB", 1024)
	src := testenv.GuixOracle(t)
	sink := testenv.GuixOracle(t)
	airlock := testenv.Airlock(t)
	host, in := src.TempDir()
	const items, files = 8, 4
	per := int64(mib) << 20 / (items * files)
	rng := rand.NewChaCha8([32]byte{7})
	buf := make([]byte, 1<<20)
	for i := 0; i < items; i++ {
		for j := 0; j < files; j++ {
			p := filepath.Join(host, fmt.Sprintf("item%d/sub/f%d", i, j))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			for left := per; left > 0; left -= int64(len(buf)) {
				rng.Read(buf)
				if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	scm := fmt.Sprintf(`(use-modules (guix store))
(with-store s
  (let* ((dirs (map (lambda (i) (add-to-store s (format #f "bench-item~a" i) #t "sha256"
                                              (format #f "%s/item~a" i)))
                    (iota %d)))
         (top (add-text-to-store s "bench-top" (string-join dirs "\n") dirs)))
    (display top)))
`, in, items)
	if err := os.WriteFile(filepath.Join(host, "make.scm"), []byte(scm), 0o644); err != nil {
		t.Fatal(err)
	}
	top := strings.TrimSpace(string(src.MustRun(nil, "repl", "--", in+"/make.scm")))
	export := filepath.Join(host, "bench.export")
	src.MustRun(nil, "/bin/sh", "-c", `guix archive --export -r "$0" > "$1"`, top, in+"/bench.export")
	fi, err := os.Stat(export)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(src.Etc(), "signing-key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	sink.MustRun(strings.NewReader(string(pub)), "archive", "--authorize")
	acl := filepath.Join(sink.Etc(), "acl")
	ctx := context.Background()
	// Warm the page cache for both. Not into this process: benchtab.Run keeps a program's output,
	// and a child's peak RSS counts the parent's at exec (Linux folds the old mm's high-water
	// mark into it), so a 1 GiB buffer here showed as 4 GiB for both sides.
	if _, err := benchtab.Run(ctx, "sh", "-c", `cat "$0" >/dev/null`, export); err != nil {
		t.Fatal(err)
	}
	resetPeakRSS(t)
	importArgv := sink.Argv("/bin/sh", "-c", `exec guix archive --import < "$0"`, in+"/bench.export")
	var ours, theirs benchtab.Measure
	for i := 0; i < 2; i++ {
		o, err := benchtab.Run(ctx, airlock, "guix", "verify", "--acl", acl, export)
		if err != nil {
			t.Fatal(err)
		}
		p, err := benchtab.Run(ctx, importArgv[0], importArgv[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		ours.Keep(o)
		theirs.Keep(p)
		paths := strings.Fields(string(src.MustRun(nil, "gc", "--requisites", top)))
		sink.MustRun(nil, append([]string{"gc", "--delete"}, paths...)...)
	}
	row := benchtab.Row{What: fmt.Sprintf("guix verify, real %d MiB %d-item export", mib, items+1),
		Peer: "guix archive --import", Ours: ours, Theirs: theirs, Bytes: fi.Size(), Target: 0.25,
		Note: fmt.Sprintf("CPU s: ours %.1f, guix %.1f; guix peak RSS %.0f MiB", ours.CPU.Seconds(), theirs.CPU.Seconds(),
			float64(theirs.PeakRSS)/(1<<20))}
	benchtab.Report(t, row)
}

// resetPeakRSS lowers this process's peak RSS to what it holds now: a child's peak RSS as
// benchtab.Run reads it counts the parent's at exec (Linux folds the old mm's high-water mark
// into the child's), so the bench's own set-up would otherwise show as airlock's and the peer's.
func resetPeakRSS(t *testing.T) {
	t.Helper()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("peak RSS not reset (%v): the RSS column includes this process's", err)
	}
}
