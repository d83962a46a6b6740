//go:build bench

package burner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestBenchISO compares `airlock iso` with `xorriso -as mkisofs -R -o` on the same page-cached
// tree, for each size in $AIRLOCK_BENCH_ISO_MIB (comma-separated MiB; default 1024,4096).
// Peak RSS must stay within 64 MiB whatever the tree size: the writer streams.
func TestBenchISO(t *testing.T) {
	testenv.Need(t, "xorriso")
	bin := testenv.Airlock(t)
	sizes := os.Getenv("AIRLOCK_BENCH_ISO_MIB")
	if sizes == "" {
		sizes = "1024,4096"
	}
	for _, s := range strings.Split(sizes, ",") {
		mib, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || mib <= 0 {
			t.Fatalf("AIRLOCK_BENCH_ISO_MIB: %q", s)
		}
		benchISO(t, bin, int64(mib))
	}
}

func benchISO(t *testing.T, bin string, mib int64) {
	dir := t.TempDir()
	src := filepath.Join(dir, "tree")
	total := makeBenchTree(t, src, mib<<20)
	ctx := context.Background()
	ours := filepath.Join(dir, "ours.iso")
	peer := filepath.Join(dir, "peer.iso")
	// Each run starts with no dirty pages (the tree's or the previous image's writeback would
	// land in whoever runs next), and each side's faster of two alternating runs counts.
	settle := func(remove string) {
		if remove != "" {
			os.Remove(remove)
		}
		if err := exec.Command("sync").Run(); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	settle("")
	var mo, mp benchtab.Measure
	for range 2 {
		o, err := benchtab.Run(ctx, bin, "iso", "--out", ours, "--epoch", "1764072000", src)
		if err != nil {
			t.Fatal(err)
		}
		settle(ours)
		p, err := benchtab.Run(ctx, "xorriso", "-as", "mkisofs", "-R", "-o", peer, src)
		if err != nil {
			t.Fatal(err)
		}
		settle(peer)
		mo.Keep(o)
		mp.Keep(p)
	}
	row := benchtab.Row{What: fmt.Sprintf("iso %d MiB tree -> file", mib), Peer: "xorriso -as mkisofs -R",
		Ours: mo, Theirs: mp, Bytes: total, Target: 1.0, Note: fmt.Sprintf("peer RSS %.1f MiB", float64(mp.PeakRSS)/(1<<20))}
	benchtab.Report(t, row)
	if mo.PeakRSS > 64<<20 {
		t.Errorf("%d MiB: peak RSS %d MiB > 64 MiB", mib, mo.PeakRSS>>20)
	}
}

// makeBenchTree writes about size bytes in files of 1 KiB to 256 MiB across a few directories,
// then reads them once so that both programs start from the page cache.
func makeBenchTree(t *testing.T, dir string, size int64) int64 {
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>11)
	}
	var total int64
	for i := 0; total < size; i++ {
		fsize := min(int64(1)<<(10+i%19), size-total) // 1 KiB .. 256 MiB
		p := filepath.Join(dir, fmt.Sprintf("d%d/sub%d/file-%04d.bin", i%5, i%3, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		for left := fsize; left > 0; {
			n := min(left, int64(len(chunk)))
			chunk[0] = byte(i)
			if _, err := f.Write(chunk[:n]); err != nil {
				t.Fatal(err)
			}
			left -= n
		}
		f.Close()
		total += fsize
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			f, _ := os.Open(p)
			io.Copy(io.Discard, f)
			f.Close()
		}
		return nil
	})
	return total
}
