// Package zipr reads a zip archive the way the scanner needs it: both of its views at once.
//
// A zip archive describes every entry twice, in the central directory at its end (what unzip, 7z
// and a seekable libarchive read) and in the local header before the entry's data (what a
// streaming reader, such as bsdtar reading a pipe, reads). archive/zip trusts the central
// directory alone, so a hostile archive can show one tool one file and another tool another.
// Open reads both and reports every disagreement as a Problem: a method, size, CRC, flag or name
// that differs; bytes between, before or after the entries that no central entry accounts for
// (where a streaming reader would look for more entries); entries that overlap (one stored
// member listed a hundred times); a Unicode Path extra field (libarchive's name) that differs
// from the header name; a '\' in a name (Info-ZIP turns it into '/' for some creators, others
// keep it). The caller refuses the archive when there is any problem, and still scans every
// entry it can read.
package zipr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"unicode/utf8"
)

// Zip record signatures and fixed lengths.
const (
	sigLocal    = "PK\x03\x04"
	sigCentral  = "PK\x01\x02"
	sigEnd      = "PK\x05\x06"
	sigEnd64    = "PK\x06\x06"
	sigLoc64    = "PK\x06\x07"
	sigDesc     = "PK\x07\x08"
	endLen      = 22
	loc64Len    = 20
	end64Len    = 56
	centralLen  = 46
	localLen    = 30
	maxTail     = endLen + 0xffff
	flagEncrypt = 1
	flagDesc    = 1 << 3
)

// ErrNoEnd is returned when no end-of-central-directory record is found.
var ErrNoEnd = errors.New("no zip end-of-central-directory record")

// Limits bound what Open reads.
type Limits struct {
	MaxEntries int // central directory entries
	MaxName    int // bytes of one entry name (after which it is refused, not truncated)
}

// Entry is one central directory entry, with what its local header says.
type Entry struct {
	Name        string // the central header's name
	UnicodeName string // the Unicode Path extra field's name, if any (libarchive uses it)
	Method      uint16
	Flags       uint16
	CRC32       uint32
	CompSize    uint64
	Size        uint64
	CreatorOS   byte   // high byte of "version made by": 0 MS-DOS, 3 Unix, ...
	External    uint32 // external attributes: MS-DOS attributes low, Unix mode high
	Offset      int64  // of the local header, in the file
	DataOffset  int64  // of the data, in the file
	End         int64  // of the entry (data and descriptor), in the file
}

// Unix mode bits of the external attributes (when the creator is Unix).
const (
	ModeType    = 0o170000
	ModeFIFO    = 0o010000
	ModeChar    = 0o020000
	ModeDir     = 0o040000
	ModeBlock   = 0o060000
	ModeRegular = 0o100000
	ModeSymlink = 0o120000
	ModeSocket  = 0o140000
)

// UnixType is the file type bits of the entry's Unix mode, 0 if there is none.
func (e *Entry) UnixType() uint32 {
	if e.CreatorOS != 3 && e.CreatorOS != 19 { // Unix, OS X
		return 0
	}
	return (e.External >> 16) & ModeType
}

// DOSDir reports whether the MS-DOS attributes say directory.
func (e *Entry) DOSDir() bool { return e.External&0x10 != 0 }

// Archive is an opened zip.
type Archive struct {
	Entries []Entry
	// Base is where the archive starts in the file (bytes before it: a self-extractor's stub).
	Base int64
	// Problems lists every disagreement between the two views, and bytes no entry accounts
	// for. An archive with problems must be refused.
	Problems []string
	src      io.ReaderAt
	size     int64
}

// FindEnd locates the end-of-central-directory record in the last bytes of src: the last
// signature whose comment runs to the end of the file or whose record points at a central
// directory. It returns the record's offset, or -1.
func FindEnd(src io.ReaderAt, size int64) int64 {
	n := min(size, maxTail)
	if n < endLen {
		return -1
	}
	var tail []byte
	if b, ok := src.(interface{ Bytes() []byte }); ok && int64(len(b.Bytes())) >= size {
		tail = b.Bytes()[size-n : size] // in memory: no copy for every small file sniffed
	} else {
		tail = make([]byte, n)
		if k, _ := src.ReadAt(tail, size-n); int64(k) != n {
			return -1
		}
	}
	// Forward search (vectorized) for every signature, then the last first: bytes.LastIndex
	// is a byte-by-byte Rabin-Karp and cost more than hashing the file.
	var cands []int
	for off := 0; ; {
		i := bytes.Index(tail[off:], []byte(sigEnd))
		if i < 0 {
			break
		}
		cands = append(cands, off+i)
		off += i + 1
	}
	for k := len(cands) - 1; k >= 0; k-- {
		i := cands[k]
		off := size - n + int64(i)
		if i+endLen <= len(tail) {
			rec := tail[i : i+endLen]
			exact := int(binary.LittleEndian.Uint16(rec[20:])) == len(tail)-i-endLen
			// A record whose comment runs exactly to the end is what zip readers find (a
			// broken directory behind it makes the file unscannable, not plain); one followed
			// by other bytes counts only if it points at a central directory.
			if exact || plausibleEnd(src, rec, off) {
				return off
			}
		}
	}
	return -1
}

// plausibleEnd checks that an end record describes a central directory that is there.
func plausibleEnd(src io.ReaderAt, rec []byte, off int64) bool {
	if binary.LittleEndian.Uint16(rec[4:]) != 0 || binary.LittleEndian.Uint16(rec[6:]) != 0 {
		return false // multi-disk archives are not supported by anyone we care about
	}
	count := binary.LittleEndian.Uint16(rec[10:])
	cdSize := int64(binary.LittleEndian.Uint32(rec[12:]))
	if count == 0 && cdSize == 0 {
		return false // an empty archive: FindEnd also wants its comment to run to the end
	}
	if count == 0xffff || cdSize == 0xffffffff { // zip64: its locator sits just before
		var loc [4]byte
		_, err := src.ReadAt(loc[:], off-loc64Len)
		return err == nil && string(loc[:]) == sigLoc64
	}
	start := off - cdSize
	if start < 0 {
		return false
	}
	// A zip64 archive's end record follows its zip64 records.
	for _, s := range []int64{start, start - loc64Len - end64Len} {
		var sig [4]byte
		if s >= 0 {
			if _, err := src.ReadAt(sig[:], s); err == nil && string(sig[:]) == sigCentral {
				return true
			}
		}
	}
	return false
}

// Open reads the central directory and every local header of the zip whose end record is in
// the last bytes of src.
func Open(src io.ReaderAt, size int64, lim Limits) (*Archive, error) {
	endOff := FindEnd(src, size)
	if endOff < 0 {
		return nil, ErrNoEnd
	}
	a := &Archive{src: src, size: size}
	rec := make([]byte, endLen)
	if _, err := src.ReadAt(rec, endOff); err != nil {
		return nil, fmt.Errorf("end record: %w", err)
	}
	count := uint64(binary.LittleEndian.Uint16(rec[10:]))
	if binary.LittleEndian.Uint16(rec[8:]) != uint16(count) {
		a.problem("end record: entries on this disk %d, in total %d", binary.LittleEndian.Uint16(rec[8:]), count)
	}
	cdSize := uint64(binary.LittleEndian.Uint32(rec[12:]))
	cdOff := uint64(binary.LittleEndian.Uint32(rec[16:]))
	if commentEnd := endOff + endLen + int64(binary.LittleEndian.Uint16(rec[20:])); commentEnd != size {
		if commentEnd > size {
			a.problem("end record comment runs %d bytes past the end of the file", commentEnd-size)
		} else {
			a.problem("%d bytes after the zip end record", size-commentEnd)
		}
	}
	cdEnd := endOff // where the central directory must end (zip64 records come between)
	var loc [loc64Len]byte
	if endOff >= loc64Len {
		if _, err := src.ReadAt(loc[:], endOff-loc64Len); err == nil && string(loc[:4]) == sigLoc64 {
			e64 := int64(binary.LittleEndian.Uint64(loc[8:]))
			var r64 [end64Len]byte
			// The locator's offset is relative to the archive's start, like every offset.
			found := int64(-1)
			for _, cand := range []int64{endOff - loc64Len - end64Len, e64} {
				if cand >= 0 {
					if _, err := src.ReadAt(r64[:], cand); err == nil && string(r64[:4]) == sigEnd64 {
						found = cand
						break
					}
				}
			}
			if found < 0 {
				return nil, errors.New("zip64 end record not found where its locator points")
			}
			if found+end64Len != endOff-loc64Len {
				a.problem("%d bytes between the zip64 end record and its locator", endOff-loc64Len-found-end64Len)
			}
			c64 := binary.LittleEndian.Uint64(r64[32:])
			if count != 0xffff && count != c64 {
				a.problem("end record says %d entries, zip64 end record %d", count, c64)
			}
			count, cdSize, cdOff = c64, binary.LittleEndian.Uint64(r64[40:]), binary.LittleEndian.Uint64(r64[48:])
			cdEnd = found
		}
	}
	if cdSize > uint64(cdEnd) {
		return nil, fmt.Errorf("central directory of %d bytes before offset %d", cdSize, cdEnd)
	}
	cdStart := cdEnd - int64(cdSize)
	if cdOff > uint64(cdStart) {
		return nil, fmt.Errorf("central directory offset %d past where it ends", cdOff)
	}
	a.Base = cdStart - int64(cdOff) // bytes in front: self-extractor stub, or a prefix
	if lim.MaxEntries > 0 && count > uint64(lim.MaxEntries) {
		return nil, &LimitError{What: "entries", Msg: fmt.Sprintf("zip central directory lists %d entries, more than %d", count, lim.MaxEntries)}
	}
	cd := io.NewSectionReader(src, cdStart, int64(cdSize))
	if err := a.readCentral(cd, count, lim); err != nil {
		return nil, err
	}
	a.checkLocal(cdStart)
	return a, nil
}

// LimitError is a bound Open refused to go past.
type LimitError struct{ What, Msg string }

func (e *LimitError) Error() string { return e.Msg }

func (a *Archive) problem(format string, args ...any) {
	a.Problems = append(a.Problems, fmt.Sprintf(format, args...))
}

func (a *Archive) readCentral(cd *io.SectionReader, count uint64, lim Limits) error {
	var hdr [centralLen]byte
	pos := int64(0)
	for i := uint64(0); i < count; i++ {
		if _, err := cd.ReadAt(hdr[:], pos); err != nil {
			return fmt.Errorf("central entry %d: %w", i, err)
		}
		if string(hdr[:4]) != sigCentral {
			return fmt.Errorf("central entry %d: bad signature", i)
		}
		nlen := int(binary.LittleEndian.Uint16(hdr[28:]))
		xlen := int(binary.LittleEndian.Uint16(hdr[30:]))
		clen := int(binary.LittleEndian.Uint16(hdr[32:]))
		if lim.MaxName > 0 && nlen > lim.MaxName {
			return &LimitError{What: "name", Msg: fmt.Sprintf("zip entry %d: name of %d bytes, more than %d", i, nlen, lim.MaxName)}
		}
		vari := make([]byte, nlen+xlen+clen)
		if _, err := cd.ReadAt(vari, pos+centralLen); err != nil {
			return fmt.Errorf("central entry %d: %w", i, err)
		}
		pos += centralLen + int64(len(vari))
		e := Entry{
			Name:      string(vari[:nlen]),
			CreatorOS: hdr[5],
			Flags:     binary.LittleEndian.Uint16(hdr[8:]),
			Method:    binary.LittleEndian.Uint16(hdr[10:]),
			CRC32:     binary.LittleEndian.Uint32(hdr[16:]),
			CompSize:  uint64(binary.LittleEndian.Uint32(hdr[20:])),
			Size:      uint64(binary.LittleEndian.Uint32(hdr[24:])),
			External:  binary.LittleEndian.Uint32(hdr[38:]),
		}
		if d := binary.LittleEndian.Uint16(hdr[34:]); d != 0 {
			a.problem("%s: on disk %d", e.Name, d)
		}
		off := uint64(binary.LittleEndian.Uint32(hdr[42:]))
		extra := vari[nlen : nlen+xlen]
		// zip64: the fields that are all ones come from the extra field, in this order.
		z64 := findExtra(extra, 0x0001)
		take := func(v *uint64) {
			if *v != 0xffffffff {
				return
			}
			if len(z64) < 8 {
				a.problem("%s: zip64 field missing", e.Name)
				return
			}
			*v, z64 = binary.LittleEndian.Uint64(z64), z64[8:]
		}
		take(&e.Size)
		take(&e.CompSize)
		take(&off)
		if up := findExtra(extra, 0x7075); up != nil {
			e.UnicodeName = unicodePath(up, vari[:nlen], &e, a)
		}
		if off > uint64(a.size) {
			return fmt.Errorf("%s: local header offset %d past the end", e.Name, off)
		}
		e.Offset = a.Base + int64(off)
		a.Entries = append(a.Entries, e)
	}
	if pos != cd.Size() {
		a.problem("%d bytes in the central directory after its %d entries", cd.Size()-pos, count)
	}
	return nil
}

// unicodePath returns the name of an Info-ZIP Unicode Path extra field (version 1, the CRC-32
// of the header name, the UTF-8 name); libarchive uses it as the name, Info-ZIP only if the
// CRC matches. Any disagreement is a problem.
func unicodePath(up, name []byte, e *Entry, a *Archive) string {
	if len(up) < 5 || up[0] != 1 {
		a.problem("%s: malformed Unicode Path extra field", e.Name)
		return ""
	}
	u := string(up[5:])
	if binary.LittleEndian.Uint32(up[1:]) != crc32.ChecksumIEEE(name) {
		a.problem("%s: Unicode Path extra field %q does not match the header name's CRC (tools disagree on the name)", e.Name, u)
	} else if u != e.Name {
		a.problem("%s: Unicode Path extra field names it %q (libarchive uses that name)", e.Name, u)
	}
	return u
}

// findExtra returns the data of the first extra field with this id, or nil.
func findExtra(x []byte, id uint16) []byte {
	for len(x) >= 4 {
		tag, n := binary.LittleEndian.Uint16(x), int(binary.LittleEndian.Uint16(x[2:]))
		if 4+n > len(x) {
			return nil
		}
		if tag == id {
			return x[4 : 4+n : 4+n]
		}
		x = x[4+n:]
	}
	return nil
}

// checkLocal reads every entry's local header, compares it with the central entry, finds where
// its data and descriptor end, and checks that the entries tile [Base, cdStart) exactly.
func (a *Archive) checkLocal(cdStart int64) {
	for i := range a.Entries {
		e := &a.Entries[i]
		if strings := checkName(e.Name); strings != "" {
			a.problem("%s: %s", e.Name, strings)
		}
		var h [localLen]byte
		if _, err := a.src.ReadAt(h[:], e.Offset); err != nil || string(h[:4]) != sigLocal {
			a.problem("%s: no local header at offset %d", e.Name, e.Offset)
			e.DataOffset, e.End = -1, -1
			continue
		}
		flags := binary.LittleEndian.Uint16(h[6:])
		method := binary.LittleEndian.Uint16(h[8:])
		crc := binary.LittleEndian.Uint32(h[14:])
		csize := uint64(binary.LittleEndian.Uint32(h[18:]))
		usize := uint64(binary.LittleEndian.Uint32(h[22:]))
		nlen := int64(binary.LittleEndian.Uint16(h[26:]))
		xlen := int64(binary.LittleEndian.Uint16(h[28:]))
		vari := make([]byte, nlen+xlen)
		if _, err := a.src.ReadAt(vari, e.Offset+localLen); err != nil {
			a.problem("%s: local header truncated", e.Name)
			e.DataOffset, e.End = -1, -1
			continue
		}
		lname := string(vari[:nlen])
		if lname != e.Name {
			a.problem("%s: the local header names it %q", e.Name, lname)
		}
		if up := findExtra(vari[nlen:], 0x7075); len(up) >= 5 && string(up[5:]) != e.UnicodeName {
			a.problem("%s: local Unicode Path extra field %q differs from the central one %q", e.Name, up[5:], e.UnicodeName)
		}
		if flags != e.Flags {
			a.problem("%s: flags %#x in the local header, %#x in the central directory", e.Name, flags, e.Flags)
		}
		if method != e.Method {
			a.problem("%s: method %d in the local header, %d in the central directory", e.Name, method, e.Method)
		}
		if z64 := findExtra(vari[nlen:], 0x0001); z64 != nil {
			if usize == 0xffffffff && len(z64) >= 8 {
				usize, z64 = binary.LittleEndian.Uint64(z64), z64[8:]
			}
			if csize == 0xffffffff && len(z64) >= 8 {
				csize = binary.LittleEndian.Uint64(z64)
			}
		}
		if flags&flagDesc == 0 || crc != 0 || csize != 0 || usize != 0 {
			if crc != e.CRC32 || csize != e.CompSize || usize != e.Size {
				a.problem("%s: local header says crc %08x, %d bytes (%d compressed); central directory crc %08x, %d bytes (%d compressed)",
					e.Name, crc, usize, csize, e.CRC32, e.Size, e.CompSize)
			}
		}
		e.DataOffset = e.Offset + localLen + nlen + xlen
		if e.CompSize > uint64(a.size) || e.DataOffset+int64(e.CompSize) > a.size {
			a.problem("%s: data runs past the end of the file", e.Name)
			e.End = -1
			continue
		}
		e.End = e.DataOffset + int64(e.CompSize)
		if flags&flagDesc != 0 {
			e.End = a.descriptor(e)
		}
	}
	a.checkTiling(cdStart)
}

// descriptor checks the data descriptor after e's data and returns where it ends.
func (a *Archive) descriptor(e *Entry) int64 {
	var d [24]byte
	n, _ := a.src.ReadAt(d[:], e.End)
	b := d[:n]
	if len(b) >= 4 && string(b[:4]) == sigDesc {
		b = b[4:]
	}
	skip := int64(n - len(b))
	// 32-bit or 64-bit sizes: whichever matches (zip64 archives use 64).
	if len(b) >= 12 && binary.LittleEndian.Uint32(b) == e.CRC32 &&
		uint64(binary.LittleEndian.Uint32(b[4:])) == e.CompSize && uint64(binary.LittleEndian.Uint32(b[8:])) == e.Size {
		return e.End + skip + 12
	}
	if len(b) >= 20 && binary.LittleEndian.Uint32(b) == e.CRC32 &&
		binary.LittleEndian.Uint64(b[4:]) == e.CompSize && binary.LittleEndian.Uint64(b[12:]) == e.Size {
		return e.End + skip + 20
	}
	a.problem("%s: data descriptor missing or disagrees with the central directory", e.Name)
	return e.End
}

// checkTiling requires the entries, in file order, to cover [Base, cdStart) with no gap and no
// overlap: a gap may hold a local entry that only a streaming reader extracts, an overlap lets
// one stored member be counted many times.
func (a *Archive) checkTiling(cdStart int64) {
	idx := make([]int, 0, len(a.Entries))
	for i, e := range a.Entries {
		if e.End >= 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(i, j int) bool { return a.Entries[idx[i]].Offset < a.Entries[idx[j]].Offset })
	pos := a.Base
	for _, i := range idx {
		e := &a.Entries[i]
		switch {
		case e.Offset < pos:
			a.problem("%s: overlaps the entry before it (offset %d, previous entry ends at %d)", e.Name, e.Offset, pos)
		case e.Offset > pos:
			a.problem("%d bytes at offset %d that no central directory entry describes (a streaming reader looks for entries there)", e.Offset-pos, pos)
		}
		pos = max(pos, e.End)
	}
	if pos < cdStart {
		a.problem("%d bytes at offset %d, between the last entry and the central directory, that no entry describes", cdStart-pos, pos)
	} else if pos > cdStart {
		a.problem("entries run %d bytes into the central directory", pos-cdStart)
	}
}

// checkName says what is wrong with a name that tools would read differently, or "".
func checkName(name string) string {
	switch {
	case !utf8.ValidString(name):
		return "name is not UTF-8 (tools decode it as different code pages)"
	case bytes.IndexByte([]byte(name), '\\') >= 0:
		return "name holds '\\' (Info-ZIP makes it a directory separator for some creators, others keep it)"
	case bytes.IndexByte([]byte(name), 0) >= 0:
		return "name holds a NUL byte (C tools cut it there)"
	}
	return ""
}

// Data returns the compressed bytes of e.
func (a *Archive) Data(e *Entry) (*io.SectionReader, error) {
	if e.DataOffset < 0 || e.End < 0 {
		return nil, errors.New("no readable local entry")
	}
	return io.NewSectionReader(a.src, e.DataOffset, int64(e.CompSize)), nil
}

// PrefixHasLocal reports whether the bytes before the archive hold what parses as a local header
// (a streaming reader starting at offset 0 would extract it).
func (a *Archive) PrefixHasLocal() bool {
	n := min(a.Base, 64<<20)
	if n < localLen {
		return false
	}
	buf := make([]byte, n)
	if _, err := a.src.ReadAt(buf, 0); err != nil {
		return false
	}
	for i := 0; ; {
		j := bytes.Index(buf[i:], []byte(sigLocal))
		if j < 0 {
			return false
		}
		i += j
		if i+localLen <= len(buf) && plausibleLocal(buf[i:]) {
			return true
		}
		i += 4
	}
}

// plausibleLocal checks a local header candidate: a version, flags and method zip tools write, a
// short name of printable bytes that fits.
func plausibleLocal(b []byte) bool {
	ver := binary.LittleEndian.Uint16(b[4:])
	method := binary.LittleEndian.Uint16(b[8:])
	nlen := int(binary.LittleEndian.Uint16(b[26:]))
	if ver > 63 || (method != 0 && method != 8 && method != 12 && method != 14 && method != 93 && method != 95) || nlen == 0 || nlen > 1024 || localLen+nlen > len(b) {
		return false
	}
	for _, c := range b[localLen : localLen+nlen] {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
