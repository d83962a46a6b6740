//go:build bench

package scanner

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// benchCorpus builds two trees of the same content, about mib MiB: packed (what a stick holds:
// text files, binaries from /usr, and tarballs .tar.gz/.tar.zst/.tar.xz) and extracted (the same
// with every tarball unpacked), for airlock and yara -r respectively. It returns the trees and
// the bytes of content in extracted.
func benchCorpus(t *testing.T, mib int) (packed, extracted string, content int64) {
	t.Helper()
	dir := os.Getenv("AIRLOCK_BENCH_SCAN_DIR") // keep the corpus there (for profiling)
	if dir == "" {
		dir = t.TempDir()
	}
	packed, extracted = filepath.Join(dir, "packed"), filepath.Join(dir, "extracted")
	target := int64(mib) << 20
	rng := rand.New(rand.NewPCG(1, 2))
	// The pool of real binaries.
	var bins []string
	for _, root := range []string{"/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/libexec"} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil && fi.Size() > 4096 && fi.Size() < 32<<20 {
					bins = append(bins, p)
				}
			}
			return nil
		})
	}
	next := 0
	// fill writes about n bytes of text files and binaries under dir (both trees when both).
	fill := func(n int64, dirs ...string) int64 {
		var done int64
		for i := 0; done < n; i++ {
			var data []byte
			name := fmt.Sprintf("f%05d", i)
			if i%3 == 0 {
				data = make([]byte, 4<<10+rng.IntN(512<<10))
				words := []string{"the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dog\n", "fn main() {", "return 0;\n"}
				for j := 0; j < len(data); {
					j += copy(data[j:], words[rng.IntN(len(words))])
				}
				name += ".txt"
			} else {
				b, err := os.ReadFile(bins[next%len(bins)])
				next++
				if err != nil {
					continue
				}
				data = b
				name += ".bin"
			}
			for _, d := range dirs {
				writeFile(t, filepath.Join(d, fmt.Sprintf("d%02d", i%16), name), data)
			}
			done += int64(len(data))
		}
		return done
	}
	content += fill(target*55/100, packed, extracted)
	// Tarballs: 30% of the content, in pieces of ~16 MiB, three compressors.
	comps := [][]string{{"-z", ".tar.gz"}, {"--zstd", ".tar.zst"}, {"-J", ".tar.xz"}}
	for i := 0; content < target; i++ {
		src := filepath.Join(extracted, fmt.Sprintf("tarball%02d", i))
		content += fill(16<<20, src)
		c := comps[i%len(comps)]
		env := append(os.Environ(), "XZ_OPT=-1 -T1", "ZSTD_CLEVEL=3", "GZIP=-6")
		cmd := exec.Command("tar", "-C", src, c[0], "-cf", filepath.Join(packed, fmt.Sprintf("tarball%02d%s", i, c[1])), ".")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tar: %v %s", err, out)
		}
	}
	return packed, extracted, content
}

// sameWork is the work of airlock scan on packed done with stock tools, two at a time like
// yara -p 2: unpack every tarball (tar, which runs gzip, zstd or xz), SHA-256 every file of the
// stick and every unpacked file (sha256sum), then yara -r -p 2 over the loose files and the
// unpacked ones. $1 rules, $2 packed, $3 an empty directory for the unpacked files.
const sameWork = `set -eu
rules=$1 packed=$2 out=$3
cd "$packed"
find . -maxdepth 1 -name 'tarball*' -print0 | xargs -0 -P 2 -I '{}' sh -c 'mkdir "$1/$2" && tar -xf "$2" -C "$1/$2"' sh "$out" '{}'
find . "$out" -type f -print0 | xargs -0 -P 2 -n 256 sha256sum >/dev/null
for d in */; do ln -s "$packed/$d" "$out/loose-${d%/}"; done
yara -r -p 2 "$rules" "$out"
`

// TestBenchScan: airlock scan (hash + scan + recursion) of the packed corpus vs yara -r -p 2 on
// the extracted corpus, same rules (the target of issue 6), and vs stock tools doing the same
// work (sameWork). Size: AIRLOCK_BENCH_SCAN_MIB (default 1024).
//
// The first ratio cannot reach 1.0: yara spends its time in libyara's scan loop, which airlock
// runs over the same bytes, and airlock also decompresses and hashes them; the rows print each
// side's CPU time so the floor (yara's CPU plus decompression plus hashing) can be read off.
func TestBenchScan(t *testing.T) {
	testenv.Need(t, "yara", "tar", "xz", "zstd", "gzip")
	mib := benchtab.EnvInt(t, "AIRLOCK_BENCH_SCAN_MIB", 1024)
	packed, extracted, content := benchCorpus(t, mib)
	rules := filepath.Join(testenv.RepoRoot(), "scanner", "rules", "airlock.yar")
	airlock := testenv.Airlock(t)
	ctx := context.Background()
	// Warm the page cache for both trees the same way.
	for _, d := range []string{packed, extracted} {
		exec.Command("sh", "-c", "find "+d+" -type f -exec cat {} + > /dev/null").Run()
	}
	checkSameContent(t, airlock, rules, packed, extracted)
	// The machine is shared: run each side twice, alternating, and keep each side's faster run
	// (peak RSS: the larger of the two).
	var peer, ours, flat, stock, unpack benchtab.Measure
	run := func(best *benchtab.Measure, name string, args ...string) {
		m, err := benchtab.Run(ctx, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		best.Keep(m)
	}
	for range 2 {
		// Decompression alone, by the reference decoders: with yara's CPU, the floor below.
		run(&unpack, "sh", "-c", `cd "$1" && find . -maxdepth 1 -name 'tarball*' -print0 | xargs -0 -P 2 -n 1 tar -xOf >/dev/null`, "sh", packed)
		out := filepath.Join(t.TempDir(), "unpacked")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		run(&stock, "sh", "-c", sameWork, "sh", rules, packed, out)
		if err := os.RemoveAll(out); err != nil { // not to be timed in anyone's page cache writeback
			t.Fatal(err)
		}
		exec.Command("sync").Run()
		run(&peer, "yara", "-r", "-p", "2", rules, extracted)
		run(&ours, airlock, "scan", "--rules", rules, packed)
		// The same tree for both: what hashing and the walk cost over libyara alone.
		run(&flat, airlock, "scan", "--rules", rules, extracted)
	}
	// Any scanner that runs libyara over these bytes and decompresses them with these decoders
	// on the same 2 cores needs at least yara's CPU plus the decoders'; yara -p 2 keeps both
	// cores busy, so that sum over yara's CPU bounds the ratio from below (hashing not counted).
	floor := (peer.CPU + unpack.CPU).Seconds() / peer.CPU.Seconds()
	cpu := func(m benchtab.Measure) string { return fmt.Sprintf("%.1f", m.CPU.Seconds()) }
	same := benchtab.Row{What: fmt.Sprintf("scan %d MiB mixed", mib), Peer: "tar -x + sha256sum + yara -r -p 2", Ours: ours, Theirs: stock,
		Bytes: content, Target: 0.8, Note: fmt.Sprintf("same work; CPU s: ours %s, theirs %s", cpu(ours), cpu(stock))}
	benchtab.Report(t, same)
	// Issue 21: within 5% of the floor measured in the same run (the old <= 1.0 is below it).
	alone := benchtab.Row{What: fmt.Sprintf("scan %d MiB mixed", mib), Peer: "yara -r -p 2 (extracted)", Ours: ours, Theirs: peer, Bytes: content,
		Target: 1.05 * floor,
		Note: fmt.Sprintf("target 1.05 x floor %.2f: CPU s: ours %s, yara %s, decoders alone %s; yara %.1f MB/s",
			floor, cpu(ours), cpu(peer), cpu(unpack), float64(content)/peer.Wall.Seconds()/1e6)}
	benchtab.Report(t, alone)
	benchtab.Report(t, benchtab.Row{What: fmt.Sprintf("scan %d MiB extracted", mib), Peer: "yara -r -p 2", Ours: flat, Theirs: peer,
		Bytes: content, Note: fmt.Sprintf("same tree; airlock also hashes; CPU s: ours %s, yara %s", cpu(flat), cpu(peer))})
	if ours.PeakRSS > 128<<20 {
		t.Errorf("peak RSS %d MiB > 128 MiB", ours.PeakRSS>>20)
	}
}

// checkSameContent keeps the comparison honest: airlock, untimed, must report on packed exactly
// the leaf files (not archives) that extracted holds for yara, same count and same bytes, all
// clean, so neither side is timed on less work than the other.
func checkSameContent(t *testing.T, airlock, rules, packed, extracted string) {
	t.Helper()
	out, err := exec.Command(airlock, "scan", "--json", "--rules", rules, packed).Output()
	if err != nil {
		t.Fatalf("airlock scan --json: %v", err)
	}
	var rep Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("airlock scan --json: %v", err)
	}
	var leaves, leafBytes, want, wantBytes int64
	// A binary holding an archive or stream after other bytes (which 7z, GNU tar or cpio find
	// there) is one file in extracted too: a leaf with its own bytes, what was found in it not.
	var found []string
	for _, f := range rep.Files {
		if f.Verdict != Clean {
			t.Fatalf("%s: %v %s", f.Path, f.Verdict, f.Reason)
		}
		inFound := false
		for _, p := range found {
			inFound = inFound || strings.HasPrefix(f.Path, p+"!")
		}
		switch {
		case inFound:
			continue
		case f.Format == FormatEmbedded || f.Format == FormatTarAppended || f.Format == FormatCpioAppended:
			found = append(found, f.Path)
			leaves++
			leafBytes += f.Size
			continue
		}
		if f.Format == "" && f.Type == "" {
			leaves++
			leafBytes += f.Size
		}
	}
	filepath.WalkDir(extracted, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				want++
				wantBytes += fi.Size()
			}
		}
		return nil
	})
	if leaves != want || leafBytes != wantBytes {
		t.Fatalf("airlock scanned %d files, %d bytes in packed; extracted holds %d files, %d bytes", leaves, leafBytes, want, wantBytes)
	}
}
