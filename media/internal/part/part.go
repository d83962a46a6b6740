// Package part reads the partition table of a hostile disk: MBR (with extended partitions), GPT
// (protective MBR, header and entry CRCs checked) or none at all (a "superfloppy": a filesystem
// that starts at byte 0). Every partition must lie inside the disk.
package part

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"

	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
)

// Scheme is the kind of partition table.
type Scheme string

// Partitioning schemes.
const (
	None Scheme = "none" // superfloppy: the whole disk is one volume
	MBR  Scheme = "mbr"
	GPT  Scheme = "gpt"
)

// Limits on hostile tables.
const (
	MaxLogical    = 128 // logical partitions in an extended partition chain
	MaxGPTEntries = 1024
)

// Partition is one region of the disk.
type Partition struct {
	Index int    // 1-based, as the kernel numbers them (logical MBR partitions from 5)
	Start int64  // bytes
	Size  int64  // bytes
	Type  string // MBR: two hex digits ("0c"); GPT: the type GUID
	Name  string // GPT partition name
}

// Table is the decoded partition table.
type Table struct {
	Scheme     Scheme
	SectorSize int64
	Partitions []Partition
}

// Reader reads the disk.
type Reader interface {
	io.ReaderAt
}

// Whole returns a table with one partition spanning the disk, for superfloppies.
func Whole(size int64) *Table {
	return &Table{Scheme: None, SectorSize: 512, Partitions: []Partition{{Index: 0, Start: 0, Size: size}}}
}

func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// IsExtended reports whether an MBR type is an extended-partition container.
func IsExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

// Parse decodes the first sector of a disk of size bytes as an MBR, following extended
// partitions through r, or as a protective MBR followed by a GPT. It returns (nil, nil) when
// sector 0 has no 0x55AA signature. sectorSize is the disk's logical sector size.
//
// Where readers could pick different tables, Parse refuses: a protective MBR with other entries
// (a hybrid MBR: MBR-only readers see those, GPT readers the GPT), an MBR without a protective
// entry over a valid GPT header (gdisk and firmware see the GPT, Linux the MBR), GPT headers
// valid for both 512- and 4096-byte sectors.
func Parse(r io.ReaderAt, size, sectorSize int64) (*Table, error) {
	s0 := make([]byte, 512)
	if err := readFull(r, s0, 0); err != nil {
		return nil, mediaerr.Corrupt("partition table: sector 0: %v", err)
	}
	if s0[510] != 0x55 || s0[511] != 0xAA {
		return nil, nil
	}
	protective := -1
	for i := 0; i < 4; i++ {
		if s0[446+16*i+4] == 0xEE {
			protective = i
		}
	}
	if protective < 0 {
		for _, ss := range []int64{512, 4096} {
			if _, err := parseGPT(r, size, ss); err == nil {
				return nil, mediaerr.Corrupt("mbr: a valid GPT (%d-byte sectors) behind an MBR without a protective entry: readers differ on which table counts", ss)
			}
		}
		return parseMBR(r, s0, size, sectorSize)
	}
	for i := 0; i < 4; i++ {
		e := s0[446+16*i : 446+16*i+16]
		if i != protective && !bytes.Equal(e, make([]byte, 16)) {
			return nil, mediaerr.Corrupt("gpt: protective MBR with another entry (%d, type %#02x): a hybrid MBR, readers differ on which table counts", i+1, e[4])
		}
	}
	t, err := parseGPT(r, size, sectorSize)
	if sectorSize != 512 {
		return t, err
	}
	t4, err4 := parseGPT(r, size, 4096)
	switch {
	case err == nil && err4 == nil:
		return nil, mediaerr.Corrupt("gpt: valid headers for both 512- and 4096-byte sectors: readers differ on which table counts")
	case err == nil:
		return t, nil
	case err4 == nil:
		return t4, nil // an image of a 4Kn disk
	}
	return nil, err
}

func (t *Table) check(p Partition, size int64) error {
	if p.Start < 0 || p.Size < 0 || p.Start > size || p.Size > size-p.Start {
		return mediaerr.Corrupt("%s partition %d (bytes %d+%d) past the end of the disk (%d bytes)", t.Scheme, p.Index, p.Start, p.Size, size)
	}
	return nil
}

func parseMBR(r io.ReaderAt, s0 []byte, size, ss int64) (*Table, error) {
	t := &Table{Scheme: MBR, SectorSize: ss}
	var ext []Partition
	for i := 0; i < 4; i++ {
		e := s0[446+16*i:]
		typ := e[4]
		start := int64(binary.LittleEndian.Uint32(e[8:])) * ss
		n := int64(binary.LittleEndian.Uint32(e[12:])) * ss
		if typ == 0 || n == 0 {
			continue
		}
		if e[0] != 0 && e[0] != 0x80 {
			return nil, mediaerr.Corrupt("mbr: partition %d has boot flag %#x", i+1, e[0])
		}
		p := Partition{Index: i + 1, Start: start, Size: n, Type: fmt.Sprintf("%02x", typ)}
		if err := t.check(p, size); err != nil {
			return nil, err
		}
		if start == 0 {
			return nil, mediaerr.Corrupt("mbr: partition %d starts at sector 0, over the MBR", i+1)
		}
		if IsExtended(typ) {
			ext = append(ext, p)
			continue
		}
		t.Partitions = append(t.Partitions, p)
	}
	if len(ext) > 1 {
		return nil, mediaerr.Corrupt("mbr: %d extended partitions", len(ext))
	}
	if len(ext) == 1 {
		for _, p := range t.Partitions {
			if p.Start < ext[0].Start+ext[0].Size && ext[0].Start < p.Start+p.Size {
				return nil, mediaerr.Corrupt("mbr: partitions %d and %d (extended) overlap", p.Index, ext[0].Index)
			}
		}
		if err := t.logical(r, ext[0], size, ss); err != nil {
			return nil, err
		}
	}
	if err := overlaps(t); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Table) logical(r io.ReaderAt, ext Partition, size, ss int64) error {
	seen := map[int64]bool{}
	ebr := ext.Start
	b := make([]byte, 512)
	for k := 0; ; k++ {
		if k >= MaxLogical {
			return mediaerr.Corrupt("mbr: more than %d logical partitions", MaxLogical)
		}
		if seen[ebr] {
			return mediaerr.Corrupt("mbr: extended partition chain loops at byte %d", ebr)
		}
		seen[ebr] = true
		if err := readFull(r, b, ebr); err != nil {
			return mediaerr.Corrupt("mbr: extended boot record at byte %d: %v", ebr, err)
		}
		if b[510] != 0x55 || b[511] != 0xAA {
			return mediaerr.Corrupt("mbr: extended boot record at byte %d has no signature", ebr)
		}
		e := b[446:]
		if typ := e[4]; typ != 0 && binary.LittleEndian.Uint32(e[12:]) != 0 {
			p := Partition{Index: 5 + k, Start: ebr + int64(binary.LittleEndian.Uint32(e[8:]))*ss,
				Size: int64(binary.LittleEndian.Uint32(e[12:])) * ss, Type: fmt.Sprintf("%02x", typ)}
			if err := t.check(p, size); err != nil {
				return err
			}
			if p.Start <= ebr || p.Start+p.Size > ext.Start+ext.Size {
				return mediaerr.Corrupt("mbr: logical partition %d outside its extended partition", p.Index)
			}
			t.Partitions = append(t.Partitions, p)
		}
		e = b[446+16:]
		if e[4] == 0 || binary.LittleEndian.Uint32(e[12:]) == 0 {
			return nil
		}
		ebr = ext.Start + int64(binary.LittleEndian.Uint32(e[8:]))*ss
		if ebr >= ext.Start+ext.Size {
			return mediaerr.Corrupt("mbr: next extended boot record at byte %d outside the extended partition", ebr)
		}
	}
}

func overlaps(t *Table) error {
	for i, a := range t.Partitions {
		for _, b := range t.Partitions[i+1:] {
			if a.Start < b.Start+b.Size && b.Start < a.Start+a.Size {
				return mediaerr.Corrupt("%s: partitions %d and %d overlap", t.Scheme, a.Index, b.Index)
			}
		}
	}
	return nil
}

func parseGPT(r io.ReaderAt, size, ss int64) (*Table, error) {
	h := make([]byte, ss)
	if err := readFull(r, h, ss); err != nil {
		return nil, mediaerr.Corrupt("gpt: header at byte %d: %v", ss, err)
	}
	if string(h[:8]) != "EFI PART" {
		return nil, mediaerr.Corrupt("gpt: protective MBR but no GPT header at byte %d", ss)
	}
	hsize := binary.LittleEndian.Uint32(h[12:])
	if hsize < 92 || int64(hsize) > ss {
		return nil, mediaerr.Corrupt("gpt: header size %d", hsize)
	}
	want := binary.LittleEndian.Uint32(h[16:])
	hc := append([]byte(nil), h[:hsize]...)
	binary.LittleEndian.PutUint32(hc[16:], 0)
	if crc32.ChecksumIEEE(hc) != want {
		return nil, mediaerr.Corrupt("gpt: header CRC mismatch")
	}
	if my := binary.LittleEndian.Uint64(h[24:]); my != 1 {
		return nil, mediaerr.Corrupt("gpt: header says it is at sector %d, not 1", my)
	}
	firstUsable := int64(binary.LittleEndian.Uint64(h[40:]))
	lastUsable := int64(binary.LittleEndian.Uint64(h[48:]))
	entLBA := int64(binary.LittleEndian.Uint64(h[72:]))
	n := binary.LittleEndian.Uint32(h[80:])
	esz := binary.LittleEndian.Uint32(h[84:])
	if n > MaxGPTEntries || esz < 128 || esz > 4096 || esz%8 != 0 {
		return nil, mediaerr.Corrupt("gpt: %d entries of %d bytes", n, esz)
	}
	if lastUsable < 0 || lastUsable >= size/ss {
		return nil, mediaerr.Corrupt("gpt: last usable sector %d past the end of the disk (%d sectors)", lastUsable, size/ss)
	}
	if entLBA < 2 || entLBA > size/ss {
		return nil, mediaerr.Corrupt("gpt: entries at sector %d", entLBA)
	}
	if entEnd := entLBA + (int64(n)*int64(esz)+ss-1)/ss; firstUsable < entEnd || firstUsable > lastUsable+1 {
		return nil, mediaerr.Corrupt("gpt: first usable sector %d inside the header or entries (sectors 1..%d) or past the last (%d)", firstUsable, entEnd-1, lastUsable)
	}
	ents := make([]byte, int64(n)*int64(esz))
	if err := readFull(r, ents, entLBA*ss); err != nil {
		return nil, mediaerr.Corrupt("gpt: entries at sector %d: %v", entLBA, err)
	}
	if crc32.ChecksumIEEE(ents) != binary.LittleEndian.Uint32(h[88:]) {
		return nil, mediaerr.Corrupt("gpt: partition entries CRC mismatch")
	}
	t := &Table{Scheme: GPT, SectorSize: ss}
	zero := make([]byte, 16)
	for i := uint32(0); i < n; i++ {
		e := ents[i*esz : (i+1)*esz]
		if bytes.Equal(e[:16], zero) {
			continue
		}
		first := int64(binary.LittleEndian.Uint64(e[32:]))
		last := int64(binary.LittleEndian.Uint64(e[40:]))
		if first < 0 || last < first {
			return nil, mediaerr.Corrupt("gpt: partition %d has sectors %d..%d", i+1, first, last)
		}
		u := make([]uint16, 36)
		for k := range u {
			u[k] = binary.LittleEndian.Uint16(e[56+2*k:])
		}
		for k, c := range u {
			if c == 0 {
				u = u[:k]
				break
			}
		}
		p := Partition{Index: int(i) + 1, Start: first * ss, Size: (last - first + 1) * ss, Type: guid(e[:16]),
			Name: string(utf16.Decode(u))}
		if first < firstUsable {
			return nil, mediaerr.Corrupt("gpt: partition %d (sectors %d..%d) over the GPT itself (first usable sector %d)", p.Index, first, last, firstUsable)
		}
		if last > lastUsable || first > size/ss {
			return nil, mediaerr.Corrupt("gpt partition %d (sectors %d..%d) past the end of the disk (%d sectors)", p.Index, first, last, size/ss)
		}
		if err := t.check(p, size); err != nil {
			return nil, err
		}
		t.Partitions = append(t.Partitions, p)
	}
	if err := overlaps(t); err != nil {
		return nil, err
	}
	return t, nil
}

// guid formats a mixed-endian GPT GUID.
func guid(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}
