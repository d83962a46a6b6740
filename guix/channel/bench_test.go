//go:build bench

package channel

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestBenchChannelAuthenticate generates a channel of AIRLOCK_BENCH_CHANNEL_COMMITS commits
// (default 20,000; five Ed25519 signers, a merge every 50 commits) and times
// `airlock guix authenticate --repository` against the real `guix git authenticate` 1.5.0 on
// the same repository, in the same run (best of two each). Targets: ratio <= 0.5, peak RSS <=
// 512 MiB. It also times airlock on a bundle of the same channel (note column).
func TestBenchChannelAuthenticate(t *testing.T) {
	testenv.Need(t, "git")
	n := benchtab.EnvInt(t, "AIRLOCK_BENCH_CHANNEL_COMMITS", 20000)
	airlock := testenv.Airlock(t)
	root := guixRoot(t)
	var dir string
	if root != "" {
		d, err := os.MkdirTemp(filepath.Join(root, "tmp"), "airlock-bench-channel-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = filepath.Join(d, "ch.git")
	} else {
		dir = filepath.Join(t.TempDir(), "ch.git")
	}
	repo, intro, signer, head := genChannel(t, dir, n)
	bundle := filepath.Join(filepath.Dir(repo), "ch.bundle")
	if out, err := exec.Command("git", "-C", repo, "bundle", "create", bundle, "main", "keyring").CombinedOutput(); err != nil {
		t.Fatalf("git bundle: %v\n%s", err, out)
	}
	ctx := context.Background()
	var ours, theirs, ourBundle benchtab.Measure
	for i := 0; i < 2; i++ {
		o, err := benchtab.Run(ctx, airlock, "guix", "authenticate", "--commit", intro, "--signer", signer, "--end", head, "--repository", repo)
		if err != nil {
			t.Fatal(err)
		}
		ours.Keep(o)
		b, err := benchtab.Run(ctx, airlock, "guix", "authenticate", "--commit", intro, "--signer", signer, "--end", "refs/heads/main", bundle)
		if err != nil {
			t.Fatal(err)
		}
		ourBundle.Keep(b)
		if root != "" {
			in := "/tmp/" + filepath.Base(filepath.Dir(repo)) + "/ch.git"
			p, err := benchtab.Run(ctx, "chroot", root, "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LC_ALL=C.UTF-8",
				"sh", "-c", `cd "$1" && guix git authenticate "$2" "$3" --end="$4" --cache-key="$5"`, "sh",
				in, intro, signer, head, fmt.Sprintf("airlock-bench/%s-%d", filepath.Base(filepath.Dir(repo)), i))
			if err != nil {
				t.Fatal(err)
			}
			theirs.Keep(p)
		}
	}
	row := benchtab.Row{What: fmt.Sprintf("guix authenticate %d commits", n), Peer: "guix git authenticate",
		Ours: ours, Theirs: theirs, Target: 0.5,
		Note: fmt.Sprintf("bundle: %v, peak RSS %d MiB; RSS target <= 512 MiB", ourBundle.Wall.Round(1e6), ourBundle.PeakRSS>>20)}
	if root == "" {
		row.Peer, row.Target = "guix git authenticate (missing)", 0
	}
	benchtab.Report(t, row)
	if ours.PeakRSS > 512<<20 || ourBundle.PeakRSS > 512<<20 {
		t.Errorf("peak RSS %d / %d MiB > 512 MiB", ours.PeakRSS>>20, ourBundle.PeakRSS>>20)
	}
}
