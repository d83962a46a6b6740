package difftest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// fuzzClass names the known class a fuzzer-made input belongs to by its structure, so that a
// mutation of a corpus file still showing that file's known divergence is not reported as new:
// "fuzz/ar", "fuzz/cpio", ... knownDivergences lists these classes beside the generators'. An
// input of no such structure is "fuzz", where every divergence fails.
func fuzzClass(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("!<arch>\n")):
		return "fuzz/ar"
	case bytes.HasPrefix(data, []byte("0707")), bytes.HasPrefix(data, []byte{0xc7, 0x71}), bytes.HasPrefix(data, []byte{0x71, 0xc7}):
		return "fuzz/cpio"
	case len(data) > 13 && data[0] == 0x5d && data[1] == 0 && data[2] == 0:
		return "fuzz/lzma"
	case bytes.HasPrefix(data, []byte("begin ")) || bytes.HasPrefix(data, []byte("begin-base64 ")):
		return "fuzz/uuencode"
	case len(data) > 4 && data[0]&0xf0 == 0x50 && bytes.HasPrefix(data[1:], []byte{0x2a, 0x4d, 0x18}):
		return "fuzz/zstd-skippable"
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		return "fuzz/sfx"
	}
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		if z, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			if _, err := io.Copy(io.Discard, io.LimitReader(z, 64<<20)); errors.Is(err, io.ErrUnexpectedEOF) {
				return "fuzz/compressed-truncated"
			}
		}
	}
	if c := zipClass(data); c != "" {
		return c
	}
	if c := tarClass(data); c != "" {
		return c
	}
	return "fuzz"
}

// zipClass is "fuzz/zip-mode" for a zip (as Go reads it) with an entry whose mode is not a
// regular file or whose MS-DOS attributes say directory without a '/', "fuzz/zip-views" for a
// zip whose local headers are not what the central directory lists, or "".
func zipClass(data []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if bytes.Contains(data, []byte("PK\x03\x04")) {
			return "fuzz/zip-views" // local entries that Go's reader does not list at all
		}
		return ""
	}
	locals := bytes.Count(data, []byte("PK\x03\x04"))
	for _, f := range zr.File {
		m := f.Mode()
		if m.Type()&^fs.ModeDir != 0 || m.IsDir() && (len(f.Name) == 0 || f.Name[len(f.Name)-1] != '/') {
			return "fuzz/zip-mode"
		}
	}
	if locals != len(zr.File) || !bytes.HasPrefix(data, []byte("PK")) {
		return "fuzz/zip-views"
	}
	for _, f := range zr.File {
		off, err := f.DataOffset()
		if err != nil {
			return "fuzz/zip-views"
		}
		rc, err := f.Open()
		if err != nil {
			return "fuzz/zip-views"
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || off < 30 {
			return "fuzz/zip-views"
		}
	}
	return ""
}

// tarClass is "fuzz/tar-signed" for a tar whose first checksum is the signed sum only,
// "fuzz/tar-numeric" for a tar with a header whose size field starts with NUL or
// space, "fuzz/tar-type" for a tar (as Go reads it) with an entry type Go's reader does
// not take as a regular file, link or directory, "fuzz/tar-meta" for one with GNU long names,
// pax headers or sparse maps, "fuzz/tar-after-end" for one with data after its end, or "".
func tarClass(data []byte) string {
	if len(data) < 512 || !tarSumOK(data[:512]) {
		return ""
	}
	if !tarUnsignedSumOK(data[:512]) {
		return "fuzz/tar-signed" // a checksum only the signed sum matches
	}
	for off := 0; off+512 <= len(data); off += 512 {
		if blk := data[off : off+512]; tarSumOK(blk) && (blk[124] == 0 || blk[124] == ' ') {
			return "fuzz/tar-numeric" // a size field readers parse differently
		}
	}
	tr := tar.NewReader(bytes.NewReader(data))
	meta := false
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
		default:
			return "fuzz/tar-type"
		}
		if len(h.PAXRecords) > 0 || len(h.Name) > 100 || len(h.Linkname) > 100 {
			meta = true
		}
	}
	if meta {
		return "fuzz/tar-meta"
	}
	return "fuzz/tar-after-end"
}

// tarUnsignedSumOK reports whether blk's checksum field matches its unsigned sum, as writers
// compute it.
func tarUnsignedSumOK(blk []byte) bool {
	u := 0
	for i, c := range blk[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		u += int(c)
	}
	var v int
	f := strings.Trim(string(blk[148:156]), " \x00")
	_, err := fmt.Sscanf(f, "%o", &v)
	return err == nil && f != "" && v == u
}
