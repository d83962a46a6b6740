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
	label, err := CleanLabel(o.Label)
	if err != nil {
		return fmt.Errorf("format FAT32: %w", err)
	}
	g, err := newGeometry(size, o.SectorSize, o.HiddenSectors)
	if err != nil {
		return err
	}
	l, err := g.place(label, files, o.Time)
	if err != nil {
		return err
	}
	if err := g.writeReserved(w, label, o.VolumeID, l); err != nil {
		return err
	}
	if err := g.writeFATs(w, l); err != nil {
		return err
	}
	return g.writeData(w, l)
}

// geometry is the shape of a new volume: sector and cluster sizes and where each region starts.
type geometry struct {
	ss        int    // bytes per sector
	total     uint32 // sectors in the volume
	spc       uint32 // sectors per cluster
	hidden    uint32 // the partition's start sector
	rsvd      uint32 // reserved sectors (boot sectors, FSInfo, padding to 1 MiB)
	fatsz     uint32 // sectors per FAT
	firstData uint32 // sector of cluster 2
	clusters  uint32 // data clusters
	csize     int64  // bytes per cluster
}

// newGeometry sizes a FAT32 volume of size bytes with sectors of ss bytes (0: 512).
func newGeometry(size int64, ss int, hidden uint32) (*geometry, error) {
	if ss == 0 {
		ss = 512
	}
	if ss != 512 && ss != 4096 {
		return nil, fmt.Errorf("format FAT32: sector size %d", ss)
	}
	total := min(size/int64(ss), 0xffffffff)
	g := &geometry{ss: ss, total: uint32(total), spc: clusterSectors(size, ss), hidden: hidden}
	// FAT size by the Microsoft formula, then reserved sectors padded so the data region starts
	// on a 1 MiB boundary (flash erase blocks). A FAT sized for the minimum reserved region is
	// big enough for any larger one.
	align := uint32((1 << 20) / ss)
	tmp1 := uint64(total) - reservedSectors
	tmp2 := (256*uint64(g.spc) + numFATs) / 2
	if ss == 4096 {
		tmp2 = uint64(ss)/4*uint64(g.spc) + numFATs
	}
	g.fatsz = uint32((tmp1 + tmp2 - 1) / tmp2)
	g.rsvd = reservedSectors + (align-(hidden+reservedSectors+numFATs*g.fatsz)%align)%align
	g.firstData = g.rsvd + numFATs*g.fatsz
	if uint64(g.firstData) >= uint64(total) {
		return nil, fmt.Errorf("format FAT32: %w (%d bytes)", ErrTooSmall, size)
	}
	g.clusters = (g.total - g.firstData) / g.spc
	if g.clusters < 65525 {
		return nil, fmt.Errorf("format FAT32: %w: %d bytes give %d clusters", ErrTooSmall, size, g.clusters)
	}
	if uint64(g.clusters+2)*4 > uint64(g.fatsz)*uint64(ss) {
		return nil, fmt.Errorf("format FAT32: FAT of %d sectors too small for %d clusters", g.fatsz, g.clusters)
	}
	g.csize = int64(g.spc) * int64(ss)
	return g, nil
}

// chain is a run of n clusters from first holding data (n = 0, first = 0: an empty file).
type chain struct {
	first, n uint32
	data     []byte
}

// placement is where everything goes: chains[0] is the root directory's, from cluster 2, then
// each subdirectory's, then each file's, contiguous; next is the first free cluster.
type placement struct {
	chains []chain
	next   uint32
}

// place lays the directories and the files out in clusters and builds the directories. A file
// named "DIR/NAME" goes into directory DIR of the root (one level, as the log medium's folder
// needs); the root lists the label, its own files, then the subdirectories.
func (g *geometry) place(label string, files []File, t time.Time) (*placement, error) {
	type entry struct {
		name  string
		short []byte
		file  int // index in files; -1 for a subdirectory
	}
	var root []entry
	var dirs []string
	subs := map[string][]entry{}
	for i, f := range files {
		dir, name, sub := strings.Cut(f.Name, "/")
		if !sub {
			root = append(root, entry{f.Name, alias(f.Name, i+1), i})
			continue
		}
		if dir == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("format FAT32: file %q: one directory level at most", f.Name)
		}
		if _, ok := subs[dir]; !ok {
			dirs = append(dirs, dir)
		}
		subs[dir] = append(subs[dir], entry{name, alias(name, i+1), i})
	}
	for j, d := range dirs {
		root = append(root, entry{d, alias(d, len(files)+j+1), -1})
	}
	clusters := func(n int64) uint32 { return uint32((n + g.csize - 1) / g.csize) }
	dirClusters := func(es []entry, fixed int64) uint32 {
		for _, e := range es {
			fixed += int64(32 * (lfnCount(e.name) + 1))
		}
		return clusters(fixed)
	}
	l := &placement{chains: []chain{{first: 2, n: dirClusters(root, 32)}}} // 32: the label entry
	l.next = 2 + l.chains[0].n
	dirChain := map[string]int{}
	for _, d := range dirs {
		c := chain{first: l.next, n: dirClusters(subs[d], 64)} // 64: "." and ".."
		dirChain[d] = len(l.chains)
		l.chains = append(l.chains, c)
		l.next += c.n
	}
	fileChain := make([]int, len(files))
	for i, f := range files {
		c := chain{n: clusters(int64(len(f.Data))), data: f.Data}
		if c.n > 0 {
			c.first = l.next
		}
		fileChain[i] = len(l.chains)
		l.chains = append(l.chains, c)
		l.next += c.n
	}
	if l.next-2 > g.clusters {
		return nil, fmt.Errorf("format FAT32: files do not fit")
	}
	entries := func(es []entry) []byte {
		var b []byte
		for _, e := range es {
			b = append(b, lfnEntries(e.name, e.short)...)
			if e.file < 0 {
				b = append(b, dirEntry(e.short, 0x10, l.chains[dirChain[e.name]].first, 0, t)...)
				continue
			}
			b = append(b, dirEntry(e.short, 0x20, l.chains[fileChain[e.file]].first, uint32(len(files[e.file].Data)), t)...)
		}
		return b
	}
	l.chains[0].data = append(dirEntry([]byte(pad11(label)), 0x08, 0, 0, t), entries(root)...)
	for _, d := range dirs {
		c := &l.chains[dirChain[d]]
		b := dirEntry([]byte(pad11(".")), 0x10, c.first, 0, t)
		b = append(b, dirEntry([]byte(pad11("..")), 0x10, 0, 0, t)...) // cluster 0: the root
		c.data = append(b, entries(subs[d])...)
	}
	return l, nil
}

func le16(b []byte, o int, v uint32) { binary.LittleEndian.PutUint16(b[o:], uint16(v)) }
func le32(b []byte, o int, v uint32) { binary.LittleEndian.PutUint32(b[o:], v) }

// bootSector is the FAT32 boot sector (also written as the backup).
func (g *geometry) bootSector(label string, volumeID uint32) []byte {
	bs := make([]byte, g.ss)
	copy(bs, []byte{0xEB, 0x58, 0x90})
	copy(bs[3:], "MSWIN4.1")
	le16(bs, 11, uint32(g.ss))
	bs[13] = byte(g.spc)
	le16(bs, 14, g.rsvd)
	bs[16] = numFATs
	bs[21] = 0xF8
	le16(bs, 24, 63)  // sectors per track
	le16(bs, 26, 255) // heads
	le32(bs, 28, g.hidden)
	le32(bs, 32, g.total)
	le32(bs, 36, g.fatsz)
	le32(bs, 44, 2) // root cluster
	le16(bs, 48, fsInfoSector)
	le16(bs, 50, backupBoot)
	bs[64] = 0x80
	bs[66] = 0x29
	le32(bs, 67, volumeID)
	copy(bs[71:82], pad11(label))
	copy(bs[82:90], "FAT32   ")
	// Boot code: print nothing, wait for a key, reboot (int 16h, int 19h): this is not a boot disk.
	copy(bs[90:], []byte{0x31, 0xC0, 0xCD, 0x16, 0xCD, 0x19, 0xEB, 0xFE})
	bs[510], bs[511] = 0x55, 0xAA
	if g.ss > 512 {
		bs[g.ss-2], bs[g.ss-1] = 0x55, 0xAA
	}
	return bs
}

// fsInfo is the FSInfo sector: the free-cluster count and the next free cluster.
func (g *geometry) fsInfo(l *placement) []byte {
	b := make([]byte, g.ss)
	le32(b, 0, 0x41615252)
	le32(b, 484, 0x61417272)
	le32(b, 488, g.clusters-(l.next-2))
	le32(b, 492, l.next)
	le32(b, 508, 0xAA550000)
	return b
}

// writeReserved writes the reserved region: zeros, then the boot sector, FSInfo and their backups.
func (g *geometry) writeReserved(w io.WriterAt, label string, volumeID uint32, l *placement) error {
	bs, fsinfo := g.bootSector(label, volumeID), g.fsInfo(l)
	for _, s := range []struct {
		b  []byte
		at int64
	}{{make([]byte, int64(g.rsvd)*int64(g.ss)), 0}, {bs, 0}, {fsinfo, fsInfoSector}, {bs, backupBoot}, {fsinfo, backupBoot + fsInfoSector}} {
		if _, err := w.WriteAt(s.b, s.at*int64(g.ss)); err != nil {
			return fmt.Errorf("format FAT32: write at sector %d: %w", s.at, err)
		}
	}
	return nil
}

// entry is the FAT entry of cluster c: the media byte, end marks, or the next cluster of the
// chain holding c (0: free).
func (l *placement) entry(c uint32) uint32 {
	switch c {
	case 0:
		return 0x0FFFFFF8
	case 1:
		return 0x0FFFFFFF
	}
	for _, d := range l.chains {
		if d.n > 0 && c >= d.first && c < d.first+d.n {
			if c == d.first+d.n-1 {
				return 0x0FFFFFFF
			}
			return c + 1
		}
	}
	return 0
}

// writeFATs writes both FATs in full, in chunks so that memory stays bounded on big sticks.
func (g *geometry) writeFATs(w io.WriterAt, l *placement) error {
	const chunk = 1 << 20
	fatBytes := int64(g.fatsz) * int64(g.ss)
	for f := 0; f < numFATs; f++ {
		base := int64(g.rsvd)*int64(g.ss) + int64(f)*fatBytes
		for off := int64(0); off < fatBytes; off += chunk {
			b := make([]byte, min(fatBytes-off, chunk))
			for i := int64(0); i < int64(len(b)); i += 4 {
				c := uint32((off + i) / 4)
				if c >= l.next {
					break
				}
				le32(b, int(i), l.entry(c))
			}
			if _, err := w.WriteAt(b, base+off); err != nil {
				return fmt.Errorf("format FAT32: FAT %d at byte %d: %w", f+1, base+off, err)
			}
		}
	}
	return nil
}

// writeData writes the root directory's clusters and each file's, zero-padded.
func (g *geometry) writeData(w io.WriterAt, l *placement) error {
	for i, d := range l.chains {
		if d.n == 0 {
			continue
		}
		b := make([]byte, int64(d.n)*g.csize)
		copy(b, d.data)
		off := (int64(g.firstData) + int64(d.first-2)*int64(g.spc)) * int64(g.ss)
		if _, err := w.WriteAt(b, off); err != nil {
			what := "root directory"
			if i > 0 {
				what = "file data"
			}
			return fmt.Errorf("format FAT32: %s: %w", what, err)
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

// lfnCount is the number of long-name entries lfnEntries makes for name (13 UTF-16 units each).
func lfnCount(name string) int { return (len(utf16.Encode([]rune(name))) + 12) / 13 }

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
