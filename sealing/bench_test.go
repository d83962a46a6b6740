//go:build bench

package sealing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// benchTree writes a tree of mixed file sizes totalling about mib MiB: 40% in big files
// (64-256 MiB, capped at an eighth of the total), 40% in medium ones (1-16 MiB), 20% in small ones
// (16 KiB-1 MiB). It returns the file paths and the byte count.
func benchTree(t *testing.T, dir string, mib int) ([]string, int64) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	total := int64(mib) << 20
	var files []string
	var written int64
	write := func(size int64) {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", len(files)%37), fmt.Sprintf("f%05d.bin", len(files)))
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		for left := size; left > 0; {
			n := min(left, int64(len(block)))
			off := int64(len(files)) % 4096
			if off+n > int64(len(block)) {
				off = 0
			}
			if _, err := f.Write(block[off : off+n]); err != nil {
				t.Fatal(err)
			}
			left -= n
		}
		f.Close()
		files = append(files, p)
		written += size
	}
	bigMax := max(total/8, 1<<20)
	for written < total*4/10 {
		write(min(int64(64+r.IntN(193))<<20, bigMax))
	}
	for written < total*8/10 {
		write(int64(1+r.IntN(16)) << 20)
	}
	for written < total {
		write(int64(16<<10 + r.IntN(1<<20-16<<10)))
	}
	return files, written
}

// TestBenchSeal: airlock seal (copy + parallel SHA-256 + signature) over a tree of mixed sizes,
// against the stock tools doing the same work: `cp -r` of the tree, then sha256sum over the copy
// (what a seal by hand would be). Target: no slower. Each side runs twice, alternating, keeping
// its faster run, with the page cache synced before each run so that neither pays for the
// other's writeback. Size: $AIRLOCK_BENCH_SEAL_MIB (default 2048).
func TestBenchSeal(t *testing.T) {
	testenv.Need(t, "sha256sum", "cp", "sync")
	mib := benchtab.EnvInt(t, "AIRLOCK_BENCH_SEAL_MIB", 2048)
	airlock := testenv.Airlock(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files, n := benchTree(t, src, mib)
	keys := filepath.Join(dir, "keys")
	if _, err := GenerateKeys(keys, KeygenOptions{Role: RoleApprover, Name: "bench"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(name string, args ...string) benchtab.Measure {
		t.Helper()
		if err := exec.Command("sync").Run(); err != nil {
			t.Fatal(err)
		}
		m, err := benchtab.Run(ctx, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var ours, peer benchtab.Measure
	for rep := 0; rep < 2; rep++ {
		out := filepath.Join(dir, fmt.Sprint("out", rep))
		ours.Keep(run(airlock, "seal", "--key", filepath.Join(keys, ApproverKeyFile), "--out", out, src))
		// The seal must be right, not only fast.
		if _, err := Verify(ctx, os.DirFS(out), VerifyOptions{Trusted: []*PublicKey{mustLoadPub(t, filepath.Join(keys, ApproverPubFile))}}); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(out)

		cp := filepath.Join(dir, fmt.Sprint("cp", rep))
		script := fmt.Sprintf("cp -r %q %q && cd %q && find . -type f -print0 | xargs -0 sha256sum > SHA256SUMS", src, cp, cp)
		peer.Keep(run("sh", "-c", script))
		os.RemoveAll(cp)
	}
	benchtab.Report(t, benchtab.Row{What: fmt.Sprintf("seal %d MiB, %d files", n>>20, len(files)), Peer: "cp -r + sha256sum",
		Ours: ours, Theirs: peer, Bytes: n, Target: 1.0})
}

func mustLoadPub(t *testing.T, p string) *PublicKey {
	k, err := LoadPublicKey(p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
