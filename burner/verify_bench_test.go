//go:build bench

package burner

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"aead.dev/minisign"

	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sealing"
)

// TestBenchDiscVerify compares `airlock verify` of a sealed image (re-derivation of the whole
// image, then the seal and every file's SHA-256) with `sha256sum` of the image, in the same
// run, both from the page cache. $AIRLOCK_BENCH_VERIFY_MIB sets the size (default 2048).
// Target: within 1.2x of sha256sum; peak RSS printed, and bounded (the verifier streams).
func TestBenchDiscVerify(t *testing.T) {
	testenv.Need(t, "sha256sum")
	bin := testenv.Airlock(t)
	mib := benchtab.EnvInt(t, "AIRLOCK_BENCH_VERIFY_MIB", 2048)
	dir := t.TempDir()
	src := filepath.Join(dir, "disc")
	total := makeBenchTree(t, filepath.Join(src, "bundle"), int64(mib)<<20)
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := pub.MarshalText()
	st, _ := priv.MarshalText()
	pubFile := filepath.Join(dir, "seal.pub")
	os.WriteFile(pubFile, pt, 0o644)
	sk, err := sealing.ParseSealKey(st, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := sealing.SealDir(ctx, src, sk, sealing.SealInfo{Session: "bench", LogIndex: sealing.NoLogIndex}); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "disc.iso")
	if _, err := benchtab.Run(ctx, bin, "iso", "--out", img, "--epoch", "1764072000", src); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(src) // only the image stays in the page cache
	var mo, mp benchtab.Measure
	for range 2 {
		o, err := benchtab.Run(ctx, bin, "verify", "--pub", pubFile, img)
		if err != nil {
			t.Fatalf("airlock verify: %v", err)
		}
		p, err := benchtab.Run(ctx, "sha256sum", img)
		if err != nil {
			t.Fatal(err)
		}
		mo.Keep(o)
		mp.Keep(p)
	}
	row := benchtab.Row{What: fmt.Sprintf("verify %d MiB sealed image (re-derived)", mib), Peer: "sha256sum IMAGE",
		Ours: mo, Theirs: mp, Bytes: total, Target: 1.2, Note: fmt.Sprintf("peak RSS %.1f MiB (target <= 128)", float64(mo.PeakRSS)/(1<<20))}
	benchtab.Report(t, row)
	if mo.PeakRSS > 128<<20 {
		t.Errorf("peak RSS %d MiB > 128 MiB", mo.PeakRSS>>20)
	}
}
