package difftest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// hostileGen builds one hostile file around payload (the member whose bytes must be scanned).
// Most are built byte by byte here; a few need a real tool for a codec Go lacks (LZMA, bzip2, 7z).
type hostileGen struct {
	class string
	ext   string
	why   string // what the file does, for the corpus README
	needs []string
	gen   func(t testing.TB, payload []byte) []byte
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var hostileGens = []hostileGen{
	{class: "zip-fifo-mode", ext: ".zip", why: "zip entry whose Unix mode says FIFO, as `zip` reading stdin writes it; deflated data",
		gen: func(t testing.TB, p []byte) []byte { return zipMode(t, p, fs.ModeNamedPipe|0o600) }},
	{class: "zip-device-mode", ext: ".zip", why: "zip entry whose Unix mode says character device, with data",
		gen: func(t testing.TB, p []byte) []byte { return zipMode(t, p, fs.ModeDevice|fs.ModeCharDevice|0o600) }},
	{class: "zip-socket-mode", ext: ".zip", why: "zip entry whose Unix mode says socket, with data",
		gen: func(t testing.TB, p []byte) []byte { return zipMode(t, p, fs.ModeSocket|0o600) }},
	{class: "zip-dir-attr-noslash", ext: ".zip", why: "MS-DOS attributes say directory, the name has no trailing '/', the entry has data",
		gen: zipDirAttr},
	{class: "zip-central-local-name", ext: ".zip", why: "local header names the entry b.txt, the central directory a.txt",
		gen: zipLocalName},
	{class: "zip-central-local-size", ext: ".zip", why: "stored entry: central directory sizes cover 4 bytes, the local header all of them",
		gen: zipCentralSize},
	{class: "zip-local-not-in-central", ext: ".zip", why: "a stored local entry before the first one the central directory lists; streaming readers extract it",
		gen: zipHiddenLocal},
	{class: "zip-prefix-unadjusted", ext: ".zip", why: "bytes before the zip, offsets not adjusted for them",
		gen: func(t testing.TB, p []byte) []byte {
			return append([]byte("MZ not really a stub\n"), mkZip(t, 0, "p.txt", p)...)
		}},
	{class: "zip-suffix-bytes", ext: ".zip", why: "bytes after the end-of-central-directory record",
		gen: func(t testing.TB, p []byte) []byte { return append(mkZip(t, 0, "p.txt", p), "trailing bytes\n"...) }},
	{class: "zip-after-text-prefix", ext: ".txt", why: "a zip after a text prefix, offsets adjusted, then trailing bytes",
		gen: func(t testing.TB, p []byte) []byte {
			head := []byte(strings.Repeat("Release notes: nothing to see here.\n", 4))
			out := append(head, mkZip(t, int64(len(head)), "p.txt", p)...)
			return append(out, "\n-- end of notes --\n"...)
		}},
	{class: "zip-unicode-path-extra", ext: ".zip", why: "header name a.txt, Unicode Path extra field (0x7075) names it b.txt",
		gen: zipUnicodePath},
	{class: "zip-backslash-name", ext: ".zip", why: "entry name with '\\' separators",
		gen: func(t testing.TB, p []byte) []byte { return mkZip(t, 0, `dir\sub\p.txt`, p) }},
	{class: "zip-overlap-stored", ext: ".zip", why: "three central entries point at one stored local entry",
		gen: zipOverlap},
	{class: "zip-dup-names", ext: ".zip", why: "two entries of one name with different bytes; extractors keep the last",
		gen: func(t testing.TB, p []byte) []byte {
			return mkZipEntries(t, 0, zent{"p.txt", []byte("first, harmless\n"), zip.Deflate}, zent{"p.txt", p, zip.Deflate})
		}},
	{class: "tar-type7", ext: ".tar", why: "tar entry of type '7' (contiguous file): GNU tar and bsdtar extract a regular file",
		gen: func(t testing.TB, p []byte) []byte { return mkTarType(t, '7', p) }},
	{class: "tar-unknown-type", ext: ".tar", why: "tar entry of type 'Q' (undefined): GNU tar extracts it as a regular file",
		gen: func(t testing.TB, p []byte) []byte { return mkTarType(t, 'Q', p) }},
	{class: "tar-size-nul-digits", ext: ".tar", why: "size field NUL then digits: GNU tar and Go read the digits, bsdtar reads 0 and finds a member inside the data",
		gen: tarNulSize},
	{class: "tar-ustar-prefix-mixed", ext: ".tar", why: "magic 'ustar\\0' with version NUL NUL and a prefix: GNU tar, bsdtar and Go's reader all prepend it, 7z too",
		gen: func(t testing.TB, p []byte) []byte {
			return tarEnd(rawTarHeader("p.txt", int64(len(p)), '0', "ustar\x00\x00\x00", "pfx"), p)
		}},
	{class: "tar-gnu-magic-prefix", ext: ".tar", why: "GNU magic ('ustar  \\0') with a name in the ustar prefix field: GNU tar and bsdtar ignore it, Go's reader (so airlock's name) prepends it",
		gen: func(t testing.TB, p []byte) []byte {
			return tarEnd(rawTarHeader("p.txt", int64(len(p)), '0', "ustar  \x00", "pfx"), p)
		}},
	{class: "tar-after-eoa", ext: ".tar", why: "a member after the end-of-archive zero blocks: tar -i extracts it",
		gen: func(t testing.TB, p []byte) []byte {
			return append(mkTar(t, "first.txt", []byte("before the end marker\n")), mkTar(t, "hidden.txt", p)...)
		}},
	{class: "tar-after-eoa-gz", ext: ".tar.gz", why: "tar-after-eoa, gzipped",
		gen: func(t testing.TB, p []byte) []byte {
			return gz(append(mkTar(t, "first.txt", []byte("before the end marker\n")), mkTar(t, "hidden.txt", p)...))
		}},
	{class: "tar-v7-signed-checksum", ext: ".tar", why: "v7 header (no magic), a name byte >= 0x80, checksum as the signed sum",
		gen: tarSigned},
	{class: "tar-type7-gz", ext: ".tar.gz", why: "tar-type7, gzipped: the container's byte scan sees nothing",
		gen: func(t testing.TB, p []byte) []byte { return gz(mkTarType(t, '7', p)) }},
	{class: "ar-data-tar-gz", ext: ".deb", why: "ar (.deb layout) whose data.tar.gz holds the payload",
		gen: func(t testing.TB, p []byte) []byte {
			return mkAr(arm{"debian-binary", []byte("2.0\n")}, arm{"control.tar.gz", gz(mkTar(t, "control", []byte("Package: x\n")))},
				arm{"data.tar.gz", gz(mkTar(t, "usr/share/p.txt", p))})
		}},
	{class: "cpio-newc", ext: ".cpio", why: "cpio newc archive holding the payload",
		gen: func(t testing.TB, p []byte) []byte { return mkCpioNewc("p.txt", p) }},
	{class: "cpio-newc-gz-member", ext: ".cpio", why: "cpio newc archive whose member is a gzipped tar",
		gen: func(t testing.TB, p []byte) []byte { return mkCpioNewc("inner.tar.gz", gz(mkTar(t, "p.txt", p))) }},
	{class: "lzma-alone", ext: ".tar.lzma", needs: []string{"xz"}, why: "legacy .lzma (LZMA-alone) stream of a tar",
		gen: func(t testing.TB, p []byte) []byte { return pipe(t, mkTar(t, "p.txt", p), "xz", "--format=lzma", "-c") }},
	{class: "uuencode-tar", ext: ".uu", why: "uuencoded tar ('begin 644'): bsdtar decodes it",
		gen: func(t testing.TB, p []byte) []byte { return uuencode("p.tar", mkTar(t, "p.txt", p)) }},
	{class: "base64-tar", ext: ".b64", why: "'begin-base64' encoded tar: bsdtar decodes it",
		gen: func(t testing.TB, p []byte) []byte {
			return []byte("begin-base64 644 p.tar\n" + wrap(base64.StdEncoding.EncodeToString(mkTar(t, "p.txt", p)), 76) + "====\n")
		}},
	{class: "zstd-skippable-frame", ext: ".tar.zst", why: "a zstd skippable frame before the zstd frame of a tar",
		gen: func(t testing.TB, p []byte) []byte {
			skip := []byte{0x50, 0x2a, 0x4d, 0x18, 8, 0, 0, 0, 'a', 'i', 'r', 'l', 'o', 'c', 'k', '!'}
			return append(skip, zst(t, mkTar(t, "p.txt", p))...)
		}},
	{class: "gzip-trailing-garbage", ext: ".tar.gz", why: "gzip of a tar, then garbage: gzip warns and decompresses",
		gen: func(t testing.TB, p []byte) []byte {
			return append(gz(mkTar(t, "p.txt", p)), "garbage after the stream\n"...)
		}},
	{class: "gzip-truncated", ext: ".gz", why: "a gzip stream cut inside its deflate data: gzip -d writes more than Go decodes, and airlock calls it clean",
		gen: func(t testing.TB, p []byte) []byte {
			b := gz(append(bytes.Repeat([]byte("-"), 512), p...))
			return b[:len(b)*2/3] // inside the deflate data, as the fuzzer first cut one
		}},
	{class: "bzip2-trailing-garbage", ext: ".tar.bz2", needs: []string{"bzip2"}, why: "bzip2 of a tar, then garbage",
		gen: func(t testing.TB, p []byte) []byte {
			return append(pipe(t, mkTar(t, "p.txt", p), "bzip2", "-c"), "garbage after the stream\n"...)
		}},
	{class: "elf-sfx-7z", ext: "", needs: []string{"7z"}, why: "a 7z archive after a minimal ELF header (self-extractor layout): 7z opens it",
		gen: func(t testing.TB, p []byte) []byte { return append(elfStub(), mk7z(t, p)...) }},
	{class: "zip-tar-polyglot", ext: ".zip", why: "a zip whose first local header is also a valid tar header: zip readers see entry 'a', tar readers a member named by the zip header's first bytes",
		gen: zipTarPolyglot},
	{class: "tar-longlink-gz", ext: ".tar", why: "a GNU long-name ('L') header whose data is a gzip of the payload: cpio writes it as the file @LongLink",
		gen: func(t testing.TB, p []byte) []byte {
			ll := gz(p)
			b := append(rawTarHeader("././@LongLink", int64(len(ll)), 'L', "ustar  \x00", ""), ll...)
			b = append(b, make([]byte, (512-len(ll)%512)%512)...)
			return append(b, mkTar(t, "p.txt", []byte("the member the long name names\n"))...)
		}},
	{class: "tar-pax-header-gz", ext: ".tar", why: "a pax ('x') header whose data is a gzip of the payload: cpio writes it as the file PaxHeaders/p.txt",
		gen: func(t testing.TB, p []byte) []byte {
			px := gz(p)
			b := append(rawTarHeader("PaxHeaders/p.txt", int64(len(px)), 'x', "ustar\x0000", ""), px...)
			b = append(b, make([]byte, (512-len(px)%512)%512)...)
			return append(b, mkTar(t, "p.txt", []byte("the member the pax header describes\n"))...)
		}},
	{class: "cpio-junk-prefix", ext: ".cpio", why: "text before a newc cpio whose member is a gzipped tar: GNU cpio skips the junk and extracts it",
		gen: func(t testing.TB, p []byte) []byte {
			return append([]byte("#!/bin/sh\nexit 0\n"), mkCpioNewc("inner.tar.gz", gz(mkTar(t, "p.txt", p)))...)
		}},
	{class: "cpio-junk-between", ext: ".cpio", why: "junk between two newc members (the second a gzipped tar): GNU cpio and bsdtar skip it and extract both",
		gen: func(t testing.TB, p []byte) []byte {
			first := mkCpioNewc("first.txt", []byte("before the junk\n"))
			first = first[:len(first)-124] // without its trailer (110 bytes, the name, padding)
			b := append(first, "junk, not a header\n"...)
			return append(b, mkCpioNewc("inner.tar.gz", gz(mkTar(t, "p.txt", p)))...)
		}},
	{class: "tar-junk-prefix", ext: ".tar", why: "a 512-byte junk block before a tar whose member is a gzipped tar: GNU tar skips to the next header and extracts it",
		gen: func(t testing.TB, p []byte) []byte {
			junk := bytes.Repeat([]byte("junk block, not a tar header\n"), 20)[:512]
			return append(junk, mkTar(t, "inner.tar.gz", gz(mkTar(t, "p.txt", p)))...)
		}},
	{class: "tar-after-eoa-junk", ext: ".tar", why: "after the end-of-archive marker, a junk block and then a member (a gzipped tar): tar -i skips the junk and extracts it",
		gen: func(t testing.TB, p []byte) []byte {
			b := mkTar(t, "first.txt", []byte("before the end marker\n"))
			b = append(b, bytes.Repeat([]byte("junk block after the end\n"), 21)[:512]...)
			return append(b, mkTar(t, "inner.tar.gz", gz(mkTar(t, "p.txt", p)))...)
		}},
	{class: "gzip-embedded", ext: ".txt", why: "text, then a gzipped tar holding the payload (found by FuzzDifferential): 7z finds the gzip stream at its offset and opens it",
		gen: func(t testing.TB, p []byte) []byte {
			return append([]byte("Release notes, nothing else in here.\n"), gz(mkTar(t, "p.txt", p))...)
		}},
	{class: "xz-embedded", ext: ".bin", needs: []string{"xz"}, why: "bytes, then an xz stream of a tar holding the payload: 7z finds it at its offset",
		gen: func(t testing.TB, p []byte) []byte {
			return append([]byte("\x00\x01binary header\xff"), pipe(t, mkTar(t, "p.txt", p), "xz", "-c")...)
		}},
	{class: "tar-unaligned", ext: ".bin", why: "12 bytes, then a ustar tar whose member is a gzipped tar: 7z opens a tar at any offset",
		gen: func(t testing.TB, p []byte) []byte {
			return append([]byte("JUNKJUNKjunk"), mkTar(t, "inner.tar.gz", gz(mkTar(t, "p.txt", p)))...)
		}},
	{class: "tar-dup-names", ext: ".tar", why: "two members of one name; extractors keep the last",
		gen: func(t testing.TB, p []byte) []byte {
			b := mkTar(t, "p.txt", []byte("first, harmless\n"))
			return append(b[:len(b)-1024], mkTar(t, "p.txt", p)...)
		}},
}

// benign is the corpus payload: distinct per class, harmless, so the committed files carry no
// EICAR (the default run builds every generator again with EICAR as the payload).
func benign(class string) []byte {
	return []byte(fmt.Sprintf("airlock hostile corpus payload for %s: every stock tool extracts these bytes\n", class))
}

// hostileCases builds every hostile generator with EICAR as the payload (TestHostileCorpus
// checks the committed benign ones).
func hostileCases(t testing.TB) []*testCase {
	var out []*testCase
	for _, g := range hostileGens {
		if !haveAll(g.needs) {
			needBins(t, g.needs...)
			continue
		}
		out = append(out, &testCase{class: g.class + "/eicar", name: g.class + "-eicar" + g.ext, data: g.gen(t, eicar())})
	}
	return out
}

func haveAll(bins []string) bool {
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			return false
		}
	}
	return true
}

type zent struct {
	name   string
	data   []byte
	method uint16
}

func mkZip(t testing.TB, offset int64, name string, data []byte) []byte {
	return mkZipAt(t, offset, zent{name, data, zip.Deflate})
}

func mkZipEntries(t testing.TB, offset int64, es ...zent) []byte { return mkZipAt(t, offset, es...) }

func mkZipAt(t testing.TB, offset int64, es ...zent) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	w.SetOffset(offset)
	for _, e := range es {
		fh := &zip.FileHeader{Name: e.name, Method: e.method, Modified: epoch}
		f, err := w.CreateHeader(fh)
		must(t, err)
		_, err = f.Write(e.data)
		must(t, err)
	}
	must(t, w.Close())
	return b.Bytes()
}

// zipRaw writes one entry with its sizes in the local header (no data descriptor).
func zipRaw(t testing.TB, w *zip.Writer, fh *zip.FileHeader, data []byte) {
	t.Helper()
	fh.Method = zip.Store
	fh.CRC32 = crc32.ChecksumIEEE(data)
	fh.CompressedSize64, fh.UncompressedSize64 = uint64(len(data)), uint64(len(data))
	fh.Modified = epoch
	f, err := w.CreateRaw(fh)
	must(t, err)
	_, err = f.Write(data)
	must(t, err)
}

func zipMode(t testing.TB, p []byte, mode fs.FileMode) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	fh := &zip.FileHeader{Name: "payload.txt", Method: zip.Deflate, Modified: epoch}
	fh.SetMode(mode)
	f, err := w.CreateHeader(fh)
	must(t, err)
	_, err = f.Write(p)
	must(t, err)
	must(t, w.Close())
	return b.Bytes()
}

func zipDirAttr(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	fh := &zip.FileHeader{Name: "notadir", CreatorVersion: 20, ExternalAttrs: 0x10} // creator 0: MS-DOS
	zipRaw(t, w, fh, p)
	must(t, w.Close())
	return b.Bytes()
}

func zipLocalName(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	zipRaw(t, w, &zip.FileHeader{Name: "a.txt"}, p)
	must(t, w.Close())
	out := b.Bytes()
	copy(out[30:], "b.txt") // the local header's name; the central directory keeps a.txt
	return out
}

func zipCentralSize(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	zipRaw(t, w, &zip.FileHeader{Name: "p.txt"}, p)
	must(t, w.Close())
	out := b.Bytes()
	c := bytes.LastIndex(out, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(out[c+16:], crc32.ChecksumIEEE(p[:4]))
	binary.LittleEndian.PutUint32(out[c+20:], 4)
	binary.LittleEndian.PutUint32(out[c+24:], 4)
	return out
}

func zipHiddenLocal(t testing.TB, p []byte) []byte {
	var h bytes.Buffer
	hw := zip.NewWriter(&h)
	zipRaw(t, hw, &zip.FileHeader{Name: "hidden.txt"}, p)
	must(t, hw.Flush())
	hidden := bytes.Clone(h.Bytes()) // the local entry only, before any central directory
	var b bytes.Buffer
	b.Write(hidden)
	w := zip.NewWriter(&b)
	w.SetOffset(int64(len(hidden)))
	zipRaw(t, w, &zip.FileHeader{Name: "listed.txt"}, []byte("the only entry the central directory lists\n"))
	must(t, w.Close())
	return b.Bytes()
}

func zipUnicodePath(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	extra := []byte{0x75, 0x70, 0, 0, 1, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(extra[2:], uint16(5+len("b.txt")))
	binary.LittleEndian.PutUint32(extra[5:], crc32.ChecksumIEEE([]byte("a.txt")))
	extra = append(extra, "b.txt"...)
	zipRaw(t, w, &zip.FileHeader{Name: "a.txt", Extra: extra}, p)
	must(t, w.Close())
	return b.Bytes()
}

func zipOverlap(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	zipRaw(t, w, &zip.FileHeader{Name: "one.txt"}, p)
	must(t, w.Close())
	out := b.Bytes()
	c := bytes.LastIndex(out, []byte("PK\x01\x02"))
	e := bytes.LastIndex(out, []byte("PK\x05\x06"))
	rec := out[c:e]
	var cd []byte
	for i, name := range []string{"one.txt", "two.txt", "six.txt"} {
		r := bytes.Clone(rec)
		copy(r[46:], name)
		cd = append(cd, r...)
		_ = i
	}
	end := bytes.Clone(out[e:])
	binary.LittleEndian.PutUint16(end[8:], 3)
	binary.LittleEndian.PutUint16(end[10:], 3)
	binary.LittleEndian.PutUint32(end[12:], uint32(len(cd)))
	return append(append(bytes.Clone(out[:c]), cd...), end...)
}

func mkTar(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	must(t, w.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatUSTAR}))
	_, err := w.Write(data)
	must(t, err)
	must(t, w.Close())
	return b.Bytes()
}

// rawTarHeader is one 512-byte header with the checksum set; magic is the 8 bytes at 257.
func rawTarHeader(name string, size int64, typ byte, magic, prefix string) []byte {
	h := make([]byte, 512)
	copy(h, name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], fmt.Sprintf("%011o\x00", size))
	copy(h[136:], fmt.Sprintf("%011o\x00", epoch.Unix()))
	h[156] = typ
	copy(h[257:], magic)
	copy(h[345:], prefix)
	tarChecksum(h)
	return h
}

// tarEnd is header, data padded to a block, and the end-of-archive marker.
func tarEnd(h, data []byte) []byte {
	out := append(bytes.Clone(h), data...)
	out = append(out, make([]byte, (512-len(data)%512)%512)...)
	return append(out, make([]byte, 1024)...)
}

func mkTarType(t testing.TB, typ byte, p []byte) []byte {
	return tarEnd(rawTarHeader("p.txt", int64(len(p)), typ, "ustar\x0000", ""), p)
}

func tarNulSize(t testing.TB, p []byte) []byte {
	inner := rawTarHeader("p.txt", int64(len(p)), '0', "ustar\x0000", "")
	h := rawTarHeader("outer.txt", 0, '0', "ustar\x0000", "")
	// The data of outer.txt is a junk block, a header and the payload: bsdtar, reading size 0,
	// skips the junk and takes the header as the next member; GNU tar and Go read the octal
	// digits after the NUL and see one member whose data does not start with a header.
	junk := bytes.Repeat([]byte("not a header "), 40)[:512]
	data := append(junk, inner...)
	data = append(data, p...)
	data = append(data, make([]byte, (512-len(p)%512)%512)...)
	copy(h[124:136], fmt.Sprintf("\x00%010o", len(data)))
	tarChecksum(h)
	return tarEnd(h, data)
}

func tarSigned(t testing.TB, p []byte) []byte {
	h := rawTarHeader("caf\xe9\xe9\xe9.txt", int64(len(p)), '0', "", "")
	copy(h[148:156], "        ")
	s := 0
	for _, c := range h {
		s += int(int8(c))
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", s))
	return tarEnd(h, p)
}

func gz(b []byte) []byte {
	var o bytes.Buffer
	w := gzip.NewWriter(&o)
	w.ModTime = epoch
	w.Write(b)
	w.Close()
	return o.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	e, err := zstd.NewWriter(nil)
	must(t, err)
	defer e.Close()
	return e.EncodeAll(b, nil)
}

// pipe runs a tool as a filter over in.
func pipe(t testing.TB, in []byte, argv ...string) []byte {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	must(t, err)
	return out
}

type arm struct {
	name string
	data []byte
}

func mkAr(ms ...arm) []byte {
	b := []byte("!<arch>\n")
	for _, m := range ms {
		b = append(b, fmt.Sprintf("%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, epoch.Unix(), 0, 0, "100644", len(m.data))...)
		b = append(b, m.data...)
		if len(m.data)%2 == 1 {
			b = append(b, '\n')
		}
	}
	return b
}

func mkCpioNewc(name string, data []byte) []byte {
	var b []byte
	rec := func(ino int, name string, mode int, data []byte) {
		b = append(b, fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, mode, 0, 0, 1, epoch.Unix(), len(data), 0, 0, 0, 0, len(name)+1, 0)...)
		b = append(b, name...)
		b = append(b, 0)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		b = append(b, data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	rec(1, name, 0o100644, data)
	rec(0, "TRAILER!!!", 0, nil)
	return b
}

func uuencode(name string, data []byte) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "begin 644 %s\n", name)
	enc := func(c byte) byte {
		if c == 0 {
			return '`'
		}
		return c + 32
	}
	for i := 0; i < len(data); i += 45 {
		line := data[i:min(i+45, len(data))]
		b.WriteByte(enc(byte(len(line))))
		for j := 0; j < len(line); j += 3 {
			var g [3]byte
			copy(g[:], line[j:])
			b.WriteByte(enc(g[0] >> 2))
			b.WriteByte(enc((g[0]<<4 | g[1]>>4) & 63))
			b.WriteByte(enc((g[1]<<2 | g[2]>>6) & 63))
			b.WriteByte(enc(g[2] & 63))
		}
		b.WriteByte('\n')
	}
	b.WriteString("`\nend\n")
	return []byte(b.String())
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	return b.String() + s + "\n"
}

// elfStub is a 64-byte ELF64 header with no program headers: the front of a self-extractor.
func elfStub() []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(h[16:], 2)    // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], 0x3e) // x86-64
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint16(h[52:], 64)
	return h
}

// mk7z makes a 7z archive holding p with the real 7z (Go has no 7z writer).
func mk7z(t testing.TB, p []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "p.txt"), p, 0o644))
	must(t, os.Chtimes(filepath.Join(dir, "p.txt"), epoch, epoch))
	cmd := exec.Command("7z", "a", "-bd", "-t7z", "-mtc=off", "-mta=off", "a.7z", "p.txt")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("7z: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "a.7z"))
	must(t, err)
	return b
}

// zipTarPolyglot lays a ustar header over a zip's first local header: the zip's stored entry
// "a" (sizes and CRC in a data descriptor, so the header bytes are fixed before the tar
// checksum is computed) holds the rest of the tar header, the tar member p and the tar's
// end-of-archive blocks; the central directory follows.
func zipTarPolyglot(t testing.TB, p []byte) []byte {
	h := make([]byte, 512)
	copy(h, "PK\x03\x04")
	binary.LittleEndian.PutUint16(h[4:], 10)   // version needed
	binary.LittleEndian.PutUint16(h[6:], 0x08) // sizes in a data descriptor
	binary.LittleEndian.PutUint16(h[26:], 1)   // name length
	h[30] = 'a'
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], fmt.Sprintf("%011o\x00", len(p)))
	copy(h[136:], fmt.Sprintf("%011o\x00", epoch.Unix()))
	h[156] = '0'
	copy(h[257:], "ustar\x0000")
	tarChecksum(h)
	out := append(h, p...)
	out = append(out, make([]byte, (512-len(p)%512)%512+1024)...)
	data := out[31:]
	crc := crc32.ChecksumIEEE(data)
	n := uint32(len(data))
	dd := binary.LittleEndian.AppendUint32([]byte("PK\x07\x08"), crc)
	dd = binary.LittleEndian.AppendUint32(dd, n)
	dd = binary.LittleEndian.AppendUint32(dd, n)
	out = append(out, dd...)
	cd := make([]byte, 46)
	copy(cd, "PK\x01\x02")
	binary.LittleEndian.PutUint16(cd[4:], 20)
	binary.LittleEndian.PutUint16(cd[6:], 10)
	binary.LittleEndian.PutUint16(cd[8:], 0x08)
	binary.LittleEndian.PutUint32(cd[16:], crc)
	binary.LittleEndian.PutUint32(cd[20:], n)
	binary.LittleEndian.PutUint32(cd[24:], n)
	binary.LittleEndian.PutUint16(cd[28:], 1)
	cd = append(cd, 'a')
	end := make([]byte, 22)
	copy(end, "PK\x05\x06")
	binary.LittleEndian.PutUint16(end[8:], 1)
	binary.LittleEndian.PutUint16(end[10:], 1)
	binary.LittleEndian.PutUint32(end[12:], uint32(len(cd)))
	binary.LittleEndian.PutUint32(end[16:], uint32(len(out)))
	return append(append(out, cd...), end...)
}
