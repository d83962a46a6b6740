package scanner

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"

	"github.com/airlock-appliance/airlock/scanner/internal/zipr"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Formats the walker descends into, as File.Format reports them.
const (
	FormatGzip  = "gzip"
	FormatXz    = "xz"
	FormatBzip2 = "bzip2"
	FormatZstd  = "zstd"
	FormatTar   = "tar"
	FormatZip   = "zip"
	// FormatZipAppended is a zip archive at the end of another file (a self-extractor, a
	// script or executable with a zip after it, a polyglot), found by its end record.
	FormatZipAppended = "zip-appended"
	FormatNAR         = "nar"
	FormatExport      = "guix-export"
	// FormatLzma is a legacy .lzma (LZMA-alone) stream. It has no magic: a file whose header
	// has the shape lzma writes and whose first bytes decode is taken for one (see lzmaProbe).
	FormatLzma = "lzma"
)

var narMagic = append([]byte{13, 0, 0, 0, 0, 0, 0, 0}, "nix-archive-1\x00\x00\x00"...)

// detect names the format of a file from its first bytes (never from its name: names on hostile
// media lie), or "" for a file to scan as is.
func detect(h []byte) string {
	switch {
	case bytes.HasPrefix(h, []byte{0x1f, 0x8b}):
		return FormatGzip
	case bytes.HasPrefix(h, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return FormatXz
	case bytes.HasPrefix(h, []byte("BZh")) && len(h) > 3 && h[3] >= '1' && h[3] <= '9':
		return FormatBzip2
	case bytes.HasPrefix(h, []byte{0x28, 0xb5, 0x2f, 0xfd}),
		len(h) >= 4 && h[0]&0xf0 == 0x50 && bytes.Equal(h[1:4], []byte{0x2a, 0x4d, 0x18}): // a skippable frame first
		return FormatZstd
	case bytes.HasPrefix(h, []byte("PK\x03\x04")), bytes.HasPrefix(h, []byte("PK\x05\x06")):
		return FormatZip
	case bytes.HasPrefix(h, narMagic):
		return FormatNAR
	case len(h) >= 8+len(narMagic) && binary.LittleEndian.Uint64(h) == 1 && bytes.HasPrefix(h[8:], narMagic):
		return FormatExport
	case isTar(h):
		return FormatTar
	case bytes.HasPrefix(h, []byte(arMagic)):
		return FormatAr
	case isCpio(h):
		return FormatCpio
	}
	return ""
}

// opaqueMagic are containers and compressors the walker cannot open, by their magic at offset 0.
// Their bytes are scanned as they are, but what they hold (compressed or not) was not seen, so
// such a file is unscannable, never clean: an archive that cannot be fully seen is refused.
// Formats that store members verbatim and contiguously (ar, cpio, ISO 9660) are not here:
// scanning the whole file sees every member byte.
var opaqueMagic = []struct {
	name  string
	magic string
}{
	{"7z archive", "7z\xbc\xaf\x27\x1c"},
	{"RAR archive", "Rar!\x1a\x07"},
	{"cabinet (CAB) archive", "MSCF\x00\x00\x00\x00"},
	{"lzip stream", "LZIP\x01"}, // and its version byte (0 or 1)
	{"lzip stream", "LZIP\x00"},
	{"LZ4 frame", "\x04\x22\x4d\x18"},
	{"LZ4 legacy stream", "\x02\x21\x4c\x18"},
	{"compress (.Z) stream", "\x1f\x9d"},
	{"squashfs image", "hsqs"},
	{"RPM package", "\xed\xab\xee\xdb"},
	{"xar archive", "xar!\x00\x1c"}, // and its 28-byte header length
	{"WIM image", "MSWIM\x00\x00\x00"},
	{"Snappy framed stream", "\xff\x06\x00\x00sNaPpY"},
}

// opaque names the format of a container the walker cannot open (see opaqueMagic), or "".
func opaque(h []byte) string {
	for _, m := range opaqueMagic {
		if bytes.HasPrefix(h, []byte(m.magic)) {
			return m.name
		}
	}
	return ""
}

// isTar accepts a POSIX/GNU header (magic at 257) or a v7 header whose checksum (unsigned or
// signed sum) is right.
func isTar(h []byte) bool {
	if len(h) < 512 {
		return false
	}
	if bytes.Equal(h[257:262], []byte("ustar")) {
		return true
	}
	if h[0] == 0 {
		return false
	}
	// GNU tar, bsdtar, 7z and archive/tar accept the signed sum too (old tars summed signed
	// chars): a header with a name byte >= 0x80 may carry either.
	field := bytes.TrimRight(bytes.TrimLeft(h[148:156], " "), " \x00")
	want, err := strconv.ParseInt(string(field), 8, 64)
	return err == nil && tarSumMatches(h, want)
}

// descend walks the entries of an archive (or the content of a compressed stream).
func (w *worker) descend(st *walkState, f *File, kind string, src io.ReaderAt, size int64, depth int) error {
	sec := io.NewSectionReader(src, 0, size)
	switch kind {
	case FormatTar:
		// Bytes after the end of a plain tar that are not tar were scanned with the file's own
		// bytes, and no extractor writes them anywhere.
		if err := w.walkTar(st, f, bufio.NewReaderSize(sec, 64<<10), depth); !errors.Is(err, errAfterTar) {
			return err
		}
		return nil
	case FormatZip, FormatZipAppended:
		return w.walkZip(st, f, src, size, depth)
	case FormatNAR, FormatExport:
		return w.walkGuix(st, f, kind, sec, depth)
	case FormatAr:
		return w.walkAr(st, f, sec, depth)
	case FormatCpio:
		return w.walkCpio(st, f, sec, depth)
	case FormatCpioAppended, FormatTarAppended, FormatEmbedded:
		k, off := findHidden(src, size, w.s.opt.Limits.MaxDecoderMemory)
		if k != kind {
			return errors.New("the archive found inside the file is gone") // cannot happen: src does not change
		}
		rest := io.NewSectionReader(src, off, size-off)
		if kind == FormatEmbedded {
			var head [16]byte
			rest.ReadAt(head[:], 0)
			return w.entry(st, f, fmt.Sprintf("(%s at offset %d)", detect(head[:]), off), rest, size-off, depth+1)
		}
		if kind == FormatCpioAppended {
			return w.walkCpio(st, f, rest, depth)
		}
		if err := w.walkTar(st, f, bufio.NewReaderSize(rest, 64<<10), depth); !errors.Is(err, errAfterTar) {
			return err
		}
		return nil
	case FormatUU:
		return w.walkUU(st, f, sec, depth)
	case FormatISO:
		return w.walkISO(st, f, src, size, depth)
	}
	dec, closer, err := w.decompressor(kind, sec)
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer()
	}
	// gzip and bzip2 decode what precedes trailing garbage and only warn about it; so does
	// the walk, and the garbage (in the file's own bytes) is scanned as it is.
	tg := &trailingGarbage{r: truncation{r: dec, kind: kind}, kind: kind}
	dec = tg
	defer func() {
		if tg.seen {
			w.scanRaw(f, src, size, kind+" stream followed by trailing data (which "+kind+" ignores with a warning): the file's own bytes were scanned")
		}
	}()
	br := bufio.NewReaderSize(&expansion{r: dec, st: st, l: w.s.opt.Limits}, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if isTar(head) {
		f.Format = kind + "+tar"
		return w.walkTar(st, f, br, depth)
	}
	return w.entry(st, f, innerName(f.Path, kind), br, -1, depth+1)
}

// lzmaProbe reports whether a file is a legacy .lzma stream: a header of the shape lzma and xz
// write (properties lc+lp*9+pb*45 below 225, a dictionary of 2^n or 2^n+2^(n-1) bytes, an
// uncompressed size unknown or below 256 GiB: liblzma's own "picky" test) and some bytes
// decode. A file that passes is walked, and also scanned as it is (it may be a plain file that
// happens to pass), and refused if it then fails to decode.
func lzmaProbe(src io.ReaderAt, size, maxDict int64) bool {
	var h [13]byte
	if size < 13+5 {
		return false
	}
	if n, _ := src.ReadAt(h[:], 0); n < 13 || h[0] >= 225 {
		return false
	}
	if d := binary.LittleEndian.Uint32(h[1:]); d == 0 || !(d&(d-1) == 0 || isTwoBits(d)) {
		return false
	}
	if u := binary.LittleEndian.Uint64(h[5:]); u != ^uint64(0) && u >= 1<<38 {
		return false
	}
	z, err := newLzmaReader(io.NewSectionReader(src, 0, size), maxDict)
	if err != nil {
		return false
	}
	defer z.Close()
	// Bytes decoded are enough, whatever follows: xz -d and 7z write what decodes before a
	// corrupt part (found by FuzzDifferential), and the walk then refuses the stream.
	buf := make([]byte, 32<<10)
	n, _ := io.ReadFull(z, buf)
	return n > 0
}

// isTwoBits reports whether d is 2^n + 2^(n-1).
func isTwoBits(d uint32) bool {
	low := d & -d
	return d == low*3
}

// trailingGarbage ends a gzip or bzip2 stream, as gzip -d and bzip2 -d do, where the data after
// a complete member (a complete stream) is not another member, and notes that it did.
type trailingGarbage struct {
	r    io.Reader
	kind string
	seen bool
}

func (t *trailingGarbage) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	var se bzip2.StructuralError
	switch {
	case err == nil || errors.Is(err, io.EOF):
	case t.kind == FormatGzip && errors.Is(err, gzip.ErrHeader),
		t.kind == FormatBzip2 && errors.As(err, &se) && strings.Contains(string(se), "continuation file"):
		t.seen = true
		return n, io.EOF
	}
	return n, err
}

// scanRaw scans a file's own bytes (besides what the walk saw in it) and folds the outcome into
// f, with why as the reason.
func (w *worker) scanRaw(f *File, src io.ReaderAt, size int64, why string) {
	g := File{Verdict: Clean}
	w.yara(&g, src, size)
	f.Rules = append(f.Rules, g.Rules...)
	if g.Verdict.rank() > f.Verdict.rank() {
		f.Verdict = g.Verdict
		if f.Limit == "" {
			f.Limit = g.Limit
		}
	}
	f.Reason = joinReason(joinReason(f.Reason, g.Reason), why)
}

func (w *worker) decompressor(kind string, r io.Reader) (io.Reader, func(), error) {
	lim := w.s.opt.Limits
	switch kind {
	case FormatGzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, func() { z.Close() }, nil
	case FormatBzip2:
		return bzip2.NewReader(r), nil, nil
	case FormatZstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(uint64(lim.MaxDecoderMemory)), zstd.WithDecoderMaxMemory(uint64(lim.MaxEntrySize)))
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	case FormatXz:
		z, err := newXZReader(r, lim.MaxDecoderMemory)
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	case FormatLzma:
		z, err := newLzmaReader(r, lim.MaxDecoderMemory)
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	}
	return nil, nil, fmt.Errorf("no decompressor for %s", kind)
}

// walkTar walks a tar read from r, scanning the data of every member that has data, whatever
// its type letter says (GNU tar and bsdtar extract contiguous '7' and unknown types as regular
// files), and recording links and special files. A gnuView parses the same bytes the way GNU
// tar does; any member the two parsers see differently makes the tar unscannable. Members after
// the end-of-archive marker (which GNU tar -i extracts) are walked too.
func (w *worker) walkTar(st *walkState, f *File, r io.Reader, depth int) error {
	gv := &gnuView{tmpDir: w.s.opt.TempDir}
	defer func() {
		for _, m := range gv.members {
			if m.raw != nil {
				m.raw.close()
			}
		}
	}()
	seen := 0 // members archive/tar returned, compared with gv.members
	tr := tar.NewReader(io.TeeReader(r, gv))
	for {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if gv.err != nil {
			return fmt.Errorf("GNU tar's view: %w", gv.err)
		}
		if ferr := w.tarMeta(st, f, gv, seen, depth); ferr != nil {
			return ferr
		}
		if errors.Is(err, io.EOF) {
			more, err := tarAfterEnd(r)
			if err != nil || more == nil {
				return err
			}
			tr = tar.NewReader(io.TeeReader(more, gv))
			continue
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if seen >= len(gv.members) {
			return fmt.Errorf("archive/tar found member %q where GNU tar sees none", hdr.Name)
		}
		m := gv.members[seen]
		seen++
		if m.name != hdr.Name || m.typ != hdr.Typeflag || (!m.sparse && m.size != hdr.Size) {
			return fmt.Errorf("tar views disagree on member %d: GNU tar reads %q type %q, %d bytes; archive/tar %q type %q, %d bytes",
				seen, m.name, m.typ, m.size, hdr.Name, hdr.Typeflag, hdr.Size)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
		case tar.TypeSymlink:
			err = w.record(st, f, hdr.Name, TypeSymlink, hdr.Linkname, "symbolic link: recorded, not followed", depth+1)
		case tar.TypeLink:
			err = w.record(st, f, hdr.Name, TypeHardlink, hdr.Linkname, "hard link: recorded, not followed", depth+1)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			err = w.record(st, f, hdr.Name, TypeSpecial, "",
				fmt.Sprintf("special entry (tar type %q): recorded, not opened", hdr.Typeflag), depth+1)
		default:
			// Regular, sparse, contiguous, and every type letter archive/tar does not know:
			// whatever it is called, its data is what an extractor may write to a file.
			if hdr.Size == 0 && hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeGNUSparse {
				err = w.record(st, f, hdr.Name, TypeSpecial, "",
					fmt.Sprintf("tar entry of type %q without data: recorded", hdr.Typeflag), depth+1)
				break
			}
			err = w.entry(st, f, hdr.Name, &expansion{r: tr, st: st, l: w.s.opt.Limits, tar: true}, hdr.Size, depth+1)
		}
		if err != nil {
			return err
		}
	}
}

// tarMeta scans what walkTar's members do not show but some extractor writes as a file: the
// data of extension headers (cpio writes a GNU long name as "@LongLink" and a pax header as
// "PaxHeaders/x"), and the stored data of the sparse member before the current one (7z writes
// a pax 1.0 sparse file as its map and fragments, under the header's own name
// "GNUSparseFile.N/x"), complete once archive/tar has moved past it. done is how many members
// walkTar took so far.
func (w *worker) tarMeta(st *walkState, f *File, gv *gnuView, done, depth int) error {
	for _, e := range gv.exts {
		name := e.name
		if name == "" {
			name = fmt.Sprintf("(tar %q header)", e.typ)
		}
		if err := w.entry(st, f, name, bytes.NewReader(e.data), int64(len(e.data)), depth+1); err != nil {
			return err
		}
	}
	gv.exts = gv.exts[:0]
	for i := range min(done, len(gv.members)) {
		m := &gv.members[i]
		if m.raw == nil || gv.raw == m.raw && gv.rawLeft > 0 {
			continue
		}
		name := m.raw.name
		if name == m.name {
			name += " (sparse data as stored)"
		}
		err := w.entry(st, f, name, &expansion{r: m.raw.reader(), st: st, l: w.s.opt.Limits, tar: true}, m.raw.n, depth+1)
		m.raw.close()
		m.raw = nil
		if err != nil {
			return err
		}
	}
	return nil
}

// tarAfterEnd reads on after a tar's end-of-archive marker, as GNU tar -i does: zero blocks are
// skipped, and so are other blocks ("Skipping to next header"); a valid header starts more
// members (returned: the stream from that header on). Without one, nil, nil if only zeros
// followed, else errAfterTar: the caller decides what trailing bytes mean.
func tarAfterEnd(r io.Reader) (io.Reader, error) {
	var blk [512]byte
	junk := false
	for {
		n, err := io.ReadFull(r, blk[:])
		switch {
		case errors.Is(err, io.EOF):
			if junk {
				return nil, errAfterTar
			}
			return nil, nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			if !junk && bytes.Count(blk[:n], []byte{0}) == n {
				return nil, nil
			}
			return nil, fmt.Errorf("%w: %d bytes of a partial block", errAfterTar, n)
		case err != nil:
			return nil, err
		}
		if blk == zeroBlock {
			continue
		}
		if tarHeaderAt(blk[:]) {
			return io.MultiReader(bytes.NewReader(bytes.Clone(blk[:])), r), nil
		}
		junk = true
	}
}

// errAfterTar: bytes that are not tar follow the end of a tar archive. In a compressed tar no
// scan saw them, so the file is unscannable.
var errAfterTar = errors.New("non-zero data after the end of the tar archive")

// zipMaxProblems is how many of a zip's problems the reason lists (the count says the rest).
const zipMaxProblems = 8

// walkZip reads both views of a zip (see package zipr) and scans the data of every central
// entry that has data, whatever type its attributes claim: unzip, bsdtar and 7z write a regular
// file with those bytes for a "FIFO", "socket", "device" or "directory" that holds data. Such a
// claim, and every disagreement between the central directory and the local headers, make the
// zip unscannable after its entries were scanned.
func (w *worker) walkZip(st *walkState, f *File, src io.ReaderAt, size int64, depth int) error {
	lim := w.s.opt.Limits
	za, err := zipr.Open(src, size, zipr.Limits{MaxEntries: lim.MaxEntries, MaxName: maxNameBytes})
	var zl *zipr.LimitError
	if errors.As(err, &zl) {
		l := LimitEntries
		if zl.What == "name" {
			l = LimitName
		}
		return &limitError{limit: l, msg: zl.Msg}
	}
	if err != nil {
		return err
	}
	problems := za.Problems
	var head [512]byte
	if n, _ := src.ReadAt(head[:], 0); n == len(head) && isTar(head[:]) {
		problems = append(problems, "the first local header is also a valid tar header (GNU tar, bsdtar and cpio read the file as a tar, with other members)")
	}
	if za.Base > 0 && za.PrefixHasLocal() {
		problems = append(problems, fmt.Sprintf("the %d bytes before the zip hold a local entry header (a streaming reader extracts it)", za.Base))
	}
	if len(problems) > 0 {
		msg := strings.Join(problems[:min(len(problems), zipMaxProblems)], "; ")
		if len(problems) > zipMaxProblems {
			msg += fmt.Sprintf("; and %d more", len(problems)-zipMaxProblems)
		}
		defer w.worsen(f, Unscannable, "zip views disagree: "+msg)
	}
	for i := range za.Entries {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		if err := w.zipEntry(st, f, za, &za.Entries[i], depth); err != nil {
			return err
		}
	}
	return nil
}

// zipEntry scans one zip entry (or records it, when it holds no data).
func (w *worker) zipEntry(st *walkState, f *File, za *zipr.Archive, e *zipr.Entry, depth int) error {
	name := e.Name
	if e.UnicodeName != "" && e.UnicodeName != name {
		name += " (also named " + e.UnicodeName + ")"
	}
	ut := e.UnixType()
	hasData := e.Size > 0 || e.CompSize > 0
	claim := ""
	switch {
	case ut == zipr.ModeDir || (ut == 0 && e.DOSDir()) || strings.HasSuffix(e.Name, "/"):
		claim = "directory"
	case ut == zipr.ModeFIFO:
		claim = "FIFO"
	case ut == zipr.ModeChar, ut == zipr.ModeBlock:
		claim = "device"
	case ut == zipr.ModeSocket:
		claim = "socket"
	case ut != 0 && ut != zipr.ModeRegular && ut != zipr.ModeSymlink:
		claim = fmt.Sprintf("file of unknown type %#o", ut)
	}
	if claim != "" && !hasData {
		if claim == "directory" {
			return nil
		}
		return w.record(st, f, name, TypeSpecial, "", "special zip entry ("+claim+"): recorded, not opened", depth+1)
	}
	if e.Flags&1 != 0 {
		if err := w.record(st, f, name, TypeRegular, "", "", depth+1); err != nil {
			return err
		}
		g := &st.inner[len(st.inner)-1]
		g.Verdict, g.Reason, g.Size = Unscannable, "encrypted zip entry: contents cannot be scanned", int64(min(e.Size, 1<<62))
		return nil
	}
	lim := w.s.opt.Limits
	if e.Size > uint64(lim.MaxEntrySize) {
		return w.entry(st, f, name, nil, int64(min(e.Size, 1<<62)), depth+1)
	}
	r, closer, err := w.zipData(st, za, e)
	if err != nil {
		if err := w.record(st, f, name, TypeRegular, "", "", depth+1); err != nil {
			return err
		}
		g := &st.inner[len(st.inner)-1]
		g.Verdict, g.Reason, g.Size = Unscannable, "cannot open zip entry: "+err.Error(), int64(min(e.Size, 1<<62))
		return nil
	}
	defer closer()
	idx := len(st.inner)
	var target *capture
	if ut == zipr.ModeSymlink {
		target = &capture{max: 4096}
		r = io.TeeReader(r, target)
	}
	if err := w.entry(st, f, name, r, int64(e.Size), depth+1); err != nil {
		return err
	}
	g := &st.inner[idx]
	switch {
	case target != nil:
		g.Type, g.Target = TypeSymlink, string(target.b)
		if e.Size > 4096 {
			w.worsen(g, Unscannable, fmt.Sprintf("symbolic link whose target is %d bytes long: not a link any tool makes", e.Size))
		} else {
			g.Reason = joinReason("symbolic link: recorded, not followed; its target was scanned", g.Reason)
		}
	case claim != "":
		w.worsen(g, Unscannable, fmt.Sprintf("zip entry claims to be a %s but holds %d bytes (unzip and bsdtar extract them as a regular file): scanned, and refused", claim, e.Size))
	}
	return nil
}

// capture keeps the first max bytes written to it.
type capture struct {
	b   []byte
	max int
}

func (c *capture) Write(p []byte) (int, error) {
	if n := min(len(p), c.max-len(c.b)); n > 0 {
		c.b = append(c.b, p[:n]...)
	}
	return len(p), nil
}

func joinReason(a, b string) string {
	switch {
	case b == "":
		return a
	case a == "":
		return b
	}
	return a + "; " + b
}

// zipData returns the decompressed data of e, checked against its CRC-32 and size at the end
// (a mismatch is a read error: the entry is unscannable). Stored bytes count against the
// expansion limits like decompressed ones.
func (w *worker) zipData(st *walkState, za *zipr.Archive, e *zipr.Entry) (io.Reader, func(), error) {
	raw, err := za.Data(e)
	if err != nil {
		return nil, nil, err
	}
	lim := w.s.opt.Limits
	var (
		dec    io.Reader
		closer = func() {}
	)
	switch e.Method {
	case 0:
		if e.CompSize != e.Size {
			return nil, nil, fmt.Errorf("stored entry of %d bytes in %d", e.Size, e.CompSize)
		}
		return &crcCheck{r: &expansion{r: raw, st: st, l: lim, tar: true}, want: e.CRC32, size: e.Size}, closer, nil
	case 8:
		fr := flate.NewReader(raw)
		dec, closer = fr, func() { fr.Close() }
	case 12:
		dec = bzip2.NewReader(raw)
	case 93:
		dec, closer, err = w.decompressor(FormatZstd, raw)
	case 95:
		dec, closer, err = w.decompressor(FormatXz, raw)
	default:
		return nil, nil, fmt.Errorf("compression method %d is not supported", e.Method)
	}
	if err != nil {
		return nil, nil, err
	}
	return &crcCheck{r: &expansion{r: dec, st: st, l: lim}, want: e.CRC32, size: e.Size}, closer, nil
}

// crcCheck fails the read that ends a zip entry whose bytes do not have the CRC-32 and size the
// central directory declares.
type crcCheck struct {
	r    io.Reader
	want uint32
	size uint64
	n    uint64
	crc  uint32
}

func (c *crcCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, crc32.IEEETable, p[:n])
	c.n += uint64(n)
	if errors.Is(err, io.EOF) && (c.crc != c.want || c.n != c.size) {
		return n, fmt.Errorf("zip entry data has CRC %08x and %d bytes, the directory says %08x and %d", c.crc, c.n, c.want, c.size)
	}
	return n, err
}

// truncation turns a decoder's io.ErrUnexpectedEOF (the stream ended inside compressed data)
// into an error of its own. Readers above treat io.ErrUnexpectedEOF as "shorter than asked",
// which for a truncated stream would call what was decoded so far the whole file, while gzip -d,
// zstd -d and 7z write out more (found by scanner/difftest's FuzzDifferential).
type truncation struct {
	r    io.Reader
	kind string
}

func (t truncation) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%s stream truncated inside its compressed data", t.kind)
	}
	return n, err
}
