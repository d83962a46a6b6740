package scanner

import (
	"os"
	"os/exec"
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
	// The hostile corpus's walkers: handmade zips whose views disagree, tars GNU tar reads
	// differently, ar, cpio, gzip with trailing garbage, zstd with a skippable frame first.
	f.Add(handZip([]zent{{name: "d", data: []byte("data"), creator: 3, ext: 0o40755 << 16}, {name: "x", localName: "y", data: []byte("z"), deflate: true}}, []byte("stub"), []byte("tail")))
	f.Add(handZip([]zent{{name: "x", data: []byte("xx"), central: 3}, {name: "u", unicode: "v", data: []byte("u")}}, nil, nil))
	f.Add(rawTarball(rawTar{name: "c", typ: '7', data: []byte("contiguous")}, rawTar{name: "n", typ: '0', size: []byte("\x00\x0000000012\x00"), data: []byte("abc")}))
	f.Add(append(rawTarball(rawTar{name: "a", typ: '0', data: []byte("a")}), rawTarball(rawTar{name: "late", typ: 'Q', signed: true, data: []byte("\xe9")})...))
	f.Add([]byte("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n//                                              8         `\nlong.n/\n/0              0           0     0     100644  1         `\nx\n"))
	f.Add([]byte("070701000000010000816400000000000000000000000100000000000000050000000000000000000000000000000200000000a\x00hello\x00\x00\x00" +
		"07070100000000000000000000000000000000000000010000000000000000000000000000000000000000000000000b00000000TRAILER!!!\x00\x00\x00\x00"))
	f.Add(append(gz(f, tarball), "garbage"...))
	f.Add(append([]byte{0x5a, 0x2a, 0x4d, 0x18, 1, 0, 0, 0, 0}, zst(f, tarball)...))
	f.Add(append([]byte{0x5d, 0, 0, 0x80, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, 0x33, 0x1b, 0xec))
	// Archives after junk (GNU tar's and cpio's search), and an ISO image with a zisofs file.
	f.Add(append(make([]byte, 512), tarball...))
	f.Add(append([]byte("junk"), "070701000000010000816400000000000000000000000100000000000000050000000000000000000000000000000200000000a\x00hello\x00\x00\x00"+
		"07070100000000000000000000000000000000000000010000000000000000000000000000000000000000000000000b00000000TRAILER!!!\x00\x00\x00\x00"...))
	if _, err := exec.LookPath("bsdtar"); err == nil {
		tmp := f.TempDir()
		cmd := exec.Command("sh", "-ec", `mkdir t && yes 'zisofs block' | head -4000 > t/z.txt && echo plain > t/p.txt &&
			cd t && bsdtar --format=iso9660 --options zisofs -cf ../z.iso .`)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			f.Fatalf("make a zisofs image: %v\n%s", err, out)
		}
		if b, err := os.ReadFile(filepath.Join(tmp, "z.iso")); err == nil {
			f.Add(b)
		}
	}
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
