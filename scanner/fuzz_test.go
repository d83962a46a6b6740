package scanner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// FuzzWalk feeds arbitrary bytes to the walker as a top-level file: whatever the archive
// formats inside, it must not panic and must give a known verdict with a reason for anything
// it could not see.
func FuzzWalk(f *testing.F) {
	tarball := mkTar(f, entry{"a/b.txt", []byte("hello")}, entry{"c", eicar()})
	f.Add(tarball)
	f.Add(gz(f, tarball))
	f.Add(xzc(f, tarball))
	f.Add(zst(f, tarball))
	f.Add(mkZip(f, entry{"x", []byte("zip entry")}, entry{"y/z", eicar()}))
	f.Add(gz(f, mkTar(f, entry{"in.zip", mkZip(f, entry{"deep", []byte("deep")})})))
	f.Add([]byte("BZh91AY&SY"))
	f.Add(append([]byte("#!/bin/sh\nexit 0\n"), mkZip(f, entry{"sfx", eicar()})...)) // zip-appended
	f.Add([]byte("7z\xbc\xaf\x27\x1c\x00\x04"))
	dir := testenv.GuixVectors(f)
	for _, name := range []string{"p2.nar", "p4.nar", "p2-only.export", "trailing-garbage.export"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			f.Add(b)
		}
	}
	s := testScanner(f, Options{Workers: 1, Limits: Limits{MaxExpanded: 8 << 20, MaxEntries: 1000}, MemoryBudget: 1 << 20,
		BlockSize: 64 << 10, BlockOverlap: 4 << 10, TempDir: f.TempDir()})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := scanOne(t, s, "fuzz.bin", data)
		for _, g := range append([]File{r.File}, r.Inner...) {
			switch g.Verdict {
			case Clean, Match:
			case Unscannable, LimitHit:
				if g.Reason == "" {
					t.Fatalf("%s: %s without a reason", g.Path, g.Verdict)
				}
			default:
				t.Fatalf("%s: verdict %q", g.Path, g.Verdict)
			}
			if !strings.HasPrefix(g.Path, "fuzz.bin") {
				t.Fatalf("path %q", g.Path)
			}
		}
	})
}
