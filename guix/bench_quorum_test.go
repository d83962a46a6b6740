//go:build bench

package guix

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestBenchGuixQuorum writes three builders' exports of one closure of
// AIRLOCK_BENCH_QUORUM_MIB MiB (default 1024; identical NARs, each export signed by its own
// builder's key), then times `airlock guix quorum --k 2` of the three against `airlock guix
// verify` of the three one after the other, in the same run (page cache warm, best of two each).
// Judging reads each NAR once, so the target is a ratio of at most 1.1.
func TestBenchGuixQuorum(t *testing.T) {
	mib := benchtab.EnvInt(t, "AIRLOCK_BENCH_QUORUM_MIB", 1024)
	airlock := testenv.Airlock(t)
	dir := t.TempDir()
	var builders []Builder
	var exports []string
	var size int64
	var items int
	acl := NewACL()
	for i, name := range []string{"farm-a", "farm-b", "farm-c"} {
		key, err := GenerateKey(testRand(uint64(300 + i)))
		if err != nil {
			t.Fatal(err)
		}
		builders = append(builders, Builder{Name: name, Key: key.Public()})
		acl.keys = append(acl.keys, key.Public().sexp())
		p := filepath.Join(dir, name+".export")
		var n int64
		n, items = writeBenchExport(t, p, key, int64(mib)<<20)
		size += n
		exports = append(exports, p)
	}
	bfile, afile := filepath.Join(dir, "builders"), filepath.Join(dir, "acl")
	aclText, _ := acl.MarshalText()
	if err := os.WriteFile(bfile, MarshalBuilders(builders), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(afile, aclText, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	quorum := append([]string{"guix", "quorum", "--builders", bfile, "--k", "2"}, exports...)
	if _, err := benchtab.Run(ctx, airlock, quorum...); err != nil { // warm the page cache; must approve
		t.Fatal(err)
	}
	var ours, theirs benchtab.Measure
	for rep := 0; rep < 2; rep++ {
		o, err := benchtab.Run(ctx, airlock, quorum...)
		if err != nil {
			t.Fatal(err)
		}
		var seq benchtab.Measure
		for _, e := range exports {
			m, err := benchtab.Run(ctx, airlock, "guix", "verify", "--acl", afile, e)
			if err != nil {
				t.Fatal(err)
			}
			seq.Wall += m.Wall
			seq.CPU += m.CPU
			seq.PeakRSS = max(seq.PeakRSS, m.PeakRSS)
		}
		ours.Keep(o)
		theirs.Keep(seq)
	}
	row := benchtab.Row{What: fmt.Sprintf("guix quorum k=2 of 3 exports x %d MiB, %d items each", mib, items),
		Peer: "3x guix verify", Ours: ours, Theirs: theirs, Bytes: size, Target: 1.1,
		Note: "each NAR read once"}
	benchtab.Report(t, row)
}
