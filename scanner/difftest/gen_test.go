package difftest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// eicar is the EICAR anti-malware test file, assembled at run time so that no file of the
// repository carries it whole.
func eicar() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + string(eicarTail()) + "!$H+H*")
}

// eicarTail is the part of the EICAR string the project's rules match anywhere.
func eicarTail() []byte { return []byte("EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE") }

// payload is deterministic filler that compresses a little, so member bytes are distinct per seed.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 13))
	words := []string{"alpha ", "bravo ", "charlie ", "delta\n", "echo ", "foxtrot\n", "golf "}
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(8) == 0 {
			b.WriteByte(byte(r.IntN(256)))
			continue
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// toolGen makes an archive with the real tools: script runs under sh in a directory holding the
// tree $T (src, or evil with an EICAR member) and leaves the archive in $OUT.
type toolGen struct {
	class  string
	ext    string // suffix of the case's file name
	script string
	needs  []string // tools beyond the extractors (e.g. zip)
}

// toolGens are the archives made by the real tools, ordinary and with odd options.
var toolGens = []toolGen{
	{class: "tar-gnu", ext: ".tar", script: `tar --format=gnu -cf "$OUT" "$T"`},
	{class: "tar-oldgnu", ext: ".tar", script: `tar --format=oldgnu -cf "$OUT" "$T"`},
	{class: "tar-pax", ext: ".tar", script: `tar --format=pax -cf "$OUT" "$T"`},
	{class: "tar-ustar", ext: ".tar", script: `tar --format=ustar -cf "$OUT" "$T"`},
	{class: "tar-v7", ext: ".tar", script: `tar --format=v7 -cf "$OUT" "$T"`},
	{class: "tar-gnu-sparse", ext: ".tar", script: `tar --format=gnu --sparse -cf "$OUT" "$T"`},
	{class: "tar-pax-sparse1", ext: ".tar", script: `tar --format=pax --sparse --sparse-version=1.0 -cf "$OUT" "$T"`},
	{class: "tar-gnu-incremental", ext: ".tar", script: `tar --format=gnu --listed-incremental=snar -cf "$OUT" "$T"`},
	{class: "tar-gnu-label", ext: ".tar", script: `tar --format=gnu -V VOLUME-LABEL -cf "$OUT" "$T"`},
	{class: "bsdtar-pax", ext: ".tar", script: `bsdtar --format=pax -cf "$OUT" "$T"`},
	{class: "bsdtar-ustar", ext: ".tar", script: `bsdtar --format=ustar -cf "$OUT" "$T"`},
	{class: "bsdtar-gnutar", ext: ".tar", script: `bsdtar --format=gnutar -cf "$OUT" "$T"`},
	{class: "bsdtar-v7", ext: ".tar", script: `bsdtar --format=v7 -cf "$OUT" "$T"`},
	{class: "bsdtar-newc", ext: ".cpio", script: `bsdtar --format=newc -cf "$OUT" "$T"`},
	{class: "bsdtar-odc", ext: ".cpio", script: `bsdtar --format=odc -cf "$OUT" "$T"`},
	{class: "cpio-newc", ext: ".cpio", script: `find "$T" | cpio -o --quiet -H newc > "$OUT"`},
	{class: "cpio-odc", ext: ".cpio", script: `find "$T" | cpio -o --quiet -H odc > "$OUT"`},
	{class: "cpio-bin", ext: ".cpio", script: `find "$T" | cpio -o --quiet -H bin > "$OUT"`},
	{class: "cpio-crc", ext: ".cpio", script: `find "$T" | cpio -o --quiet -H crc > "$OUT"`},
	{class: "ar-gnu", ext: ".a", script: `ar rc "$OUT" $(find "$T" -type f | sort)`},
	{class: "ar-deb-gz", ext: ".deb", script: mkDeb + `dpkg-deb -Zgzip --root-owner-group -b pkg "$OUT" >/dev/null`},
	{class: "ar-deb-xz", ext: ".deb", script: mkDeb + `dpkg-deb -Zxz --root-owner-group -b pkg "$OUT" >/dev/null`},
	{class: "ar-deb-none", ext: ".deb", script: mkDeb + `dpkg-deb -Znone --root-owner-group -b pkg "$OUT" >/dev/null`},
	{class: "zip-deflate", ext: ".zip", needs: []string{"zip"}, script: `zip -q -r "$OUT" "$T"`},
	{class: "zip-store", ext: ".zip", needs: []string{"zip"}, script: `zip -q -0 -r "$OUT" "$T"`},
	{class: "zip-symlinks", ext: ".zip", needs: []string{"zip"}, script: `zip -q -y -r "$OUT" "$T"`},
	{class: "zip-stream", ext: ".zip", needs: []string{"zip"}, script: `zip -q -r - "$T" | cat > "$OUT"`},
	{class: "zip-zip64", ext: ".zip", needs: []string{"zip"}, script: `zip -q -fz -r "$OUT" "$T"`},
	{class: "zip-fifo-stdin", ext: ".zip", needs: []string{"zip"}, script: `cat $(find "$T" -type f | sort) | zip -q -9 "$OUT" -`},
	{class: "zip-fifo-stdin-stream", ext: ".zip", needs: []string{"zip"}, script: `cat $(find "$T" -type f | sort) | zip -q - - | cat > "$OUT"`},
	{class: "zip-encrypted", ext: ".zip", needs: []string{"zip"}, script: `zip -q -P secret -r "$OUT" "$T"`},
	{class: "zip-bzip2", ext: ".zip", needs: []string{"zip"}, script: `zip -q -Z bzip2 -r "$OUT" "$T"`},
	{class: "7z-zip", ext: ".zip", script: `7z a -bd -tzip "$OUT" "$T" >/dev/null`},
	{class: "7z-zip-lzma", ext: ".zip", script: `7z a -bd -tzip -mm=LZMA "$OUT" "$T" >/dev/null`},
	{class: "7z-zip-deflate64", ext: ".zip", script: `7z a -bd -tzip -mm=Deflate64 "$OUT" "$T" >/dev/null`},
	{class: "7z-7z", ext: ".7z", script: `7z a -bd -t7z "$OUT" "$T" >/dev/null`},
	{class: "7z-tar", ext: ".tar", script: `7z a -bd -ttar "$OUT" "$T" >/dev/null`},
	{class: "bsdtar-zip", ext: ".zip", script: `bsdtar --format=zip -cf "$OUT" "$T"`},
	{class: "bsdtar-zip-stream", ext: ".zip", script: `bsdtar --format=zip -cf - "$T" | cat > "$OUT"`},
	{class: "bsdtar-zip-store", ext: ".zip", script: `bsdtar --format=zip --options zip:compression=store -cf "$OUT" "$T"`},
	{class: "bsdtar-7z", ext: ".7z", script: `bsdtar --format=7zip -cf "$OUT" "$T"`},
	{class: "bsdtar-iso9660", ext: ".iso", script: `bsdtar --format=iso9660 -cf "$OUT" "$T"`},
	{class: "bsdtar-iso9660-zisofs", ext: ".iso", script: `bsdtar --format=iso9660 --options zisofs -cf "$OUT" "$T"`},
	{class: "xorriso-rr-joliet", ext: ".iso", needs: []string{"xorriso"}, script: `xorriso -as mkisofs -quiet -R -J -joliet-long -o "$OUT" "$T" 2>/dev/null`},
	{class: "xorriso-zisofs", ext: ".iso", needs: []string{"xorriso"},
		script: `xorriso -report_about SORRY -outdev "$OUT" -rockridge on -zisofs level=9 -map "$T" /"$T" -set_filter_r --zisofs /"$T" -- -commit >/dev/null 2>&1`},
	{class: "genisoimage-joliet", ext: ".iso", needs: []string{"genisoimage"}, script: `genisoimage -quiet -J -joliet-long -o "$OUT" "$T" 2>/dev/null`},
	{class: "tar-gz", ext: ".tar.gz", script: `tar -czf "$OUT" "$T"`},
	{class: "tar-gz-multimember", ext: ".tar.gz", script: `{ tar -cf - "$T" | gzip -n; tar -cf - "$T" | gzip -1; } > "$OUT"`},
	{class: "gzip-plain", ext: ".gz", script: `cat $(find "$T" -type f | sort) | gzip -9 > "$OUT"`},
	{class: "gzip-multimember", ext: ".gz", script: `for f in $(find "$T" -type f | sort); do gzip -c "$f"; done > "$OUT"`},
	{class: "tar-bz2", ext: ".tar.bz2", script: `tar -cjf "$OUT" "$T"`},
	{class: "bzip2-multistream", ext: ".bz2", script: `for f in $(find "$T" -type f | sort); do bzip2 -c "$f"; done > "$OUT"`},
	{class: "tar-xz", ext: ".tar.xz", script: `tar -cJf "$OUT" "$T"`},
	{class: "xz-check-none-blocks", ext: ".tar.xz", script: `tar -cf - "$T" | xz --check=none --block-size=1000 > "$OUT"`},
	{class: "xz-multistream", ext: ".xz", script: `for f in $(find "$T" -type f | sort); do xz -c "$f"; done > "$OUT"`},
	{class: "tar-lzma", ext: ".tar.lzma", script: `tar -cf - "$T" | xz --format=lzma > "$OUT"`},
	{class: "tar-zst", ext: ".tar.zst", script: `tar --zstd -cf "$OUT" "$T"`},
	{class: "zstd-multiframe-nocheck", ext: ".zst", script: `for f in $(find "$T" -type f | sort); do zstd -q --no-check -c "$f"; done > "$OUT"`},
	{class: "bsdtar-tar-lz4", ext: ".tar.lz4", script: `bsdtar --lz4 -cf "$OUT" "$T"`},
	{class: "nested-tgz-in-zip", ext: ".zip", needs: []string{"zip"}, script: `tar -czf inner.tgz "$T" && zip -q "$OUT" inner.tgz`},
	{class: "nested-zip-in-txz", ext: ".tar.xz", needs: []string{"zip"}, script: `zip -q -r inner.zip "$T" && tar -cJf "$OUT" inner.zip`},
	{class: "nested-deb-in-tar", ext: ".tar", script: mkDeb + `dpkg-deb -Zgzip --root-owner-group -b pkg p.deb >/dev/null && tar -cf "$OUT" p.deb`},
	{class: "nested-cpio-gz", ext: ".cpio.gz", script: `find "$T" | cpio -o --quiet -H newc | gzip -n > "$OUT"`},
}

// mkDeb lays out a one-package tree holding $T.
const mkDeb = `mkdir -p pkg/DEBIAN pkg/usr/share && cp -r "$T" pkg/usr/share/ &&
printf 'Package: difftest\nVersion: 1\nArchitecture: all\nMaintainer: airlock\nDescription: difftest\n' > pkg/DEBIAN/control && `

// writeTree lays out the tree an archive is made of: a few members with distinct bytes, a long
// name, a symbolic link, a hard link, a sparse file and an empty directory; evil adds EICAR.
func writeTree(t testing.TB, root string, seed uint64, evil bool) {
	t.Helper()
	long := strings.Repeat("d", 120)
	files := map[string][]byte{
		"a.txt":                     payload(seed, 300),
		"sub/b.bin":                 payload(seed+1, 3000),
		long + "/c.txt":             payload(seed+2, 50),
		"sub/unicodé-ñame.txt":      payload(seed+3, 20),
		"sparse":                    nil, // made below
		"deep/er/and/deeper/d.conf": payload(seed+4, 700),
	}
	if evil {
		files["sub/eicar.com"] = append(eicar(), payload(seed+5, 10)...)
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		if name == "sparse" {
			f, err := os.Create(p)
			must(t, err)
			_, err = f.WriteAt(payload(seed+6, 100), 200<<10)
			must(t, err)
			must(t, f.Close())
			continue
		}
		must(t, os.WriteFile(p, data, 0o644))
	}
	must(t, os.Symlink("a.txt", filepath.Join(root, "link")))
	must(t, os.Link(filepath.Join(root, "a.txt"), filepath.Join(root, "hard")))
	must(t, os.MkdirAll(filepath.Join(root, "empty"), 0o755))
	// Fixed times, so that the tools make the same archive on every run and the seeded
	// mutations hit the same fields.
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, epoch, epoch)
	}))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// toolCases runs every generator on a clean and an infected tree.
func toolCases(t testing.TB, seed uint64) []*testCase {
	t.Helper()
	var out []*testCase
	for _, g := range toolGens {
		missing := false
		for _, b := range g.needs {
			if _, err := exec.LookPath(b); err != nil {
				missing = true
			}
		}
		if missing {
			needBins(t, g.needs...)
			continue
		}
		for _, evil := range []bool{false, true} {
			dir := t.TempDir()
			tree, class := "src", g.class
			if evil {
				tree, class = "evil", g.class+"/eicar"
			}
			writeTree(t, filepath.Join(dir, tree), seed, evil)
			outp := filepath.Join(dir, "out"+g.ext)
			cmd := exec.Command("sh", "-ec", g.script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "T="+tree, "OUT="+outp, "LC_ALL=C.UTF-8", "TZ=UTC", "SOURCE_DATE_EPOCH=1700000000")
			b, err := cmd.CombinedOutput()
			data, rerr := os.ReadFile(outp)
			if err != nil && (rerr != nil || len(data) == 0) {
				// Formats that cannot hold every member (ustar, v7: the long name) still
				// write the rest, and that archive is the case.
				t.Fatalf("generator %s: %v\n%s", g.class, err, b)
			}
			out = append(out, &testCase{class: class, name: strings.ReplaceAll(g.class, "/", "-") + g.ext, data: data})
		}
	}
	return out
}

// needBins reports tools that only generators use (zip) like the extractors: skip, or fail in CI.
func needBins(t testing.TB, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if testenv.InCI() {
				t.Fatalf("%s not installed (make deps installs it)", b)
			}
			t.Logf("%s not installed: its generators are left out", b)
		}
	}
}

// mutations are the edits applied to generated archives. Each is deterministic given its rng.
var mutations = []struct {
	name string
	fn   func(r *rand.Rand, b []byte) []byte
}{
	{"flip", func(r *rand.Rand, b []byte) []byte {
		b = bytes.Clone(b)
		for range 1 + r.IntN(4) {
			i := r.IntN(min(len(b), 2048))
			if r.IntN(2) == 0 {
				i = r.IntN(len(b))
			}
			b[i] ^= byte(1 << r.IntN(8))
		}
		return b
	}},
	{"truncate", func(r *rand.Rand, b []byte) []byte { return bytes.Clone(b[:r.IntN(len(b))]) }},
	{"append", func(r *rand.Rand, b []byte) []byte {
		tail := []byte("trailing bytes after the archive\n")
		if r.IntN(2) == 0 {
			tail = payload(r.Uint64(), 1+r.IntN(700))
		}
		return append(bytes.Clone(b), tail...)
	}},
	{"prepend", func(r *rand.Rand, b []byte) []byte {
		head := []byte("#!/bin/sh\nexit 0\n")
		if r.IntN(2) == 0 {
			head = make([]byte, 512*(1+r.IntN(2)))
		}
		return append(head, b...)
	}},
	{"dup-head", func(r *rand.Rand, b []byte) []byte {
		// The first member again, in front: duplicate tar headers or zip local entries.
		n := min(len(b), 512*(1+r.IntN(3)))
		return append(bytes.Clone(b[:n]), b...)
	}},
	{"tar-field", func(r *rand.Rand, b []byte) []byte {
		// A header field rewritten with the checksum fixed, so readers take the header.
		b = bytes.Clone(b)
		if len(b) < 512 {
			return b
		}
		blk := b[:512]
		switch r.IntN(4) {
		case 0:
			blk[156] = "0123456789KLxgSVDMNQZ"[r.IntN(21)]
		case 1:
			copy(blk[100:108], fmt.Sprintf("%07o\x00", []int{0o10644, 0o20644, 0o60644, 0o140644, 0o170777}[r.IntN(5)]))
		case 2:
			copy(blk[124:136], fmt.Sprintf("%011o\x00", r.IntN(5000)))
		case 3:
			copy(blk[345:], "prefix/dir")
		}
		tarChecksum(blk)
		return b
	}},
	{"zip-field", func(r *rand.Rand, b []byte) []byte {
		// A central directory field rewritten: mode, attributes, method or a size.
		b = bytes.Clone(b)
		i := bytes.Index(b, []byte("PK\x01\x02"))
		if i < 0 || i+46 > len(b) {
			return b
		}
		c := b[i:]
		switch r.IntN(4) {
		case 0:
			binary.LittleEndian.PutUint32(c[38:], uint32([]int{0o10644, 0o20644, 0o40755, 0o60644, 0o140644}[r.IntN(5)])<<16)
			c[5] = 3 // made on Unix
		case 1:
			binary.LittleEndian.PutUint32(c[38:], 0x10)
			c[5] = 0 // MS-DOS: directory
		case 2:
			binary.LittleEndian.PutUint16(c[10:], []uint16{0, 8, 12, 14, 93, 99}[r.IntN(6)])
		case 3:
			binary.LittleEndian.PutUint32(c[20:], uint32(r.IntN(100)))
		}
		return b
	}},
}

// mutationBases are the generated archives mutated in the default run.
var mutationBases = []string{"tar-gnu", "tar-pax", "tar-ustar", "zip-deflate", "zip-store", "bsdtar-zip-stream",
	"cpio-newc", "ar-gnu", "tar-gz", "zip-fifo-stdin", "7z-zip", "tar-xz"}

// mutationsPerBase is how many of the mutations each base gets in the default run (chosen by
// the seed), to keep the run within its minute.
const mutationsPerBase = 3

// mutatedCases applies mutationsPerBase mutations to every base (clean trees only: an infected base is
// refused whatever happens to it) with one seeded rng per (base, mutation).
func mutatedCases(cases []*testCase, seed uint64) []*testCase {
	var out []*testCase
	for _, c := range cases {
		if !contains(mutationBases, c.class) {
			continue
		}
		pick := rand.New(rand.NewPCG(seed, uint64(len(c.data)))).Perm(len(mutations))[:mutationsPerBase]
		for _, mi := range pick {
			m := mutations[mi]
			r := rand.New(rand.NewPCG(seed, uint64(mi)<<32|uint64(len(c.data))))
			data := m.fn(r, c.data)
			if bytes.Equal(data, c.data) {
				continue
			}
			out = append(out, &testCase{class: c.class + "/" + m.name, name: "m-" + m.name + "-" + c.name, data: data})
		}
	}
	return out
}

// tarChecksum sets the checksum of the 512-byte tar header blk (unsigned sum, as writers do).
func tarChecksum(blk []byte) {
	copy(blk[148:156], "        ")
	sum := 0
	for _, c := range blk[:512] {
		sum += int(c)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// mayBeArchive reports whether data carries the signature of some format a stock tool opens,
// anywhere in it: only such members are handed to the tools again (the top-level file always is).
// It is deliberately broader than airlock's own detection; the tools decide.
func mayBeArchive(data []byte) bool {
	for _, sig := range archiveSigs {
		if bytes.Contains(data, []byte(sig)) {
			return true
		}
	}
	return len(data) >= 512 && tarSumOK(data[:512])
}

var archiveSigs = []string{
	"PK\x03\x04", "PK\x05\x06", "PK\x07\x08", "ustar", "7z\xbc\xaf\x27\x1c", "Rar!\x1a\x07", "\x1f\x8b\x08", "1AY&SY",
	"\xfd7zXZ\x00", "\x28\xb5\x2f\xfd", "\x2a\x4d\x18", "070701", "070702", "070707", "\xc7\x71", "\x71\xc7", "!<arch>\n",
	"begin ", "MSCF", "\x5d\x00\x00", "\x7fELF", "MZ", "-lh", "hsqs", "CD001", "xar!", "\x1f\x9d", "LZIP", "\x04\x22\x4d\x18",
}

// tarSumOK reports whether blk's checksum field matches its signed or unsigned sum.
func tarSumOK(blk []byte) bool {
	var u, s int
	for i, c := range blk[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		u += int(c)
		s += int(int8(c))
	}
	f := strings.Trim(string(blk[148:156]), " \x00")
	var v int
	if _, err := fmt.Sscanf(f, "%o", &v); err != nil || f == "" {
		return false
	}
	return v == u || v == s
}
