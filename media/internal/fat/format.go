package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
)

// File is a file Format writes into the new volume: in the root directory, or in a directory of
// the root when Name is "DIR/NAME".
type File struct {
	Name string // long name; an 8.3 alias is generated
	Data []byte
}

// FormatOptions describe a new FAT32 volume.
type FormatOptions struct {
	Label         string    // up to 11 characters A-Z 0-9 space _ -; "NO NAME" when empty
	VolumeID      uint32    // the volume serial number
	HiddenSectors uint32    // the partition's start sector on the disk
	SectorSize    int       // logical sector size: 512 (default) or 4096
	Time          time.Time // timestamps of the label and the files
}

// Layout constants of the volumes Format writes.
const (
	reservedSectors = 32
	numFATs         = 2
	fsInfoSector    = 1
	backupBoot      = 6
)

// ErrTooSmall is returned when the partition cannot hold a FAT32 volume (65525 clusters).
var ErrTooSmall = errors.New("too small for FAT32")

// clusterSectors picks the cluster size Microsoft's table gives for a volume of size bytes.
func clusterSectors(size int64, ss int) uint32 {
	var bytes int64
	switch {
	case size <= 260<<20:
		bytes = 512
	case size <= 8<<30:
		bytes = 4096
	case size <= 16<<30:
		bytes = 8192
	case size <= 32<<30:
		bytes = 16384
	default:
		bytes = 32768
	}
	if bytes < int64(ss) {
		bytes = int64(ss)
	}
	return uint32(bytes / int64(ss))
}

// CleanLabel upper-cases label and checks it is a valid FAT volume label.
func CleanLabel(label string) (string, error) {
	if label == "" {
		return "NO NAME", nil
	}
	l := strings.ToUpper(label)
	if len(l) > 11 {
		return "", fmt.Errorf("label %q longer than 11 characters", label)
	}
	for _, c := range l {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '_' || c == '-') {
			return "", fmt.Errorf("label %q: character %q not allowed", label, c)
		}
	}
	return l, nil
}

// Format writes a FAT32 volume of size bytes to w (offset 0 = the volume's first sector) with files
// in its root directory. It writes the boot sector and its backup, FSInfo and its backup, both
// FATs in full, the root directory and the files' clusters; the rest of the data area is left as
// it is (free clusters). The result passes `fsck.fat -n` with exit 0.
func Format(w io.WriterAt, size int64, o FormatOptions, files []File) error {
	ss := o.SectorSize
	if ss == 0 {
		ss = 512
	}
	if ss != 512 && ss != 4096 {
		return fmt.Errorf("format FAT32: sector size %d", ss)
	}
	label, err := CleanLabel(o.Label)
	if err != nil {
		return fmt.Errorf("format FAT32: %w", err)
	}
	total := size / int64(ss)
	if total > 0xffffffff {
		total = 0xffffffff
	}
	spc := clusterSectors(size, ss)
	// FAT size by the Microsoft formula, then reserved sectors padded so the data region starts
	// on a 1 MiB boundary (flash erase blocks); recompute until stable.
	align := uint32((1 << 20) / ss)
	tmp1 := uint64(total) - reservedSectors
	tmp2 := (256*uint64(spc) + numFATs) / 2
	if ss == 4096 {
		tmp2 = uint64(ss)/4*uint64(spc) + numFATs
	}
	// A FAT sized for the minimum reserved region is big enough for any larger one.
	fatsz := uint32((tmp1 + tmp2 - 1) / tmp2)
	rsvd := reservedSectors + (align-(o.HiddenSectors+reservedSectors+numFATs*fatsz)%align)%align
	firstData := rsvd + numFATs*fatsz
	if uint64(firstData) >= uint64(total) {
		return fmt.Errorf("format FAT32: %w (%d bytes)", ErrTooSmall, size)
	}
	clusters := (uint32(total) - firstData) / spc
	if clusters < 65525 {
		return fmt.Errorf("format FAT32: %w: %d bytes give %d clusters", ErrTooSmall, size, clusters)
	}
	if uint64(clusters+2)*4 > uint64(fatsz)*uint64(ss) {
		return fmt.Errorf("format FAT32: FAT of %d sectors too small for %d clusters", fatsz, clusters)
	}
	csize := int64(spc) * int64(ss)

	// Layout: the root directory (label, root files, then subdirectories) from cluster 2,
	// then each subdirectory's clusters, then the files' clusters. Entry counts depend only on
	// the names, so the sizes are known before any cluster is numbered.
	type placed struct {
		first uint32
		n     uint32
		data  []byte
	}
	type dirFile struct {
		name  string
		short []byte
		idx   int // index in files
	}
	var rootFiles []dirFile
	var dirNames []string
	dirFiles := map[string][]dirFile{}
	for i, f := range files {
		dir, name, sub := strings.Cut(f.Name, "/")
		if !sub {
			rootFiles = append(rootFiles, dirFile{f.Name, alias(f.Name, i+1), i})
			continue
		}
		if dir == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("format FAT32: file %q: one directory level at most", f.Name)
		}
		if _, ok := dirFiles[dir]; !ok {
			dirNames = append(dirNames, dir)
		}
		dirFiles[dir] = append(dirFiles[dir], dirFile{name, alias(name, i+1), i})
	}
	dirShort := map[string][]byte{}
	for j, d := range dirNames {
		dirShort[d] = alias(d, len(files)+j+1)
	}
	clustersOf := func(n int64) uint32 { return uint32((n + csize - 1) / csize) }
	entriesLen := func(fs []dirFile) int64 {
		n := int64(0)
		for _, f := range fs {
			n += int64(len(lfnEntries(f.name, f.short))) + 32
		}
		return n
	}
	rootLen := 32 + entriesLen(rootFiles)
	for _, d := range dirNames {
		rootLen += int64(len(lfnEntries(d, dirShort[d]))) + 32
	}
	rootClusters := clustersOf(rootLen)
	next := 2 + rootClusters
	dirFirst := map[string]uint32{}
	var data []placed
	dirIdx := map[string]int{}
	for _, d := range dirNames {
		n := clustersOf(64 + entriesLen(dirFiles[d]))
		dirFirst[d], dirIdx[d] = next, len(data)
		data = append(data, placed{next, n, nil})
		next += n
	}
	fileFirst := make([]uint32, len(files))
	for i, f := range files {
		if n := clustersOf(int64(len(f.Data))); n > 0 {
			fileFirst[i] = next
			data = append(data, placed{next, n, f.Data})
			next += n
		}
	}
	entries := func(fs []dirFile) []byte {
		var b []byte
		for _, f := range fs {
			b = append(b, lfnEntries(f.name, f.short)...)
			b = append(b, dirEntry(f.short, 0x20, fileFirst[f.idx], uint32(len(files[f.idx].Data)), o.Time)...)
		}
		return b
	}
	root := dirEntry([]byte(pad11(label)), 0x08, 0, 0, o.Time)
	root = append(root, entries(rootFiles)...)
	for _, d := range dirNames {
		root = append(root, lfnEntries(d, dirShort[d])...)
		root = append(root, dirEntry(dirShort[d], 0x10, dirFirst[d], 0, o.Time)...)
		sub := dirEntry([]byte(pad11(".")), 0x10, dirFirst[d], 0, o.Time)
		sub = append(sub, dirEntry([]byte(pad11("..")), 0x10, 0, 0, o.Time)...) // 0: the root
		data[dirIdx[d]].data = append(sub, entries(dirFiles[d])...)
	}
	used := next - 2
	if used > clusters {
		return fmt.Errorf("format FAT32: files do not fit")
	}

	// Boot sector.
	bs := make([]byte, ss)
	copy(bs, []byte{0xEB, 0x58, 0x90})
	copy(bs[3:], "MSWIN4.1")
	le16 := func(b []byte, o int, v uint32) { binary.LittleEndian.PutUint16(b[o:], uint16(v)) }
	le32 := func(b []byte, o int, v uint32) { binary.LittleEndian.PutUint32(b[o:], v) }
	le16(bs, 11, uint32(ss))
	bs[13] = byte(spc)
	le16(bs, 14, rsvd)
	bs[16] = numFATs
	bs[21] = 0xF8
	le16(bs, 24, 63)  // sectors per track
	le16(bs, 26, 255) // heads
	le32(bs, 28, o.HiddenSectors)
	le32(bs, 32, uint32(total))
	le32(bs, 36, fatsz)
	le32(bs, 44, 2) // root cluster
	le16(bs, 48, fsInfoSector)
	le16(bs, 50, backupBoot)
	bs[64] = 0x80
	bs[66] = 0x29
	le32(bs, 67, o.VolumeID)
	copy(bs[71:82], pad11(label))
	copy(bs[82:90], "FAT32   ")
	// Boot code: print nothing, wait for a key, reboot (int 16h, int 19h): this is not a boot disk.
	copy(bs[90:], []byte{0x31, 0xC0, 0xCD, 0x16, 0xCD, 0x19, 0xEB, 0xFE})
	bs[510], bs[511] = 0x55, 0xAA
	if ss > 512 {
		bs[ss-2], bs[ss-1] = 0x55, 0xAA
	}

	fsinfo := make([]byte, ss)
	le32(fsinfo, 0, 0x41615252)
	le32(fsinfo, 484, 0x61417272)
	le32(fsinfo, 488, clusters-used)
	le32(fsinfo, 492, next)
	le32(fsinfo, 508, 0xAA550000)

	write := func(b []byte, sector int64) error {
		if _, err := w.WriteAt(b, sector*int64(ss)); err != nil {
			return fmt.Errorf("format FAT32: write at sector %d: %w", sector, err)
		}
		return nil
	}
	// Reserved region: zeros, then the boot sectors and FSInfo sectors.
	if err := write(make([]byte, int64(rsvd)*int64(ss)), 0); err != nil {
		return err
	}
	for _, s := range []struct {
		b  []byte
		at int64
	}{{bs, 0}, {fsinfo, fsInfoSector}, {bs, backupBoot}, {fsinfo, backupBoot + fsInfoSector}} {
		if err := write(s.b, s.at); err != nil {
			return err
		}
	}
	// FATs, written in chunks so memory stays bounded on big sticks.
	const chunk = 1 << 20
	fatBytes := int64(fatsz) * int64(ss)
	entry := func(c uint32) uint32 {
		switch {
		case c == 0:
			return 0x0FFFFFF8
		case c == 1:
			return 0x0FFFFFFF
		case c >= 2 && c < 2+rootClusters:
			if c == 1+rootClusters {
				return 0x0FFFFFFF
			}
			return c + 1
		}
		for _, d := range data {
			if d.n > 0 && c >= d.first && c < d.first+d.n {
				if c == d.first+d.n-1 {
					return 0x0FFFFFFF
				}
				return c + 1
			}
		}
		return 0
	}
	for f := 0; f < numFATs; f++ {
		base := int64(rsvd)*int64(ss) + int64(f)*fatBytes
		for off := int64(0); off < fatBytes; off += chunk {
			n := fatBytes - off
			if n > chunk {
				n = chunk
			}
			b := make([]byte, n)
			for i := int64(0); i < n; i += 4 {
				c := uint32((off + i) / 4)
				if c >= next {
					break
				}
				le32(b, int(i), entry(c))
			}
			if _, err := w.WriteAt(b, base+off); err != nil {
				return fmt.Errorf("format FAT32: FAT %d at byte %d: %w", f+1, base+off, err)
			}
		}
	}
	clusterOff := func(c uint32) int64 { return (int64(firstData) + int64(c-2)*int64(spc)) * int64(ss) }
	rootBuf := make([]byte, int64(rootClusters)*csize)
	copy(rootBuf, root)
	if _, err := w.WriteAt(rootBuf, clusterOff(2)); err != nil {
		return fmt.Errorf("format FAT32: root directory: %w", err)
	}
	for _, d := range data {
		if d.n == 0 {
			continue
		}
		b := make([]byte, int64(d.n)*csize)
		copy(b, d.data)
		if _, err := w.WriteAt(b, clusterOff(d.first)); err != nil {
			return fmt.Errorf("format FAT32: file data: %w", err)
		}
	}
	return nil
}

func pad11(s string) string { return (s + "           ")[:11] }

// alias makes the 8.3 short name "BASE~N.EXT" for a long name; n keeps aliases unique.
func alias(name string, n int) []byte {
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = name[:i], name[i+1:]
	}
	clean := func(s string, max int) string {
		var b strings.Builder
		for _, c := range strings.ToUpper(s) {
			if b.Len() >= max {
				break
			}
			if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	tail := fmt.Sprintf("~%d", n)
	b := clean(base, 8-len(tail))
	if b == "" {
		b = "FILE"
	}
	out := []byte(fmt.Sprintf("%-8s%-3s", b+tail, clean(ext, 3)))
	return out[:11]
}

func dosTime(t time.Time) (date, tm uint16) {
	if t.IsZero() || t.Year() < 1980 {
		return 0x21, 0 // 1980-01-01
	}
	t = t.UTC()
	return uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day()), uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
}

func dirEntry(short []byte, attr byte, first, size uint32, t time.Time) []byte {
	e := make([]byte, 32)
	copy(e, short[:11])
	e[11] = attr
	d, tm := dosTime(t)
	binary.LittleEndian.PutUint16(e[14:], tm)
	binary.LittleEndian.PutUint16(e[16:], d)
	binary.LittleEndian.PutUint16(e[18:], d)
	binary.LittleEndian.PutUint16(e[20:], uint16(first>>16))
	binary.LittleEndian.PutUint16(e[22:], tm)
	binary.LittleEndian.PutUint16(e[24:], d)
	binary.LittleEndian.PutUint16(e[26:], uint16(first))
	binary.LittleEndian.PutUint32(e[28:], size)
	return e
}

// lfnEntries returns the long-name entries of name, last part first as they are stored.
func lfnEntries(name string, short []byte) []byte {
	u := utf16.Encode([]rune(name))
	if len(u)%13 != 0 {
		u = append(u, 0)
		for len(u)%13 != 0 {
			u = append(u, 0xFFFF)
		}
	}
	n := len(u) / 13
	sum := shortSum(short)
	var out []byte
	for seq := n; seq >= 1; seq-- {
		e := make([]byte, 32)
		e[0] = byte(seq)
		if seq == n {
			e[0] |= 0x40
		}
		e[11] = 0x0F
		e[13] = sum
		part := u[(seq-1)*13 : seq*13]
		for k, o := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
			binary.LittleEndian.PutUint16(e[o:], part[k])
		}
		out = append(out, e...)
	}
	return out
}
