package scanner

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"

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
	case bytes.HasPrefix(h, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return FormatZstd
	case bytes.HasPrefix(h, []byte("PK\x03\x04")), bytes.HasPrefix(h, []byte("PK\x05\x06")):
		return FormatZip
	case bytes.HasPrefix(h, narMagic):
		return FormatNAR
	case len(h) >= 8+len(narMagic) && binary.LittleEndian.Uint64(h) == 1 && bytes.HasPrefix(h[8:], narMagic):
		return FormatExport
	case isTar(h):
		return FormatTar
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

// zipEndLen is the fixed part of a zip end-of-central-directory record; maxZipTail is how far
// from the end one can start (the record plus the longest comment).
const (
	zipEndLen  = 22
	maxZipTail = zipEndLen + 0xffff
)

// hasZipEnd reports whether the last bytes of a file hold a zip end-of-central-directory record
// whose comment runs exactly to the end of the file, the way zip readers (unzip, 7z, Go's) find
// an archive that does not start the file. Requiring the exact comment length keeps the four
// signature bytes, which occur as a constant in many programs, from counting alone.
func hasZipEnd(src io.ReaderAt, size int64) bool {
	n := min(size, maxZipTail)
	if n < zipEndLen {
		return false
	}
	var tail []byte
	if m, ok := src.(memSource); ok {
		tail = m[size-n : size]
	} else {
		tail = make([]byte, n)
		if k, _ := src.ReadAt(tail, size-n); int64(k) != n {
			return false
		}
	}
	for end := len(tail); ; {
		i := bytes.LastIndex(tail[:end], []byte("PK\x05\x06"))
		if i < 0 {
			return false
		}
		if i+zipEndLen <= len(tail) && int(binary.LittleEndian.Uint16(tail[i+20:])) == len(tail)-i-zipEndLen {
			return true
		}
		end = i
	}
}

// isTar accepts a POSIX/GNU header (magic at 257) or a v7 header whose checksum is right.
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
	sum := 0
	for i, b := range h[:512] {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += int(b)
	}
	field := bytes.TrimRight(bytes.TrimLeft(h[148:156], " "), " \x00")
	want, err := strconv.ParseInt(string(field), 8, 64)
	return err == nil && int(want) == sum
}

// descend walks the entries of an archive (or the content of a compressed stream).
func (w *worker) descend(st *walkState, f *File, kind string, src io.ReaderAt, size int64, depth int) error {
	sec := io.NewSectionReader(src, 0, size)
	switch kind {
	case FormatTar:
		return w.walkTar(st, f, tar.NewReader(bufio.NewReaderSize(sec, 64<<10)), depth)
	case FormatZip, FormatZipAppended:
		return w.walkZip(st, f, src, size, depth)
	case FormatNAR, FormatExport:
		return w.walkGuix(st, f, kind, sec, depth)
	}
	dec, closer, err := w.decompressor(kind, sec)
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer()
	}
	br := bufio.NewReaderSize(&expansion{r: dec, st: st, l: w.s.opt.Limits}, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if isTar(head) {
		f.Format = kind + "+tar"
		if err := w.walkTar(st, f, tar.NewReader(br), depth); err != nil {
			return err
		}
		return drainZeros(br)
	}
	return w.entry(st, f, innerName(f.Path, kind), br, -1, depth+1)
}

// drainZeros reads what follows the end of a tar archive inside a compressed stream: tar pads
// with zeros, anything else is data no extractor shows and no scan of entries saw.
func drainZeros(r io.Reader) error {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return fmt.Errorf("non-zero data %d bytes after the end of the tar archive", total)
			}
			total++
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
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
	}
	return nil, nil, fmt.Errorf("no decompressor for %s", kind)
}

func (w *worker) walkTar(st *walkState, f *File, tr *tar.Reader, depth int) error {
	for {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeGNUSparse:
			if err := w.entry(st, f, hdr.Name, &expansion{r: tr, st: st, l: w.s.opt.Limits, tar: true}, hdr.Size, depth+1); err != nil {
				return err
			}
		case tar.TypeDir:
		case tar.TypeSymlink:
			err = w.record(st, f, hdr.Name, TypeSymlink, hdr.Linkname, "symbolic link: recorded, not followed", depth+1)
		case tar.TypeLink:
			err = w.record(st, f, hdr.Name, TypeHardlink, hdr.Linkname, "hard link: recorded, not followed", depth+1)
		default:
			err = w.record(st, f, hdr.Name, TypeSpecial, "",
				fmt.Sprintf("special entry (tar type %q): recorded, not opened", hdr.Typeflag), depth+1)
		}
		if err != nil {
			return err
		}
	}
}

func (w *worker) walkZip(st *walkState, f *File, src io.ReaderAt, size int64, depth int) error {
	zr, err := zip.NewReader(src, size)
	if err != nil {
		return err
	}
	lim := w.s.opt.Limits
	for _, zf := range zr.File {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			continue
		case zf.Flags&1 != 0:
			if err := w.record(st, f, zf.Name, TypeRegular, "", "", depth+1); err != nil {
				return err
			}
			g := &st.inner[len(st.inner)-1]
			g.Verdict, g.Reason, g.Size = Unscannable, "encrypted zip entry: contents cannot be scanned", int64(zf.UncompressedSize64)
			continue
		case mode&fs.ModeSymlink != 0:
			target := ""
			if zf.UncompressedSize64 <= 4096 {
				if rc, err := zf.Open(); err == nil {
					b, _ := io.ReadAll(io.LimitReader(rc, 4096))
					rc.Close()
					target = string(b)
				}
			}
			if err := w.record(st, f, zf.Name, TypeSymlink, target, "symbolic link: recorded, not followed", depth+1); err != nil {
				return err
			}
			continue
		case !mode.IsRegular():
			if err := w.record(st, f, zf.Name, TypeSpecial, "", "special zip entry ("+mode.Type().String()+"): recorded, not opened", depth+1); err != nil {
				return err
			}
			continue
		}
		if zf.UncompressedSize64 > uint64(lim.MaxEntrySize) {
			if err := w.entry(st, f, zf.Name, nil, int64(min(zf.UncompressedSize64, 1<<62)), depth+1); err != nil {
				return err
			}
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			// Unsupported method or a bad local header: this entry cannot be seen.
			if err := w.record(st, f, zf.Name, TypeRegular, "", "", depth+1); err != nil {
				return err
			}
			g := &st.inner[len(st.inner)-1]
			g.Verdict, g.Reason, g.Size = Unscannable, "cannot open zip entry: "+err.Error(), int64(zf.UncompressedSize64)
			continue
		}
		var r io.Reader = rc
		if zf.Method != zip.Store {
			r = &expansion{r: rc, st: st, l: lim}
		}
		err = w.entry(st, f, zf.Name, r, int64(zf.UncompressedSize64), depth+1)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
