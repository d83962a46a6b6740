package scanner

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// The hostile corpus: files built so that some stock extractor (unzip, bsdtar, GNU tar, 7z)
// produces bytes that a naive reading does not see. Every case asserts what airlock says and,
// where a stock tool is at hand, that the tool really extracts the EICAR bytes (so the case is
// hostile, not merely odd): airlock must then never call the file clean.

// stockSees runs every stock extractor that applies to sample and returns the names of those
// whose output holds the EICAR string.
func stockSees(t *testing.T, sample string) []string {
	t.Helper()
	cmds := map[string][]string{
		"unzip -p":               {"unzip", "-p", sample},
		"bsdtar -xOf":            {"bsdtar", "-xOf", sample},
		"bsdtar -xOf - (a pipe)": {"sh", "-c", `bsdtar -xOf - < "$1"`, "sh", sample},
		"tar -xOf":               {"tar", "-xOf", sample},
		"tar -ixOf":              {"tar", "-ixOf", sample},
		"7z e -so":               {"7z", "e", "-so", sample},
	}
	var seen []string
	for name, argv := range cmds {
		if _, err := exec.LookPath(argv[0]); err != nil {
			continue
		}
		out, _ := exec.Command(argv[0], argv[1:]...).Output() // many warn and exit non-zero, yet extract
		if bytes.Contains(out, []byte("EICAR-STANDARD-ANTIVIRUS")) {
			seen = append(seen, name)
		}
	}
	return seen
}

// checkHostile scans sample and requires verdict want for the top-level file's worst verdict,
// and a stock tool that extracts EICAR from it (unless noTool).
func checkHostile(t *testing.T, s *Scanner, sample string, want Verdict, noTool bool) Result {
	t.Helper()
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	r := scanOne(t, s, "sample", data)
	seen := stockSees(t, sample)
	if !noTool && len(seen) == 0 {
		t.Errorf("no stock tool extracts EICAR from the sample: the case tests nothing")
	}
	if got := r.Worst(); got != want {
		t.Errorf("worst verdict %s, want %s (stock tools that extract EICAR: %v); problems:\n%s", got, want, seen, strings.Join(r.Problems(), "\n"))
	}
	if len(seen) > 0 && r.Worst() == Clean {
		t.Errorf("clean, but %v extract EICAR", seen)
	}
	return r
}

// sh runs a shell script in dir with eicar.txt there, for samples the real tools make.
func sh(t *testing.T, dir, script string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "eicar.txt"), eicar(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// zent is one entry of a handmade zip.
type zent struct {
	name    string
	data    []byte
	deflate bool
	creator byte   // "version made by" high byte (3 Unix, 0 MS-DOS)
	ext     uint32 // external attributes
	unicode string // Unicode Path extra field name (in both headers)
	// localName and localMethod, if set, are what the local header says instead.
	localName   string
	localMethod int
	hidden      bool // in the local entries only, not in the central directory
	central     int  // >0: list this entry this many times in the central directory
}

// handZip builds a zip from es by hand, so that its two views can disagree.
func handZip(es []zent, prefix, trailing []byte) []byte {
	var b bytes.Buffer
	b.Write(prefix)
	var cd bytes.Buffer
	count := 0
	for _, e := range es {
		off := b.Len() - len(prefix)
		payload, method := e.data, uint16(0)
		if e.deflate {
			var c bytes.Buffer
			w, _ := flate.NewWriter(&c, 9)
			w.Write(e.data)
			w.Close()
			payload, method = c.Bytes(), 8
		}
		crc := crc32.ChecksumIEEE(e.data)
		var extra []byte
		if e.unicode != "" {
			x := []byte{0x75, 0x70, 0, 0, 1}
			x = binary.LittleEndian.AppendUint32(x, crc32.ChecksumIEEE([]byte(e.name)))
			x = append(x, e.unicode...)
			binary.LittleEndian.PutUint16(x[2:], uint16(len(x)-4))
			extra = x
		}
		lname, lmethod := e.name, method
		if e.localName != "" {
			lname = e.localName
		}
		if e.localMethod != 0 {
			lmethod = uint16(e.localMethod)
		}
		le := binary.LittleEndian
		h := []byte("PK\x03\x04")
		h = le.AppendUint16(h, 20)
		h = le.AppendUint16(h, 0)
		h = le.AppendUint16(h, lmethod)
		h = le.AppendUint32(h, 0)
		h = le.AppendUint32(h, crc)
		h = le.AppendUint32(h, uint32(len(payload)))
		h = le.AppendUint32(h, uint32(len(e.data)))
		h = le.AppendUint16(h, uint16(len(lname)))
		h = le.AppendUint16(h, uint16(len(extra)))
		b.Write(h)
		b.WriteString(lname)
		b.Write(extra)
		b.Write(payload)
		if e.hidden {
			continue
		}
		for range max(e.central, 1) {
			c := []byte("PK\x01\x02")
			c = append(c, 20, e.creator)
			c = le.AppendUint16(c, 20)
			c = le.AppendUint16(c, 0)
			c = le.AppendUint16(c, method)
			c = le.AppendUint32(c, 0)
			c = le.AppendUint32(c, crc)
			c = le.AppendUint32(c, uint32(len(payload)))
			c = le.AppendUint32(c, uint32(len(e.data)))
			c = le.AppendUint16(c, uint16(len(e.name)))
			c = le.AppendUint16(c, uint16(len(extra)))
			c = le.AppendUint16(c, 0)
			c = le.AppendUint16(c, 0)
			c = le.AppendUint16(c, 0)
			c = le.AppendUint32(c, e.ext)
			c = le.AppendUint32(c, uint32(off))
			cd.Write(c)
			cd.WriteString(e.name)
			cd.Write(extra)
			count++
		}
	}
	cdOff := b.Len() - len(prefix)
	b.Write(cd.Bytes())
	le := binary.LittleEndian
	end := []byte("PK\x05\x06")
	end = le.AppendUint32(end, 0)
	end = le.AppendUint16(end, uint16(count))
	end = le.AppendUint16(end, uint16(count))
	end = le.AppendUint32(end, uint32(cd.Len()))
	end = le.AppendUint32(end, uint32(cdOff))
	end = le.AppendUint16(end, 0)
	b.Write(end)
	b.Write(trailing)
	return b.Bytes()
}

// hidden is EICAR padded and deflated, so that no scan of the raw bytes sees it.
func hidden() []byte {
	return append(eicar(), bytes.Repeat([]byte("pad\n"), 500)...)
}

func TestHostileZip(t *testing.T) {
	testenv.Need(t, "zip", "unzip", "bsdtar")
	s := testScanner(t, Options{Workers: 2})
	clean := zent{name: "readme.txt", data: []byte("nothing to see"), creator: 3, ext: 0o100644 << 16}
	cases := []struct {
		name   string
		script string // made by the real tools, or:
		zip    []byte
		want   Verdict
		noTool bool // no stock tool extracts it (the case is about a refusal)
	}{
		{name: "fifo-mode-from-stdin", script: `{ cat eicar.txt; yes pad | head -2000; } | zip -q -9 sample -`, want: Match},
		{name: "unix-dir-mode-with-data", zip: handZip([]zent{{name: "d", data: hidden(), deflate: true, creator: 3, ext: 0o40755 << 16}}, nil, nil), want: Match},
		{name: "unix-socket-mode-with-data", zip: handZip([]zent{{name: "s", data: hidden(), deflate: true, creator: 3, ext: 0o140755 << 16}}, nil, nil), want: Match},
		{name: "unix-chardev-mode-with-data", zip: handZip([]zent{{name: "c", data: hidden(), deflate: true, creator: 3, ext: 0o20644 << 16}}, nil, nil), want: Match},
		{name: "msdos-dir-attribute-without-slash", zip: handZip([]zent{{name: "d", data: hidden(), deflate: true, creator: 0, ext: 0x10}}, nil, nil), want: Match},
		{name: "local-name-differs", zip: handZip([]zent{{name: "a.txt", localName: "b.exe", data: hidden(), deflate: true, creator: 3, ext: 0o100644 << 16}}, nil, nil), want: Match},
		{name: "local-method-differs", zip: handZip([]zent{clean, {name: "x", localMethod: 12, data: hidden(), deflate: true, creator: 3, ext: 0o100644 << 16}}, nil, nil), want: Match, noTool: true},
		{name: "local-entry-not-in-central-directory", zip: handZip([]zent{{name: "x", data: hidden(), deflate: true, hidden: true}, clean}, nil, nil), want: Unscannable},
		{name: "local-entry-between-entries", zip: handZip([]zent{clean, {name: "x", data: hidden(), deflate: true, hidden: true}, clean}, nil, nil), want: Unscannable, noTool: true},
		{name: "local-entry-before-sfx-zip", zip: handZip([]zent{clean}, handZip([]zent{{name: "x", data: hidden(), deflate: true, hidden: true}}, nil, nil), nil), want: Unscannable},
		{name: "unicode-path-differs", zip: handZip([]zent{{name: "a.txt", unicode: "b.exe", data: hidden(), deflate: true, creator: 3, ext: 0o100644 << 16}}, nil, nil), want: Match},
		{name: "backslash-name", zip: handZip([]zent{{name: `dir\x.exe`, data: hidden(), deflate: true, creator: 0}}, nil, nil), want: Match},
		{name: "appended-with-trailing-bytes", script: `cat eicar.txt > in; yes pad | head -2000 >> in; zip -q -9 z.zip in; { printf '#!/bin/sh\nexit 0\n'; cat z.zip; printf 'trailing bytes'; } > sample`, want: Match},
		{name: "zip-after-text-prefix", script: `cat eicar.txt > in; yes pad | head -2000 >> in; zip -q -9 z.zip in; { yes 'some text' | head -100; cat z.zip; } > sample`, want: Match},
		{name: "overlapping-stored-entries", zip: handZip([]zent{{name: "x", data: bytes.Repeat([]byte("x"), 1000), creator: 3, ext: 0o100644 << 16, central: 300}}, nil, nil), want: Unscannable, noTool: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sample := filepath.Join(dir, "sample")
			if c.script != "" {
				sh(t, dir, c.script)
				if _, err := os.Stat(sample); err != nil {
					os.Rename(sample+".zip", sample)
				}
			} else if err := os.WriteFile(sample, c.zip, 0o644); err != nil {
				t.Fatal(err)
			}
			r := checkHostile(t, s, sample, c.want, c.noTool)
			if c.want == Match && !hasUnscannableOrDisagreement(r) && !strings.HasPrefix(c.name, "fifo") && !strings.HasPrefix(c.name, "zip-after") {
				t.Errorf("matched, but the disagreement was not also refused:\n%s", strings.Join(r.Problems(), "\n"))
			}
		})
	}
}

// hasUnscannableOrDisagreement reports whether some file of r is unscannable.
func hasUnscannableOrDisagreement(r Result) bool {
	for _, f := range append([]File{r.File}, r.Inner...) {
		if f.Verdict == Unscannable || strings.Contains(f.Reason, "refused") || strings.Contains(f.Reason, "disagree") {
			return true
		}
	}
	return false
}

// rawTar is one handmade tar header block and its data, padded.
type rawTar struct {
	name, prefix string
	typ          byte
	size         []byte // the 12-byte size field as written; nil: octal of len(data)
	magic        string // 8 bytes at 257; "" for ustar\x0000
	signed       bool   // checksum as the signed sum
	data         []byte
}

func (h rawTar) bytes() []byte {
	b := make([]byte, 512)
	copy(b, h.name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	if h.size != nil {
		copy(b[124:], h.size)
	} else {
		copy(b[124:], fmt.Sprintf("%011o\x00", len(h.data)))
	}
	copy(b[136:], "00000000000\x00")
	b[156] = h.typ
	if h.magic == "" {
		h.magic = "ustar\x0000"
	}
	copy(b[257:], h.magic)
	copy(b[345:], h.prefix)
	var sum int64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' '
		}
		if h.signed {
			sum += int64(int8(c))
		} else {
			sum += int64(c)
		}
	}
	if sum < 0 {
		copy(b[148:], fmt.Sprintf("%07o\x00", sum&0o7777777))
	} else {
		copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	}
	out := append(b, h.data...)
	return append(out, make([]byte, (512-len(h.data)%512)%512)...)
}

func rawTarball(hs ...rawTar) []byte {
	var b []byte
	for _, h := range hs {
		b = append(b, h.bytes()...)
	}
	return append(b, make([]byte, 1024)...)
}

func TestHostileTar(t *testing.T) {
	testenv.Need(t, "tar", "bsdtar", "gzip")
	s := testScanner(t, Options{Workers: 2})
	pad := hidden()
	clean := rawTar{name: "readme", typ: '0', data: []byte("hello")}
	cases := []struct {
		name   string
		tar    []byte
		want   Verdict
		noTool bool
	}{
		{name: "contiguous-type-7", tar: rawTarball(rawTar{name: "c", typ: '7', data: pad}), want: Match},
		{name: "unknown-type-letter", tar: rawTarball(rawTar{name: "q", typ: 'Q', data: pad}), want: Match},
		{name: "member-after-end-marker", tar: append(rawTarball(clean), rawTarball(rawTar{name: "late", typ: '0', data: pad})...), want: Match},
		{name: "signed-checksum", tar: rawTarball(rawTar{name: "\xe9t\xe9", typ: '0', signed: true, data: pad}), want: Match},
		// GNU tar skips one NUL and reads the next as the end of the number: size 0, and
		// the "data" is read as the next header; archive/tar trims every NUL and reads 2000.
		{name: "size-nuls-then-digits", tar: rawTarball(rawTar{name: "n", typ: '0', size: []byte("\x00\x00000003720\x00"), data: pad}), want: Unscannable, noTool: true},
		{name: "directory-with-data", tar: rawTarball(rawTar{name: "d/", typ: '5', data: pad}), want: Unscannable, noTool: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sample := filepath.Join(dir, "sample")
			if err := os.WriteFile(sample, gz(t, c.tar), 0o644); err != nil {
				t.Fatal(err)
			}
			checkHostile(t, s, sample, c.want, c.noTool)
		})
	}
	// The ustar prefix under magics and versions tools read differently: airlock must name the
	// member as GNU tar does, or refuse.
	for _, magic := range []string{"ustar\x0000", "ustar\x00  ", "ustar\x00\x00\x00", "ustar  \x00", "ustar \x00 "} {
		t.Run(fmt.Sprintf("prefix-magic-%q", magic), func(t *testing.T) {
			dir := t.TempDir()
			sample := filepath.Join(dir, "sample")
			if err := os.WriteFile(sample, rawTarball(rawTar{name: "x", prefix: "hidden/dir", typ: '0', magic: magic, data: pad}), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("tar", "-tf", sample).Output()
			if err != nil {
				t.Fatal(err)
			}
			gnuName := strings.TrimSpace(string(out))
			r := checkHostile(t, s, sample, Match, false)
			if len(r.Inner) != 1 || r.Inner[0].Path != "sample!"+gnuName {
				if !strings.Contains(r.Reason, "tar views disagree") {
					t.Errorf("GNU tar names the member %q, airlock %+v %+v", gnuName, r.File, r.Inner)
				}
			}
		})
	}
}

// toolOut runs a shell command with data on stdin and returns its output.
func toolOut(t *testing.T, command string, data []byte) []byte {
	t.Helper()
	cmd := exec.Command("sh", "-c", command)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return out
}

// TestCompressedStreamsAsTheirTools: gzip and bzip2 decode what precedes trailing garbage (and
// warn), multi-member gzip and zstd streams that start with a skippable frame decode whole.
func TestCompressedStreamsAsTheirTools(t *testing.T) {
	testenv.Need(t, "gzip", "bzip2", "zstd")
	s := testScanner(t, Options{Workers: 2})
	tarEICAR := mkTar(t, entry{"e", hidden()})
	tarClean := mkTar(t, entry{"c", []byte("clean")})
	skippable := append([]byte{0x5a, 0x2a, 0x4d, 0x18, 4, 0, 0, 0}, "skip"...)
	cases := []struct {
		name string
		data []byte
		want Verdict
		tool string // shell command reading the sample on stdin whose output must hold EICAR
	}{
		{"gzip-trailing-garbage-clean", append(gz(t, tarClean), "trailing garbage"...), Clean, ""},
		{"gzip-trailing-garbage-eicar-in-member", append(gz(t, tarEICAR), "trailing garbage"...), Match, "gzip -dc 2>/dev/null"},
		{"gzip-trailing-garbage-is-eicar", append(gz(t, tarClean), eicar()...), Match, ""},
		{"gzip-multi-member", append(gz(t, []byte("first member\n")), gz(t, hidden())...), Match, "gzip -dc"},
		{"bzip2-trailing-garbage", append(bz2(t, tarEICAR), "trailing garbage"...), Match, "bzip2 -dc 2>/dev/null"},
		{"bzip2-trailing-garbage-clean", append(bz2(t, tarClean), "trailing garbage"...), Clean, ""},
		{"zstd-skippable-frame-first", append(skippable, zst(t, tarEICAR)...), Match, "zstd -dc"},
		{"lzma-alone-tar", toolOut(t, "xz --format=lzma -c", tarEICAR), Match, "xz --format=lzma -dc | tar -xOf -"},
		{"lzma-alone-plain", toolOut(t, "xz --format=lzma -c", hidden()), Match, "lzma -dc"},
		{"lzma-alone-truncated", toolOut(t, "xz --format=lzma -c", tarEICAR)[:100], Unscannable, ""},
		{"lzma-like-header-plain-file", append([]byte{0x5d, 0, 0, 0x80, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "not lzma at all, just text that follows"...), Clean, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := scanOne(t, s, "sample", c.data)
			if got := r.Worst(); got != c.want {
				t.Errorf("worst %s, want %s:\n%s", got, c.want, strings.Join(r.Problems(), "\n"))
			}
			if c.tool != "" {
				cmd := exec.Command("sh", "-c", c.tool)
				cmd.Stdin = bytes.NewReader(c.data)
				out, _ := cmd.Output()
				if !bytes.Contains(out, []byte("EICAR-STANDARD")) {
					t.Errorf("%s does not produce EICAR: the case tests nothing", c.tool)
				}
			}
		})
	}
}

// TestEmbeddedOpaque: a 7z, RAR or CAB archive inside an executable (a self-extractor, which 7z
// opens by searching for it) is unscannable, not a clean executable; programs that merely hold
// the signatures as constants stay clean. An LHA archive is opaque.
func TestEmbeddedOpaque(t *testing.T) {
	testenv.Need(t, "7z")
	s := testScanner(t, Options{Workers: 2})
	dir := t.TempDir()
	sh(t, dir, `{ cat eicar.txt; yes pad | head -2000; } > in; 7z a -bd -mx9 a.7z in >/dev/null; cat /bin/true a.7z > elf7z`)
	if _, err := os.Stat("/usr/lib/p7zip/7zCon.sfx"); err == nil {
		sh(t, dir, `7z a -bd -mx9 -sfx sfx.exe in >/dev/null`)
	}
	for _, name := range []string{"elf7z", "sfx.exe"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		r := checkHostile(t, s, p, Unscannable, false)
		if !strings.Contains(r.Reason, "7z archive at offset") {
			t.Errorf("%s: reason %q", name, r.Reason)
		}
	}
	prog, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	// A RAR 4 marker and archive header (type 0x73, flags 0, size 13, CRC-16 of it), by hand.
	ah := []byte{0, 0, 0x73, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(ah, uint16(crc32.ChecksumIEEE(ah[2:])))
	rar := append(append(bytes.Clone(prog), "Rar!\x1a\x07\x00"...), ah...)
	if r := scanOne(t, s, "elfrar", rar); r.Verdict != Unscannable || !strings.Contains(r.Reason, "RAR archive at offset") {
		t.Errorf("ELF with a RAR archive: %s %q", r.Verdict, r.Reason)
	}
	lha := append([]byte{0x20, 0, '-', 'l', 'h', '5', '-'}, make([]byte, 40)...)
	if r := scanOne(t, s, "a.lzh", lha); r.Verdict != Unscannable || !strings.Contains(r.Reason, "LHA") {
		t.Errorf("LHA: %s %q", r.Verdict, r.Reason)
	}
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libarchive.so.13", "/usr/lib/p7zip/7z.so", "/usr/bin/bsdtar", "/usr/lib/p7zip/7zCon.sfx"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if r := scanOne(t, s, filepath.Base(p), b); r.Verdict != Clean {
			t.Errorf("%s: %s %q, want clean (signatures as constants are no archive)", p, r.Verdict, r.Reason)
		}
	}
}

// TestArCpio: members of ar (.deb) and cpio archives are compressed tars and streams; they are
// walked, as dpkg-deb, ar and cpio -i (and the kernel, for initramfs) unpack them.
func TestArCpio(t *testing.T) {
	testenv.Need(t, "ar", "cpio", "xz", "gzip", "tar")
	s := testScanner(t, Options{Workers: 2})
	dir := t.TempDir()
	sh(t, dir, `{ cat eicar.txt; yes pad | head -2000; } > payload
tar -cf - payload | xz -c > data.tar.xz; echo 2.0 > debian-binary; tar -cf - debian-binary | gzip -c > control.tar.gz
ar rc deb debian-binary control.tar.gz data.tar.xz
gzip -c payload > p.gz
echo p.gz | cpio -o --quiet -H newc > newc
echo p.gz | cpio -o --quiet -H odc > odc
echo p.gz | cpio -o --quiet -H bin > bin
echo debian-binary | cpio -o --quiet -H newc > first; cat first newc > concatenated
echo payload | cpio -o --quiet -H newc | gzip -c > second.gz; cat first second.gz > initramfs`)
	views := map[string]string{
		"deb":          `ar p deb data.tar.xz | xz -dc | tar -xOf -`,
		"newc":         `cpio -i --quiet --to-stdout < newc | gzip -dc`,
		"odc":          `cpio -i --quiet --to-stdout < odc | gzip -dc`,
		"bin":          `cpio -i --quiet --to-stdout < bin | gzip -dc`,
		"concatenated": `tail -c +$(($(wc -c < first) + 1)) concatenated | cpio -i --quiet --to-stdout | gzip -dc`,
		"initramfs":    `tail -c +$(($(wc -c < first) + 1)) initramfs | gzip -dc | cpio -i --quiet --to-stdout`,
	}
	for name, view := range views {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", view)
			cmd.Dir = dir
			out, _ := cmd.Output()
			if !bytes.Contains(out, []byte("EICAR-STANDARD")) {
				t.Fatalf("%s does not show EICAR: the case tests nothing", view)
			}
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			r := scanOne(t, s, name, data)
			if r.Worst() != Match {
				t.Errorf("worst %s, want match:\n%s", r.Worst(), strings.Join(r.Problems(), "\n"))
			}
			for _, g := range append([]File{r.File}, r.Inner...) {
				if g.Verdict == Unscannable {
					t.Errorf("%s unscannable: %s", g.Path, g.Reason)
				}
			}
		})
	}
}

// TestNameBounds: a component over NAME_MAX or a path over PATH_MAX is a named limit, and so are
// more path bytes than Limits.MaxPathBytes (a 9 MB NAR of 50,000 empty files under 3.8 KB of
// directories took 300 MB to scan and 1.1 GB to report as JSON).
func TestNameBounds(t *testing.T) {
	s := testScanner(t, Options{Workers: 1, Limits: Limits{MaxPathBytes: 64 << 10}})
	long := strings.Repeat("n", 256)
	deep := strings.Repeat(strings.Repeat("d", 200)+"/", 21) + "f"
	many := []entry{}
	for i := range 300 {
		many = append(many, entry{fmt.Sprintf("%s/%03d", strings.Repeat("p", 250), i), nil})
	}
	for _, c := range []struct {
		name  string
		data  []byte
		limit string
	}{
		{"component-over-NAME_MAX", mkTar(t, entry{"ok", []byte("x")}, entry{"dir/" + long, []byte("x")}), LimitName},
		{"path-over-PATH_MAX", mkTar(t, entry{deep, []byte("x")}), LimitName},
		{"path-bytes", gz(t, mkTar(t, many...)), LimitPathBytes},
		{"zip-component-over-NAME_MAX", mkZip(t, entry{long, []byte("x")}), LimitName},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := scanOne(t, s, "sample", c.data)
			found := false
			for _, g := range append([]File{r.File}, r.Inner...) {
				found = found || (g.Verdict == LimitHit && g.Limit == c.limit && len(g.Path) <= len("sample!")+maxPathBytes+3)
			}
			if !found || r.Worst() != LimitHit {
				t.Errorf("want limit %s:\n%s", c.limit, strings.Join(r.Problems(), "\n"))
			}
		})
	}
}

// TestUUEncoded: uuencoded and begin-base64 blocks anywhere in a text file are decoded and
// scanned, as uudecode writes them.
func TestUUEncoded(t *testing.T) {
	testenv.Need(t, "uuencode", "uudecode")
	s := testScanner(t, Options{Workers: 2})
	dir := t.TempDir()
	sh(t, dir, `{ cat eicar.txt; yes pad | head -2000; } | gzip -c > p.gz
{ echo "Dear user, the file follows."; uuencode p.gz p.gz; } > uu
{ echo "Dear user, the file follows."; uuencode -m p.gz p.gz; } > b64`)
	for _, name := range []string{"uu", "b64"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", "uudecode -o /dev/stdout "+name+" | gzip -dc")
			cmd.Dir = dir
			if out, _ := cmd.Output(); !bytes.Contains(out, []byte("EICAR-STANDARD")) {
				t.Fatal("uudecode does not give EICAR: the case tests nothing")
			}
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if r := scanOne(t, s, name, data); r.Worst() != Match {
				t.Errorf("worst %s, want match:\n%s", r.Worst(), strings.Join(r.Problems(), "\n"))
			}
		})
	}
	// Text that merely mentions a begin line is scanned as the text it is.
	if r := scanOne(t, s, "doc.txt", []byte("How to:\nbegin 644 name\nis what uuencode writes first.\n")); r.Worst() != Clean {
		t.Errorf("doc: %s %q", r.Worst(), r.Problems())
	}
}

// TestOrdinaryTarsAccepted: what GNU tar and bsdtar write in every format they offer (long
// names, sparse files, pax headers) is walked clean, never refused by the two-view check.
func TestOrdinaryTarsAccepted(t *testing.T) {
	testenv.Need(t, "tar", "bsdtar", "truncate")
	s := testScanner(t, Options{Workers: 2})
	dir := t.TempDir()
	sh(t, dir, `mkdir -p tree/`+strings.Repeat("long-directory-name-", 8)+` && echo hello > tree/small
echo deep > tree/`+strings.Repeat("long-directory-name-", 8)+`/`+strings.Repeat("file", 30)+`
truncate -s 600K tree/sparse && echo data >> tree/sparse && ln -s small tree/link && ln tree/small tree/hard
for f in gnu oldgnu pax posix ustar v7; do tar --sparse --format=$f -cf $f.tar tree 2>/dev/null || true; done
for f in pax ustar gnutar v7tar; do bsdtar --format $f -cf bsd-$f.tar tree 2>/dev/null || true; done`)
	entries, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
	if len(entries) < 6 {
		t.Fatalf("only %d tars made", len(entries))
	}
	for _, p := range entries {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		r := scanOne(t, s, name, data)
		if r.Worst() != Clean {
			t.Errorf("%s: %s:\n%s", name, r.Worst(), strings.Join(r.Problems(), "\n"))
		}
		if len(r.Inner) < 3 {
			t.Errorf("%s: %d inner files", name, len(r.Inner))
		}
	}
}
