package fat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/airlock-appliance/airlock/internal/fstree"
	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
)

// Volume is a validated FAT volume.
type Volume struct {
	BPB *BPB
	// Label is the volume label as blkid shows it: the root directory's label entry, else the
	// boot sector's. (fsck.fat reports the two disagreeing; Windows writes only the first, so
	// that is not refused.)
	Label string
	FS    *fstree.FS
}

// What Open refuses, beyond ranges and chains: everything `fsck.fat -n` reports about the
// files (so that airlock never lists as fine a volume that the stock checker calls damaged, and
// never picks one of two readings where stock readers differ), except the two states that
// describe no file and that every stick pulled without unmounting has: the dirty bit and the
// FSInfo free-cluster hint.
//
//   - FAT[0] that is not the media byte with the reserved bits set, or copies of the FAT that
//     differ (Linux reads the first, other systems the active or the second one).
//   - A chain longer or shorter than its file's size, a free or reserved cluster in a chain, a
//     cluster claimed twice (cross-links, directory loops), clusters in use by no file.
//   - A subdirectory whose first two entries are not "." (itself) and ".." (its parent), a "."
//     or ".." anywhere else, a directory entry with a size.
//   - Short names fsck.fat calls bad, two identical short names in one directory, a volume
//     label outside the root or twice, reserved attribute bits.
//   - Long-name entries that do not chain into the short entry after them (a wrong checksum,
//     sequence or an orphan): Linux shows the short name where Windows may not, so either
//     reading would hide a name; and long names with unpaired surrogates, which Linux drops.
//   - Live entries after the end-of-directory mark: Linux lists them, the specification stops.
//   - Long names with a character FAT writers forbid ("*:<>?|): mtools extracts '?' as '_'.
//   - Two names in one directory that the kernel's vfat looks up as one (ignoring case and
//     trailing dots, long names against short names): it lists both and opens one file as both.

type reader struct {
	ctx       context.Context
	r         io.ReaderAt
	p         *BPB
	fat       *fatTable
	used      []uint64          // bitmap of claimed clusters: a second claim is a cross-link or a loop
	owner     map[uint32]string // first cluster of each chain -> its path, to name the other party
	lim       limits
	entries   int
	pathBytes int64
	extents   int
	csize     int64
	dirData   int64
	label     string // the root directory's volume label entry
}

// Open validates the FAT volume of size bytes at the start of r and returns its tree. Every
// refusal wraps mediaerr.ErrCorrupt or ErrUnsupported and says what and where; a refusal for a
// bound also wraps the bound's sentinel (mediaerr.ErrTooDeep, ...).
func Open(ctx context.Context, r io.ReaderAt, size int64) (*Volume, error) {
	return open(ctx, r, size, limits{entries: MaxEntries, extents: MaxExtents})
}

// limits are the count bounds of one Open (the constants; tests lower them to reach them with
// small volumes).
type limits struct{ entries, extents int }

func open(ctx context.Context, r io.ReaderAt, size int64, lim limits) (*Volume, error) {
	boot := make([]byte, 512)
	if err := readFull(r, boot, 0); err != nil {
		return nil, mediaerr.Corrupt("FAT: boot sector: %v", err)
	}
	p, err := ParseBPB(boot, size)
	if err != nil {
		return nil, err
	}
	if p.Media != 0xF0 && p.Media < 0xF8 {
		return nil, mediaerr.Corrupt("%v: media descriptor %#02x", p.Type, p.Media)
	}
	rd := &reader{ctx: ctx, r: r, p: p, lim: lim, csize: int64(p.BytesPerSector) * int64(p.SectorsPerCluster)}
	if p.Type == FAT32 && p.ExtFlags&0x80 != 0 {
		if active := uint32(p.ExtFlags & 0x0f); active >= p.NumFATs {
			return nil, mediaerr.Corrupt("FAT32: active FAT %d of %d", active, p.NumFATs)
		}
	}
	rd.fat = newFATTable(r, p)
	if err := rd.checkFATs(); err != nil {
		return nil, err
	}
	rd.used = make([]uint64, (p.Clusters+2+63)/64)
	rd.owner = make(map[uint32]string)

	root := &fstree.Node{Dir: true}
	var rootData []byte
	if p.Type == FAT32 {
		rootData, err = rd.readDirChain(p.RootCluster, "/")
	} else {
		rootData = make([]byte, int64(p.RootDirSecors)*int64(p.BytesPerSector))
		err = readFull(r, rootData, int64(p.FirstRootDir)*int64(p.BytesPerSector))
		if err != nil {
			err = mediaerr.Corrupt("%v: root directory: %v", p.Type, err)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := rd.walk(root, rootData, "", 0, 0, 0); err != nil {
		return nil, err
	}
	if err := rd.lost(); err != nil {
		return nil, err
	}
	if err := root.Sort("/"); err != nil {
		return nil, mediaerr.Corrupt("%v: %v", p.Type, err)
	}
	label := p.Label
	if rd.label != "" {
		label = rd.label // as blkid: the root directory's label wins (Windows writes only that one)
	}
	return &Volume{BPB: p, Label: label, FS: &fstree.FS{R: r, Root: root}}, nil
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

// fatTable reads entries of the first FAT in blocks, holding at most fatCacheBytes of it: a
// FAT32 table can be 256 MiB, more than the station may spend on a whole stick.
type fatTable struct {
	r      io.ReaderAt
	p      *BPB
	off    int64 // byte offset of the first FAT
	size   int64 // bytes of the table that hold entries 0..Clusters+1 (fsck.fat's eff_size)
	blocks map[int64][]byte
	last   int64 // index of the block in lastB
	lastB  []byte
	err    error // the first read error; entries then read as 0
}

const fatBlockBytes = 64 << 10

func newFATTable(r io.ReaderAt, p *BPB) *fatTable {
	return &fatTable{r: r, p: p, off: int64(p.ReservedSectors) * int64(p.BytesPerSector),
		size: (int64(p.Clusters+2)*int64(p.Type) + 7) / 8, blocks: map[int64][]byte{}, last: -1}
}

func (t *fatTable) block(i int64) []byte {
	if i == t.last {
		return t.lastB
	}
	b, ok := t.blocks[i]
	if !ok {
		if len(t.blocks) >= fatCacheBytes/fatBlockBytes {
			for k := range t.blocks { // map order: a random victim
				delete(t.blocks, k)
				break
			}
		}
		n := min(int64(fatBlockBytes), t.size-i*fatBlockBytes)
		b = make([]byte, fatBlockBytes+1) // +1: FAT12 reads two bytes at the last one
		if err := readFull(t.r, b[:n], t.off+i*fatBlockBytes); err != nil && t.err == nil {
			t.err = mediaerr.Corrupt("%v: reading the FAT at byte %d: %v", t.p.Type, t.off+i*fatBlockBytes, err)
		}
		t.blocks[i] = b
	}
	t.last, t.lastB = i, b
	return b
}

// u16 and u32 read the little-endian value at byte o of the table.
func (t *fatTable) u16(o int64) uint32 {
	b := t.block(o / fatBlockBytes)
	k := o % fatBlockBytes
	if k == fatBlockBytes-1 {
		return uint32(b[k]) | uint32(t.block(o/fatBlockBytes + 1)[0])<<8
	}
	return uint32(binary.LittleEndian.Uint16(b[k:]))
}

func (t *fatTable) u32(o int64) uint32 {
	return binary.LittleEndian.Uint32(t.block(o / fatBlockBytes)[o%fatBlockBytes:]) // 4-aligned
}

// next returns the FAT entry of cluster c.
func (rd *reader) next(c uint32) uint32 {
	switch rd.p.Type {
	case FAT12:
		v := rd.fat.u16(int64(c) + int64(c/2))
		if c&1 != 0 {
			return v >> 4
		}
		return v & 0xfff
	case FAT16:
		return rd.fat.u16(2 * int64(c))
	default:
		return rd.fat.u32(4*int64(c)) & 0x0fffffff
	}
}

// mask is the largest entry value; bad and eoc are the bad-cluster mark and the end of a chain.
func (rd *reader) mask() uint32 {
	return map[Type]uint32{FAT12: 0xfff, FAT16: 0xffff, FAT32: 0x0fffffff}[rd.p.Type]
}
func (rd *reader) eoc(v uint32) bool { return v >= rd.mask()-7 }
func (rd *reader) bad(v uint32) bool { return v == rd.mask()-8 }

// checkFATs compares every copy of the FAT with the first and checks FAT[0]: Linux reads the
// first copy, other systems the active one (FAT32 without mirroring) or the second when the
// first looks damaged, so copies that differ give different trees.
func (rd *reader) checkFATs() error {
	p := rd.p
	want := (rd.mask() &^ 0xff) | uint32(p.Media)
	if v := rd.next(0); v != want {
		return mediaerr.Corrupt("%v: FAT[0] is %#x, not the media byte %#02x with the reserved bits set (%#x)", p.Type, v, p.Media, want)
	}
	if rd.fat.err != nil {
		return rd.fat.err
	}
	a, b := make([]byte, 1<<20), make([]byte, 1<<20)
	for k := uint32(1); k < p.NumFATs; k++ {
		other := rd.fat.off + int64(k)*int64(p.FATSectors)*int64(p.BytesPerSector)
		for o := int64(0); o < rd.fat.size; o += int64(len(a)) {
			n := min(int64(len(a)), rd.fat.size-o)
			if err := readFull(rd.r, a[:n], rd.fat.off+o); err != nil {
				return mediaerr.Corrupt("%v: reading FAT 1 at byte %d: %v", p.Type, rd.fat.off+o, err)
			}
			if err := readFull(rd.r, b[:n], other+o); err != nil {
				return mediaerr.Corrupt("%v: reading FAT %d at byte %d: %v", p.Type, k+1, other+o, err)
			}
			if !bytes.Equal(a[:n], b[:n]) {
				for j := range a[:n] {
					if a[j] != b[j] {
						return mediaerr.Corrupt("%v: FAT %d differs from FAT 1 at byte %d (readers pick different copies)", p.Type, k+1, o+int64(j))
					}
				}
			}
			if err := rd.ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// lost refuses clusters that are in use in the FAT but belong to no file (fsck.fat reclaims
// them): data no reader shows, or a chain whose directory entry was cut out.
func (rd *reader) lost() error {
	n := 0
	first := uint32(0)
	for c := uint32(2); c <= rd.p.Clusters+1; c++ {
		if rd.used[c/64]&(1<<(c%64)) != 0 {
			continue
		}
		if v := rd.next(c); v != 0 && !rd.bad(v) {
			if n == 0 {
				first = c
			}
			n++
		}
		if c%(1<<20) == 0 {
			if err := rd.ctx.Err(); err != nil {
				return err
			}
		}
	}
	if rd.fat.err != nil {
		return rd.fat.err
	}
	if n > 0 {
		return mediaerr.Corrupt("%v: %d cluster(s) in use by no file, the first %d (lost chains)", rd.p.Type, n, first)
	}
	return nil
}

// chain follows the cluster chain from first, claiming every cluster for name, and returns it as
// device extents and its length in clusters.
func (rd *reader) chain(first uint32, name string) ([]fstree.Extent, int64, error) {
	var ext []fstree.Extent
	var count int64
	c := first
	for {
		if c < 2 || c > rd.p.Clusters+1 {
			return nil, 0, mediaerr.Corrupt("%v: %s: cluster %d out of range", rd.p.Type, name, c)
		}
		if rd.used[c/64]&(1<<(c%64)) != 0 {
			return nil, 0, mediaerr.Corrupt("%v: %s: cluster %d cross-linked with %s (or a loop)", rd.p.Type, name, c, rd.owner[c])
		}
		rd.used[c/64] |= 1 << (c % 64)
		if count == 0 {
			rd.owner[c] = name // first cluster only: enough to name the other party, bounded memory
		}
		count++
		off := (int64(rd.p.FirstData) + int64(c-2)*int64(rd.p.SectorsPerCluster)) * int64(rd.p.BytesPerSector)
		k := len(ext)
		ext = fstree.Append(ext, off, rd.csize)
		if len(ext) > k {
			if rd.extents++; rd.extents > rd.lim.extents {
				return nil, 0, mediaerr.Limit(mediaerr.ErrTooFragmented, "%v: %s: more than MaxExtents (%d) runs of clusters in the volume", rd.p.Type, name, rd.lim.extents)
			}
		}
		if count%65536 == 0 {
			if err := rd.ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		v := rd.next(c)
		if rd.fat.err != nil {
			return nil, 0, rd.fat.err
		}
		if rd.eoc(v) {
			return ext, count, nil
		}
		switch {
		case v == 0:
			return nil, 0, mediaerr.Corrupt("%v: %s: chain runs into free cluster after %d", rd.p.Type, name, c)
		case rd.bad(v):
			return nil, 0, mediaerr.Corrupt("%v: %s: chain runs into a bad cluster after %d", rd.p.Type, name, c)
		}
		c = v
	}
}

func (rd *reader) readDirChain(first uint32, name string) ([]byte, error) {
	ext, count, err := rd.chain(first, name)
	if err != nil {
		return nil, err
	}
	rd.extents -= len(ext) // directory runs are read now and not kept
	if count*rd.csize > MaxDirBytes {
		return nil, mediaerr.Corrupt("%v: directory %s has %d bytes (limit %d)", rd.p.Type, name, count*rd.csize, MaxDirBytes)
	}
	if rd.dirData += count * rd.csize; rd.dirData > MaxAllDirBytes {
		return nil, mediaerr.Corrupt("%v: more than %d bytes of directories", rd.p.Type, MaxAllDirBytes)
	}
	buf := make([]byte, count*rd.csize)
	pos := int64(0)
	for _, e := range ext {
		if err := readFull(rd.r, buf[pos:pos+e.Len], e.Off); err != nil {
			return nil, mediaerr.Corrupt("%v: directory %s at byte %d: %v", rd.p.Type, name, e.Off, err)
		}
		pos += e.Len
	}
	return buf, nil
}

// lfn accumulates the long-name entries that precede a short entry.
type lfn struct {
	parts [20][]uint16
	want  int // sequence number expected next (counting down); 0 = none pending, -1 = complete
	n     int
	sum   byte
	at    int // byte offset in the directory of its first entry
}

func shortSum(name []byte) byte {
	var s byte
	for _, c := range name[:11] {
		s = (s>>1 | s<<7) + c
	}
	return s
}

// badShort reports whether fsck.fat calls the 11-byte short name bad (its bad_name): control
// characters, a leading space, or one of *?<>|"\/:. anywhere.
func badShort(name []byte) bool {
	if name[0] == ' ' {
		return true
	}
	for i, c := range name[:11] {
		if (c < ' ' && !(i == 0 && c == 0x05)) || c == 0x7f || strings.IndexByte(`*?<>|"\/:.`, c) >= 0 {
			return true
		}
	}
	return false
}

// innerSpace reports whether the base or the extension of a short name has a space before
// another character: some readers end the name at the space, others keep all of it.
func innerSpace(e []byte) bool {
	in := func(b []byte) bool {
		t := bytes.TrimRight(b, " ")
		return bytes.IndexByte(t, ' ') >= 0
	}
	return in(e[0:8]) || in(e[8:11])
}

// abbrev shortens a path for a message to its first and last 60 bytes.
func abbrev(p string) string {
	if len(p) <= 160 {
		return p
	}
	return strings.ToValidUTF8(p[:60], "") + "..." + strings.ToValidUTF8(p[len(p)-60:], "")
}

// shortLabel decodes a label entry's 11 bytes as the short names' code page.
func shortLabel(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c < 0x80 {
			s.WriteByte(c)
		} else {
			s.WriteRune(cp437Runes[c-0x80])
		}
	}
	return s.String()
}

func highByte(e []byte) bool {
	for i, c := range e[:11] {
		if c >= 0x80 || (i == 0 && c == 0x05) { // 0x05 stands for 0xE5
			return true
		}
	}
	return false
}

// subdir is a subdirectory found in a directory, read after the directory's own entries so that
// only one directory's data is held at a time.
type subdir struct {
	n     *fstree.Node
	first uint32
	path  string
}

// walk decodes the directory data of dir (at where: "" for the root, else "/a/b"; self is its
// first cluster, parent its parent's, 0 for the root) and descends into subdirectories.
func (rd *reader) walk(dir *fstree.Node, data []byte, where string, self, parent uint32, depth int) error {
	p := rd.p
	at := where
	if at == "" {
		at = "/"
	}
	if depth > MaxDepth {
		return mediaerr.Limit(mediaerr.ErrTooDeep, "%v: %s: directories nested deeper than MaxDepth (%d)", p.Type, at, MaxDepth)
	}
	if err := rd.ctx.Err(); err != nil {
		return err
	}
	corrupt := func(i int, format string, args ...any) error {
		return mediaerr.Corrupt("%v: %s, entry %d: %s", p.Type, at, i/32, fmt.Sprintf(format, args...))
	}
	var long lfn
	var subs []subdir
	shorts := map[[11]byte]bool{}
	looked := map[string]string{} // lookupKey of every name and short name -> the entry's name
	labels := 0
	end := -1
	start := 0
	if where != "" {
		// "." (itself) and ".." (its parent, 0 for the root) come first, as fsck.fat requires.
		dot := func(i int, name string, want uint32) error {
			if len(data) < i+32 {
				return corrupt(i, "subdirectory too small for %q", strings.TrimSpace(name))
			}
			e := data[i : i+32]
			c := uint32(binary.LittleEndian.Uint16(e[26:]))
			if p.Type == FAT32 {
				c |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
				if want == 0 && c == p.RootCluster {
					c = 0 // some systems write the root's cluster; fsck.fat and Linux accept it
				}
			}
			if string(e[:11]) != name || e[11]&0xD8 != 0x10 || c != want {
				return corrupt(i, "entry %d of a subdirectory is not %q pointing at cluster %d", i/32, strings.TrimSpace(name), want)
			}
			return nil
		}
		if err := dot(0, ".          ", self); err != nil {
			return err
		}
		if err := dot(32, "..         ", parent); err != nil {
			return err
		}
		start = 64
	}
	for i := start; i+32 <= len(data); i += 32 {
		e := data[i : i+32]
		if end >= 0 {
			// Past the end mark: Linux reads on and lists what it finds, so nothing may be there.
			if e[0] != 0 && e[0] != 0xE5 {
				return corrupt(i, "a live entry after the end-of-directory mark at entry %d (Linux lists it)", end/32)
			}
			continue
		}
		if e[0] == 0 {
			end = i
			continue
		}
		attr := e[11]
		if e[0] == 0xE5 {
			if long.want != 0 {
				return corrupt(long.at, "long name interrupted by a deleted entry (orphan long-name entries)")
			}
			continue
		}
		if attr == 0x0f { // long-name entry
			seq := int(e[0] & 0x1f)
			if e[0]&0x40 != 0 {
				if long.want != 0 {
					return corrupt(long.at, "long name without its short entry (orphan long-name entries)")
				}
				if e[0]&0xA0 != 0 || seq < 1 || seq > 20 {
					return corrupt(i, "long-name entry with sequence byte %#02x", e[0])
				}
				long = lfn{want: seq, n: seq, sum: e[13], at: i}
			} else if long.want <= 0 || int(e[0]) != long.want || e[13] != long.sum {
				return corrupt(i, "long-name entry %#02x out of sequence or with another checksum (orphan long-name entries)", e[0])
			}
			if e[12] != 0 || e[26] != 0 || e[27] != 0 {
				return corrupt(i, "long-name entry with a type or cluster (readers differ on whether it is one)")
			}
			u := make([]uint16, 0, 13)
			for _, o := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
				u = append(u, binary.LittleEndian.Uint16(e[o:]))
			}
			long.parts[seq-1] = u
			long.want = seq - 1
			if long.want == 0 {
				long.want = -1 // complete: waiting for its short entry
			}
			continue
		}
		if attr&0xC0 != 0 {
			return corrupt(i, "reserved attribute bits %#02x", attr)
		}
		if long.want > 0 {
			return corrupt(long.at, "long name missing %d of its entries (orphan long-name entries)", long.want)
		}
		if long.want == -1 && (attr&0x08 != 0 || long.sum != shortSum(e)) {
			return corrupt(long.at, "long name's checksum %#02x does not match the short entry after it (%#02x): Linux shows the short name, others the long one", long.sum, shortSum(e))
		}
		if attr&0x08 != 0 { // volume label
			if where != "" || attr&0x10 != 0 {
				return corrupt(i, "volume label outside the root directory or with the directory bit")
			}
			if labels++; labels > 1 {
				return corrupt(i, "a second volume label")
			}
			rd.label = strings.TrimRight(shortLabel(e[:11]), " ")
			continue
		}
		first := uint32(binary.LittleEndian.Uint16(e[26:]))
		if p.Type == FAT32 {
			first |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
		}
		size := int64(binary.LittleEndian.Uint32(e[28:]))
		isDot := string(e[:11]) == ".          "
		isDotDot := string(e[:11]) == "..         "
		if isDot || isDotDot {
			return corrupt(i, "a %q entry out of place", strings.TrimSpace(string(e[:11])))
		}
		if badShort(e) {
			return corrupt(i, "bad short name %q (fsck.fat would rename it)", e[:11])
		}
		var key [11]byte
		copy(key[:], e[:11])
		if shorts[key] {
			return corrupt(i, "duplicate short name %q", e[:11])
		}
		shorts[key] = true
		name := shortName(e)
		if long.want != -1 && innerSpace(e) {
			return corrupt(i, "short name %q with a space inside (readers cut it there or not)", e[:11])
		}
		if long.want != -1 && highByte(e) {
			return corrupt(i, "short name %q with a byte above 0x7f and no long name (its characters depend on the reader's code page)", e[:11])
		}
		lookups := []string{name} // the names the kernel's vfat finds this entry by
		if long.want == -1 {
			var err error
			if name, err = long.name(); err != nil {
				return corrupt(long.at, "%v", err)
			}
			lookups = append(lookups, name)
		}
		long.want = 0
		if err := fstree.CheckName(name); err != nil {
			return corrupt(i, "%v", err)
		}
		for _, l := range lookups {
			k := lookupKey(l)
			if other, ok := looked[k]; ok && other != name {
				return corrupt(i, "%q and %q are one name to the kernel's vfat (it looks names up ignoring case and trailing dots, and by their short names), so it opens one file under both", other, name)
			}
			looked[k] = name
		}
		if len(name) > mediaerr.NameMax {
			return mediaerr.Limit(mediaerr.ErrNameTooLong, "%v: in %s: a name of %d bytes exceeds NAME_MAX (%d)", p.Type, at, len(name), mediaerr.NameMax)
		}
		full := where + "/" + name
		if rel := len(full) - 1; rel >= mediaerr.PathMax {
			return mediaerr.Limit(mediaerr.ErrPathTooLong, "%v: %s: a path of %d bytes exceeds PATH_MAX (%d)", p.Type, abbrev(full), rel, mediaerr.PathMax)
		}
		if rd.pathBytes += int64(len(full) - 1); rd.pathBytes > MaxPathBytes {
			return mediaerr.Limit(mediaerr.ErrPathBytes, "%v: %s: the paths of the volume add up to more than MaxPathBytes (%d)", p.Type, abbrev(full), MaxPathBytes)
		}
		if rd.entries++; rd.entries > rd.lim.entries {
			return mediaerr.Limit(mediaerr.ErrTooManyEntries, "%v: more than MaxEntries (%d) files and directories", p.Type, rd.lim.entries)
		}
		n := &fstree.Node{Name: name, ModTime: fatTime(e[24:26], e[22:24])}
		if attr&0x10 != 0 {
			n.Dir = true
			if first == 0 {
				return mediaerr.Corrupt("%v: directory %s has no cluster", p.Type, full)
			}
			if size != 0 {
				return mediaerr.Corrupt("%v: directory %s has a size (%d)", p.Type, full, size)
			}
			subs = append(subs, subdir{n, first, full})
		} else {
			n.Size = size
			if size == 0 && first != 0 {
				return mediaerr.Corrupt("%v: empty file %s has a cluster chain (at %d)", p.Type, full, first)
			}
			if size > 0 {
				if first == 0 {
					return mediaerr.Corrupt("%v: file %s of %d bytes has no cluster", p.Type, full, size)
				}
				ext, count, err := rd.chain(first, full)
				if err != nil {
					return err
				}
				if need := (size + rd.csize - 1) / rd.csize; count != need {
					rel := "larger"
					if count > need {
						rel = "smaller" // the rest of the chain is data no reader shows
					}
					return mediaerr.Corrupt("%v: file %s of %d bytes is %s than its cluster chain (%d clusters of %d bytes, it needs %d)",
						p.Type, full, size, rel, count, rd.csize, need)
				}
				n.Extents = trim(ext, size)
			}
		}
		dir.Children = append(dir.Children, n)
	}
	if long.want != 0 {
		return corrupt(long.at, "long name at the end of the directory (orphan long-name entries)")
	}
	data = nil // only one directory's data at a time
	for _, s := range subs {
		sub, err := rd.readDirChain(s.first, s.path)
		if err != nil {
			return err
		}
		if err := rd.walk(s.n, sub, s.path, s.first, self, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// name decodes a complete long name: up to the first NUL, and refused when it has an unpaired
// surrogate (Linux drops it, others show U+FFFD, so the readers would disagree on the name).
func (l *lfn) name() (string, error) {
	var u []uint16
	for k := 0; k < l.n; k++ {
		u = append(u, l.parts[k]...)
	}
	for k, c := range u {
		if c == 0 {
			for _, pad := range u[k+1:] {
				if pad != 0xffff {
					// Linux stops at the NUL, 7z then takes the short name.
					return "", errors.New("long name with characters after its NUL other than the 0xFFFF padding")
				}
			}
			u = u[:k]
			break
		}
	}
	for k := 0; k < len(u); k++ {
		switch {
		case u[k] == 0xffff:
			return "", errors.New("long name with 0xFFFF before its end (7z then takes the short name, Linux the long one)")
		case u[k] >= 0xD800 && u[k] < 0xDC00 && k+1 < len(u) && u[k+1] >= 0xDC00 && u[k+1] < 0xE000:
			k++
		case utf16.IsSurrogate(rune(u[k])):
			return "", errors.New("long name with an unpaired UTF-16 surrogate")
		case u[k] < 0x80 && strings.IndexByte(lfnForbidden, byte(u[k])) >= 0:
			return "", fmt.Errorf("long name with %q, which no FAT writer puts in a long name and readers show differently (mtools shows '?' as '_', Linux and 7z keep it)", rune(u[k]))
		}
	}
	return string(utf16.Decode(u)), nil
}

// lfnForbidden are the printable characters the FAT specification, Windows and Linux's vfat
// (vfat_bad_char) refuse in a long name. Only a hand-made volume carries them, and the stock
// readers disagree on them: mtools extracts "a?.txt" as "a_.txt", which airlock would then not
// list under that name. ('/', '\' and control characters are refused by fstree.CheckName.)
const lfnForbidden = `"*:<>?|`

// lookupKey is what the kernel's vfat compares when it looks a name up (vfat_lookup): the name
// without its trailing dots (vfat_striptail_len), case-folded (fat_name_match with the default
// name_check). Windows folds case as well. Folding all of Unicode is broader than the kernel's
// iocharset tables: two names that only it equates are refused, never merged.
func lookupKey(name string) string {
	return strings.ToLower(strings.ToUpper(strings.TrimRight(name, ".")))
}

// trim cuts extents down to size bytes.
func trim(ext []fstree.Extent, size int64) []fstree.Extent {
	var out []fstree.Extent
	for _, e := range ext {
		if size <= 0 {
			break
		}
		if e.Len > size {
			e.Len = size
		}
		out = append(out, e)
		size -= e.Len
	}
	return out
}

func shortName(e []byte) string {
	base := []byte(strings.TrimRight(string(e[0:8]), " "))
	ext := []byte(strings.TrimRight(string(e[8:11]), " "))
	if len(base) > 0 && base[0] == 0x05 {
		base[0] = 0xE5
	}
	dec := func(b []byte, lower bool) string {
		var s strings.Builder
		for _, c := range b {
			if lower && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c < 0x80 {
				s.WriteByte(c)
			} else {
				s.WriteRune(cp437Runes[c-0x80])
			}
		}
		return s.String()
	}
	name := dec(base, e[12]&0x08 != 0)
	if len(ext) > 0 {
		name += "." + dec(ext, e[12]&0x10 != 0)
	}
	return name
}

func fatTime(date, tm []byte) time.Time {
	d := binary.LittleEndian.Uint16(date)
	t := binary.LittleEndian.Uint16(tm)
	if d == 0 {
		return time.Time{}
	}
	return time.Date(1980+int(d>>9), time.Month(d>>5&0xf), int(d&0x1f), int(t>>11), int(t>>5&0x3f), int(t&0x1f)*2, 0, time.UTC)
}

// cp437 is the upper half of code page 437, the OEM code page of short names.
const cp437 = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0"

// cp437Runes indexes cp437 by byte - 0x80; read-only.
var cp437Runes = []rune(cp437)
