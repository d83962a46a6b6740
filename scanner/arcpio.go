package scanner

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Formats of Unix archives the walker descends into: their members may be compressed (a .deb's
// data.tar.xz, an initramfs's later parts), so scanning the archive's bytes is not enough.
const (
	FormatAr   = "ar"
	FormatCpio = "cpio"
)

const arMagic = "!<arch>\n"

// cpioKind names the cpio variant of a header, or "".
func cpioKind(h []byte) string {
	switch {
	case bytes.HasPrefix(h, []byte("070701")), bytes.HasPrefix(h, []byte("070702")):
		return "newc"
	case bytes.HasPrefix(h, []byte("070707")):
		return "odc"
	case len(h) >= 2 && (h[0] == 0xc7 && h[1] == 0x71):
		return "bin-le"
	case len(h) >= 2 && (h[0] == 0x71 && h[1] == 0xc7):
		return "bin-be"
	}
	return ""
}

// walkAr walks a Unix ar archive (GNU and BSD long names), as ar and dpkg-deb read it: every
// member, the symbol and name tables included, is an inner file.
func (w *worker) walkAr(st *walkState, f *File, r io.Reader, depth int) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if _, err := br.Discard(len(arMagic)); err != nil {
		return err
	}
	var names []byte // the GNU "//" member
	var hdr [60]byte
	for {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("ar member header: %w", err)
		}
		if string(hdr[58:60]) != "`\n" {
			return fmt.Errorf("ar member header without its terminator")
		}
		size, err := strconv.ParseInt(strings.TrimRight(string(hdr[48:58]), " "), 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("ar member size %q", hdr[48:58])
		}
		name := strings.TrimRight(string(hdr[:16]), " ")
		data := io.LimitReader(br, size)
		switch {
		case name == "//":
			if size > 16<<20 {
				return fmt.Errorf("ar name table of %d bytes", size)
			}
			names = make([]byte, size)
			if _, err := io.ReadFull(br, names); err != nil {
				return err
			}
			data = bytes.NewReader(names)
			name = "(GNU name table)"
		case name == "/" || name == "/SYM64/":
			name = "(symbol table)"
		case strings.HasPrefix(name, "#1/"): // BSD: the name precedes the data
			n, err := strconv.Atoi(name[3:])
			if err != nil || n < 0 || int64(n) > size || n > 4096 {
				return fmt.Errorf("ar BSD long name %q", name)
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(br, b); err != nil {
				return err
			}
			name, size = strings.TrimRight(string(b), "\x00"), size-int64(n)
			data = io.LimitReader(br, size)
		case strings.HasPrefix(name, "/"): // GNU: an offset into the name table
			off, err := strconv.Atoi(name[1:])
			if err != nil || off < 0 || off >= len(names) {
				return fmt.Errorf("ar long name %q not in the name table", name)
			}
			end := bytes.Index(names[off:], []byte("/\n"))
			if end < 0 {
				return fmt.Errorf("ar long name %q unterminated", name)
			}
			name = string(names[off : off+end])
		default:
			name = strings.TrimSuffix(name, "/")
		}
		if err := w.entry(st, f, name, &expansion{r: data, st: st, l: w.s.opt.Limits, tar: true}, size, depth+1); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, data); err != nil {
			return err
		}
		if size%2 == 1 {
			if b, err := br.ReadByte(); err != nil || b != '\n' {
				if errors.Is(err, io.EOF) {
					return nil // some writers omit the last pad byte; ar reads it so
				}
				return fmt.Errorf("ar padding after %s is not a newline", name)
			}
		}
	}
}

// cpioHeader is one cpio member header.
type cpioHeader struct {
	mode, size, namesize int64
	name                 string
}

// walkCpio walks cpio archives (newc, crc, odc, binary of either byte order) as cpio -i and the
// kernel's initramfs unpacker read them: every member with data is scanned whatever its mode
// says (a directory or device that holds data is refused besides), symbolic links are
// recorded. After the "TRAILER!!!" member come, as in an initramfs, zero padding, further cpio
// archives (walked), or other data (an inner file of its own, which the walk sniffs: the
// kernel unpacks a compressed archive there).
func (w *worker) walkCpio(st *walkState, f *File, r io.Reader, depth int) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var pos int64 // bytes consumed, for the alignment of newc
	trailer := false
	read := func(b []byte) error {
		n, err := io.ReadFull(br, b)
		pos += int64(n)
		return err
	}
	skip := func(n int64) error {
		k, err := io.CopyN(io.Discard, br, n)
		pos += k
		return err
	}
	for {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		head, _ := br.Peek(512)
		if len(head) == 0 {
			return nil
		}
		if z := len(head) - len(bytes.TrimLeft(head, "\x00")); z > 0 { // padding after a trailer
			if err := skip(int64(z)); err != nil {
				return err
			}
			continue
		}
		kind := cpioKind(head)
		if kind == "" && !trailer {
			// GNU cpio and libarchive skip such junk byte by byte to the next header and read
			// on; what they find there this walk would not see.
			return fmt.Errorf("bytes that are not a cpio header at offset %d, before the trailer (GNU cpio and bsdtar skip them and read on)", pos)
		}
		if kind == "" { // data of its own after a trailer
			return w.entry(st, f, "(after the cpio trailer)", br, -1, depth+1)
		}
		h, err := readCpioHeader(kind, read)
		if err != nil {
			return err
		}
		align := int64(1)
		switch kind {
		case "newc":
			align = 4
		case "bin-le", "bin-be":
			align = 2
		}
		if err := skip((align - pos%align) % align); err != nil {
			return err
		}
		if h.name == "TRAILER!!!" {
			trailer = true
			if err := skip((align - pos%align) % align); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			continue
		}
		data := &countingReader{r: io.LimitReader(br, h.size), n: &pos}
		typ := h.mode & 0o170000
		switch {
		case typ == 0o120000 && h.size <= 4096:
			b, err := io.ReadAll(data)
			if err != nil {
				return err
			}
			if err := w.record(st, f, h.name, TypeSymlink, string(b), "symbolic link: recorded, not followed", depth+1); err != nil {
				return err
			}
		case h.size == 0 && typ != 0o100000:
			if typ != 0o040000 {
				if err := w.record(st, f, h.name, TypeSpecial, "", fmt.Sprintf("special cpio entry (mode %#o): recorded, not opened", h.mode), depth+1); err != nil {
					return err
				}
			}
		default:
			idx := len(st.inner)
			if err := w.entry(st, f, h.name, &expansion{r: data, st: st, l: w.s.opt.Limits, tar: true}, h.size, depth+1); err != nil {
				return err
			}
			if typ != 0o100000 && idx < len(st.inner) {
				w.worsen(&st.inner[idx], Unscannable, fmt.Sprintf("cpio entry of mode %#o holds %d bytes (tools disagree on what it is): scanned, and refused", h.mode, h.size))
			}
		}
		if _, err := io.Copy(io.Discard, data); err != nil {
			return err
		}
		if err := skip((align - pos%align) % align); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
}

// FormatCpioAppended is a cpio archive after other bytes, as GNU cpio finds it: cpio -i skips
// any junk before the first header ("skipped N bytes of junk").
const FormatCpioAppended = "cpio-appended"

// FormatTarAppended is a tar archive after other bytes, as GNU tar finds it: it reads any file
// in 512-byte blocks and, where a block is not a header, skips to the next one that is
// ("Skipping to next header").
const FormatTarAppended = "tar-appended"

// findHidden looks in the first maxEmbeddedSearch bytes of a file of no other format for an
// archive a stock tool finds after junk: a tar header at a 512-byte boundary (GNU tar), or a cpio
// header at any offset from which a whole archive parses (GNU cpio). It returns the format and
// offset of the first one, or "", -1. Requiring a checksummed tar header, or a cpio archive that
// reads to its trailer, keeps a stray magic in other data (two bytes, for binary cpio) from
// making a file an archive; a fragment that does not parse is bytes of the file, scanned with it.
func findHidden(src io.ReaderAt, size, maxDict int64) (string, int64) {
	const chunk, look = 1 << 20, 512
	n := min(size, maxEmbeddedSearch)
	var mem []byte
	if b, ok := src.(interface{ Bytes() []byte }); ok && int64(len(b.Bytes())) >= n {
		mem = b.Bytes()
	}
	var buf []byte
	if mem == nil {
		buf = make([]byte, 0, chunk+look)
	}
	for base := int64(0); base < n; base += chunk {
		var b []byte
		if mem != nil {
			b = mem[base:min(int64(len(mem)), base+chunk+look)]
		} else {
			k, _ := src.ReadAt(buf[:min(chunk+look, size-base)], base)
			b = buf[:k]
		}
		end := int(min(chunk, n-base))
		// Each kind's first valid candidate in this chunk (the earliest wins), found by
		// searching for its magic rather than testing every byte.
		best, bestKind := end, ""
		try := func(magic string, at func(i int) (string, bool)) {
			for from := 0; from < best; {
				k := bytes.Index(b[from:min(len(b), best+len(magic))], []byte(magic))
				if k < 0 {
					return
				}
				i := from + k
				if i >= best {
					return
				}
				if kind, ok := at(i); ok && (base > 0 || i > 0) {
					best, bestKind = i, kind
					return
				}
				from = i + 1
			}
		}
		off := func(i int) int64 { return base + int64(i) }
		stream := func(i int) (string, bool) {
			h := b[i:min(len(b), i+16)]
			k := detect(h)
			if k == FormatBzip2 && (len(h) < 10 || string(h[4:10]) != "1AY&SY") {
				return "", false // not a block: bzip2 streams hold at least one
			}
			return FormatEmbedded, compressed(k) && streamProbe(k, src, off(i), size, maxDict)
		}
		cpioAt := func(i int) (string, bool) {
			return FormatCpioAppended, cpioKind(b[i:]) != "" && isCpio(b[i:min(len(b), i+512)]) && cpioParses(src, off(i), size)
		}
		for _, m := range []string{"\x1f\x8b\x08", "\xfd7zXZ\x00", "BZh", "\x28\xb5\x2f\xfd"} {
			try(m, stream)
		}
		for _, m := range []string{"07070", "\xc7\x71", "\x71\xc7"} {
			try(m, cpioAt)
		}
		// 7z opens a ustar tar at any offset: the magic is 257 bytes into the header.
		for from := 0; from < best; {
			k := bytes.Index(b[min(len(b), from+257):min(len(b), best+257+5)], []byte("ustar"))
			if k < 0 {
				break
			}
			i := from + k
			if i < best && i+512 <= len(b) && (base > 0 || i > 0) && hiddenTar(b[i:i+512], src, off(i), size) {
				best, bestKind = i, FormatTarAppended
				break
			}
			from = i + 1
		}
		// GNU tar: a header at a 512-byte boundary (base is a multiple of 512). The checksum
		// field is looked at first: a digit, else only spaces and NULs.
		for i := 0; i < best && i+512 <= len(b); i += 512 {
			if (base > 0 || i > 0) && bytes.ContainsAny(b[i+148:i+156], "01234567") && hiddenTar(b[i:i+512], src, off(i), size) {
				best, bestKind = i, FormatTarAppended
				break
			}
		}
		if bestKind != "" {
			return bestKind, off(best)
		}
	}
	return "", -1
}

// FormatEmbedded is a file of no other format that holds a compressed stream (gzip, bzip2, xz,
// zstd) after other bytes: 7z finds and opens it there. The stream, from its first byte to the
// end of the file, is an inner file named "(gzip at offset N)", walked as such.
const FormatEmbedded = "embedded"

// streamProbe reports whether a compressed stream of kind starts at off: its header reads and
// some bytes decode, so that a magic number in other data does not make a stream (no file of
// /usr/bin, /usr/lib/x86_64-linux-gnu or /usr/libexec, 4677 of them, is refused for one).
func streamProbe(kind string, src io.ReaderAt, off, size, maxDict int64) bool {
	r := io.NewSectionReader(src, off, size-off)
	var dec io.Reader
	switch kind {
	case FormatGzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return false
		}
		defer z.Close()
		dec = z
	case FormatBzip2:
		dec = bzip2.NewReader(r)
	case FormatXz:
		z, err := newXZReader(r, maxDict)
		if err != nil {
			return false
		}
		defer z.Close()
		dec = z
	case FormatZstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(uint64(maxDict)))
		if err != nil {
			return false
		}
		defer z.Close()
		dec = z
	default:
		return false
	}
	dec = &trailingGarbage{r: dec, kind: kind} // what gzip -d and 7z accept
	buf := make([]byte, 32<<10)
	// Bytes decoded are enough: 7z writes what decodes before an error (found by
	// FuzzDifferential), and the walk then refuses the stream that fails.
	n, _ := io.ReadFull(dec, buf)
	return n > 0
}

// hiddenTar reports whether blk, at off in src, starts a tar to walk: a header GNU tar takes
// whose checksum field holds digits (as every writer's does), which archive/tar reads too. In
// other data, a block whose signed sum happens to be 0 and whose checksum field is all NULs is
// a "header" to GNU tar; such a block in a binary is no archive to walk (what GNU tar would
// write from it is the binary's own bytes, scanned with it).
func hiddenTar(blk []byte, src io.ReaderAt, off, size int64) bool {
	if !tarHeaderAt(blk) || !bytes.ContainsAny(blk[148:156], "01234567") {
		return false
	}
	_, err := tar.NewReader(io.NewSectionReader(src, off, size-off)).Next()
	return err == nil
}

// tarHeaderAt reports whether blk is a header GNU tar takes: not zero, its checksum right.
func tarHeaderAt(blk []byte) bool {
	if bytes.Equal(blk, zeroBlock[:]) {
		return false
	}
	sum, err := gnuNumber(blk[148:156])
	return err == nil && tarSumMatches(blk, sum)
}

// cpioParses reports whether the cpio archive at off in src reads to its trailer, with at least
// one member before it.
func cpioParses(src io.ReaderAt, off, size int64) bool {
	br := bufio.NewReaderSize(io.NewSectionReader(src, off, size-off), 32<<10)
	var pos int64
	members := 0
	read := func(b []byte) error {
		n, err := io.ReadFull(br, b)
		pos += int64(n)
		return err
	}
	skip := func(n int64) bool {
		k, err := br.Discard(int(min(n, 1<<30)))
		pos += int64(k)
		return err == nil && int64(k) == n
	}
	for range 1 << 20 {
		head, _ := br.Peek(6)
		kind := cpioKind(head)
		if kind == "" {
			return false
		}
		h, err := readCpioHeader(kind, read)
		if err != nil {
			return false
		}
		align := map[string]int64{"newc": 4, "bin-le": 2, "bin-be": 2}[kind]
		if align == 0 {
			align = 1
		}
		if !skip((align - pos%align) % align) {
			return false
		}
		if h.name == "TRAILER!!!" {
			return members > 0
		}
		members++
		if h.size > size || !skip(h.size) {
			return false
		}
		if !skip((align - pos%align) % align) {
			return false
		}
	}
	return false
}

// cpioShortName: the header was read, its name could not be.
type cpioShortName struct{ err error }

func (e *cpioShortName) Error() string { return "cpio name: " + e.err.Error() }
func (e *cpioShortName) Unwrap() error { return e.err }

// countingReader adds what it reads to *n.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// isCpio reports whether h starts with a cpio header whose name is NUL-terminated where its
// size says (two magic bytes alone would take many binary files for cpio).
func isCpio(h []byte) bool {
	kind := cpioKind(h)
	if kind == "" {
		return false
	}
	r := bytes.NewReader(h)
	hdr, err := readCpioHeader(kind, func(b []byte) error { _, err := io.ReadFull(r, b); return err })
	if err != nil {
		// A name longer than the head still makes a newc or odc header whose numeric
		// fields all parsed; a binary header has too little to go on without its name.
		var short *cpioShortName
		return errors.As(err, &short) && kind != "bin-le" && kind != "bin-be"
	}
	fixed := map[string]int64{"newc": 110, "odc": 76}[kind]
	if fixed == 0 {
		fixed = 26
	}
	return h[fixed+hdr.namesize-1] == 0
}

// readCpioHeader reads one header and its name.
func readCpioHeader(kind string, read func([]byte) error) (cpioHeader, error) {
	var h cpioHeader
	field := func(b []byte, base int) (int64, error) {
		v, err := strconv.ParseInt(string(b), base, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("cpio %s header field %q", kind, b)
		}
		return v, nil
	}
	var err error
	switch kind {
	case "newc":
		var b [110]byte
		if err := read(b[:]); err != nil {
			return h, fmt.Errorf("cpio header: %w", err)
		}
		if h.mode, err = field(b[14:22], 16); err != nil {
			return h, err
		}
		if h.size, err = field(b[54:62], 16); err != nil {
			return h, err
		}
		if h.namesize, err = field(b[94:102], 16); err != nil {
			return h, err
		}
	case "odc":
		var b [76]byte
		if err := read(b[:]); err != nil {
			return h, fmt.Errorf("cpio header: %w", err)
		}
		if h.mode, err = field(b[18:24], 8); err != nil {
			return h, err
		}
		if h.namesize, err = field(b[59:65], 8); err != nil {
			return h, err
		}
		if h.size, err = field(b[65:76], 8); err != nil {
			return h, err
		}
	default:
		var b [26]byte
		if err := read(b[:]); err != nil {
			return h, fmt.Errorf("cpio header: %w", err)
		}
		u16 := func(i int) int64 {
			if kind == "bin-le" {
				return int64(b[i]) | int64(b[i+1])<<8
			}
			return int64(b[i])<<8 | int64(b[i+1])
		}
		h.mode, h.namesize, h.size = u16(6), u16(20), u16(22)<<16|u16(24)
	}
	if h.namesize == 0 || h.namesize > maxPathBytes+1 {
		return h, fmt.Errorf("cpio name of %d bytes", h.namesize)
	}
	name := make([]byte, h.namesize)
	if err := read(name); err != nil {
		return h, &cpioShortName{err}
	}
	h.name = strings.TrimSuffix(string(name), "\x00")
	return h, nil
}
