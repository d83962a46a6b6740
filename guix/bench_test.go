//go:build bench

package guix

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestBenchGuixVerify generates a signed export of AIRLOCK_BENCH_GUIX_MIB MiB (default 1024) of
// random files at bench time, then times `airlock guix verify` against `sha256sum` on the same
// file in the same run (page cache warm for both, best of two each). Targets: at least 90% of
// sha256sum's throughput, peak RSS at most 32 MiB.
func TestBenchGuixVerify(t *testing.T) {
	testenv.Need(t, "sha256sum")
	mib := benchtab.EnvInt(t, "AIRLOCK_BENCH_GUIX_MIB", 1024)
	airlock := testenv.Airlock(t)
	dir := t.TempDir()
	key, err := GenerateKey(testRand(1))
	if err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "bench.export")
	size, items := writeBenchExport(t, export, key, int64(mib)<<20)
	aclText, _ := NewACL(key.Public()).MarshalText()
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, aclText, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Warm the page cache so that both read from memory.
	if _, err := benchtab.Run(ctx, "sha256sum", export); err != nil {
		t.Fatal(err)
	}
	var ours, theirs benchtab.Measure
	for i := 0; i < 2; i++ {
		o, err := benchtab.Run(ctx, airlock, "guix", "verify", "--acl", acl, export)
		if err != nil {
			t.Fatal(err)
		}
		p, err := benchtab.Run(ctx, "sha256sum", export)
		if err != nil {
			t.Fatal(err)
		}
		ours.Keep(o)
		theirs.Keep(p)
	}
	row := benchtab.Row{What: fmt.Sprintf("guix verify %d MiB, %d items", mib, items), Peer: "sha256sum",
		Ours: ours, Theirs: theirs, Bytes: size, Target: 1 / 0.9}
	row.Note = fmt.Sprintf("%.0f%% of sha256sum's throughput (target >= 90%%), peak RSS target <= 32 MiB", 100/row.Ratio())
	benchtab.Report(t, row)
	if ours.PeakRSS > 32<<20 {
		t.Errorf("peak RSS %d MiB > 32 MiB", ours.PeakRSS>>20)
	}
}

// writeBenchExport writes a signed export of about total bytes: items of 64 MiB, each a
// directory of four random files, streamed to disk with constant memory.
func writeBenchExport(t *testing.T, path string, key *PrivateKey, total int64) (size int64, items int) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.NewChaCha8([32]byte{1})
	const perItem = 64 << 20
	buf := make([]byte, 1<<20)
	var nw narB
	for done := int64(0); done < total; done += perItem {
		itemSize := min(perItem, total-done)
		h := sha256.New()
		emit := func(b []byte) { w.Write(b); h.Write(b) }
		nw.b = nw.b[:0]
		nw.u64(1)
		w.Write(nw.b)
		nw.b = nw.b[:0]
		nw.s("nix-archive-1", "(", "type", "directory")
		for i := 0; i < 4; i++ {
			n := itemSize / 4
			nw.s("entry", "(", "name", fmt.Sprintf("file%d", i), "node", "(", "type", "regular", "contents")
			nw.u64(uint64(n))
			emit(nw.b)
			nw.b = nw.b[:0]
			for left := n; left > 0; {
				c := min(left, int64(len(buf)))
				rng.Read(buf[:c])
				emit(buf[:c])
				left -= c
			}
			pad := make([]byte, (8-n%8)%8)
			emit(pad)
			nw.s(")", ")")
		}
		nw.s(")")
		nw.u64(exportMagic)
		nw.s(fmt.Sprintf("/gnu/store/%s-bench-%d", EncodeBase32(buf[:20]), items))
		nw.u64(0)
		nw.s("")
		emit(nw.b)
		nw.b = nw.b[:0]
		var sum [32]byte
		h.Sum(sum[:0])
		sig, err := key.Sign(sum)
		if err != nil {
			t.Fatal(err)
		}
		nw.u64(1)
		nw.s(string(sig))
		w.Write(nw.b)
		nw.b = nw.b[:0]
		items++
	}
	var end [8]byte
	binary.LittleEndian.PutUint64(end[:], 0)
	w.Write(end[:])
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size(), items
}
