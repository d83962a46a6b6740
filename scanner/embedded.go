package scanner

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// maxEmbeddedSearch bounds how far into an executable the walk looks for an archive that 7z,
// unrar or cabextract would find there (self-extractors put it right after a stub of a few
// hundred KB; the bound keeps the search's cost in proportion).
const maxEmbeddedSearch = 64 << 20

// embeddedOpaque looks inside a PE or ELF executable for a 7z, RAR or CAB archive that the
// tools which open self-extractors find by its signature, and names it, or returns "". Each
// candidate must carry its format's checked header (a CRC over the 7z start header or the RAR
// archive header, CAB's fixed fields), so a signature that is a constant in a program (every
// build of libarchive holds them) does not count.
func embeddedOpaque(src io.ReaderAt, size int64) string {
	var head [4]byte
	if n, _ := src.ReadAt(head[:], 0); n < 4 || (string(head[:2]) != "MZ" && string(head[:]) != "\x7fELF") {
		return ""
	}
	n := min(size, maxEmbeddedSearch)
	var buf []byte
	if b, ok := src.(interface{ Bytes() []byte }); ok && int64(len(b.Bytes())) >= n {
		buf = b.Bytes()[:n]
	} else {
		buf = make([]byte, n)
		k, _ := src.ReadAt(buf, 0)
		buf = buf[:k]
	}
	for _, c := range []struct {
		name, sig string
		ok        func([]byte) bool
	}{
		{"7z archive", "7z\xbc\xaf\x27\x1c", sevenZipHeaderOK},
		{"RAR archive", "Rar!\x1a\x07", rarHeaderOK},
		{"cabinet (CAB) archive", "MSCF\x00\x00\x00\x00", cabHeaderOK},
	} {
		for off := 1; off < len(buf); {
			i := bytes.Index(buf[off:], []byte(c.sig))
			if i < 0 {
				break
			}
			off += i
			if c.ok(buf[off:]) {
				return fmt.Sprintf("%s at offset %d inside an executable (a self-extractor; 7z opens it)", c.name, off)
			}
			off++
		}
	}
	return ""
}

// sevenZipHeaderOK checks a 7z signature header: major version 0 and the CRC-32 of the start
// header.
func sevenZipHeaderOK(b []byte) bool {
	return len(b) >= 32 && b[6] == 0 && binary.LittleEndian.Uint32(b[8:]) == crc32.ChecksumIEEE(b[12:32])
}

// rarHeaderOK checks the header after a RAR marker: RAR 4's archive header (type 0x73, its
// CRC-16) or RAR 5's main header (its CRC-32 over the size and the header).
func rarHeaderOK(b []byte) bool {
	switch {
	case len(b) >= 7+7 && b[6] == 0: // RAR 4
		h := b[7:]
		hs := int(binary.LittleEndian.Uint16(h[5:]))
		return h[2] == 0x73 && hs >= 7 && len(h) >= hs && uint16(crc32.ChecksumIEEE(h[2:hs])) == binary.LittleEndian.Uint16(h)
	case len(b) >= 8+6 && b[6] == 1 && b[7] == 0: // RAR 5
		h := b[8:]
		size, n := binary.Uvarint(h[4:])
		if n <= 0 || size == 0 || size > 1<<20 || uint64(len(h)) < 4+uint64(n)+size {
			return false
		}
		return crc32.ChecksumIEEE(h[4:4+uint64(n)+size]) == binary.LittleEndian.Uint32(h)
	}
	return false
}

// cabHeaderOK checks a cabinet header's fixed fields: reserved words zero, version 1.3, a
// cabinet size that covers at least its header.
func cabHeaderOK(b []byte) bool {
	return len(b) >= 36 && binary.LittleEndian.Uint32(b[12:]) == 0 && binary.LittleEndian.Uint32(b[20:]) == 0 &&
		b[24] == 3 && b[25] == 1 && binary.LittleEndian.Uint32(b[8:]) >= 36
}

// lhaName names an LHA/LZH archive (method "-lh5-" and the like at offset 2, a header level
// of at most 3), or returns "". Nothing in airlock walks LHA, so such a file is opaque.
func lhaName(h []byte) string {
	if len(h) < 22 || h[2] != '-' || h[6] != '-' || h[3] != 'l' || (h[4] != 'h' && h[4] != 'z') || h[20] > 3 {
		return ""
	}
	return "LHA/LZH archive"
}
