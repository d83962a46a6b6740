package fat

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
	"github.com/airlock-appliance/airlock/media/internal/tree"
)

// Volume is a validated FAT volume.
type Volume struct {
	BPB *BPB
	FS  *tree.FS
}

type reader struct {
	ctx     context.Context
	r       io.ReaderAt
	p       *BPB
	fat     []byte
	used    []uint64 // bitmap of claimed clusters: a second claim is a cross-link or a loop
	owner   map[uint32]string
	entries int
	csize   int64
	dirData int64
}

// Open validates the FAT volume of size bytes at the start of r and returns its tree. Every
// refusal wraps mediaerr.ErrCorrupt or ErrUnsupported and says what and where.
func Open(ctx context.Context, r io.ReaderAt, size int64) (*Volume, error) {
	boot := make([]byte, 512)
	if err := readFull(r, boot, 0); err != nil {
		return nil, mediaerr.Corrupt("FAT: boot sector: %v", err)
	}
	p, err := ParseBPB(boot, size)
	if err != nil {
		return nil, err
	}
	rd := &reader{ctx: ctx, r: r, p: p, csize: int64(p.BytesPerSector) * int64(p.SectorsPerCluster)}
	active := uint32(0)
	if p.Type == FAT32 && p.ExtFlags&0x80 != 0 {
		active = uint32(p.ExtFlags & 0x0f)
		if active >= p.NumFATs {
			return nil, mediaerr.Corrupt("FAT32: active FAT %d of %d", active, p.NumFATs)
		}
	}
	n := (int64(p.Clusters) + 2) * int64(p.Type) / 8
	if p.Type == FAT12 {
		n = (int64(p.Clusters)+2)*3/2 + 1
	}
	rd.fat = make([]byte, n)
	fatOff := (int64(p.ReservedSectors) + int64(active)*int64(p.FATSectors)) * int64(p.BytesPerSector)
	if err := readFull(r, rd.fat, fatOff); err != nil {
		return nil, mediaerr.Corrupt("%v: reading the FAT at byte %d: %v", p.Type, fatOff, err)
	}
	rd.used = make([]uint64, (p.Clusters+2+63)/64)
	rd.owner = make(map[uint32]string)

	root := &tree.Node{Dir: true}
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
	if err := rd.walk(root, rootData, "/", 0); err != nil {
		return nil, err
	}
	if err := root.Sort("/"); err != nil {
		return nil, mediaerr.Corrupt("%v: %v", p.Type, err)
	}
	return &Volume{BPB: p, FS: &tree.FS{R: r, Root: root}}, nil
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

// next returns the FAT entry of cluster c.
func (rd *reader) next(c uint32) uint32 {
	switch rd.p.Type {
	case FAT12:
		o := c + c/2
		v := uint32(binary.LittleEndian.Uint16(rd.fat[o:]))
		if c&1 != 0 {
			return v >> 4
		}
		return v & 0xfff
	case FAT16:
		return uint32(binary.LittleEndian.Uint16(rd.fat[2*c:]))
	default:
		return binary.LittleEndian.Uint32(rd.fat[4*c:]) & 0x0fffffff
	}
}

func (rd *reader) eoc(v uint32) bool {
	switch rd.p.Type {
	case FAT12:
		return v >= 0xff8
	case FAT16:
		return v >= 0xfff8
	default:
		return v >= 0x0ffffff8
	}
}

// chain follows the cluster chain from first, claiming every cluster for name, and returns it as
// device extents. It stops at maxClusters when maxClusters > 0 and the chain would be longer only
// for directories (files claim their whole chain so that cross-links are found).
func (rd *reader) chain(first uint32, name string) ([]tree.Extent, int64, error) {
	var ext []tree.Extent
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
		ext = tree.Append(ext, off, rd.csize)
		if count%65536 == 0 {
			if err := rd.ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		v := rd.next(c)
		if rd.eoc(v) {
			return ext, count, nil
		}
		if v == 0 {
			return nil, 0, mediaerr.Corrupt("%v: %s: chain runs into free cluster after %d", rd.p.Type, name, c)
		}
		c = v
	}
}

func (rd *reader) readDirChain(first uint32, name string) ([]byte, error) {
	ext, count, err := rd.chain(first, name)
	if err != nil {
		return nil, err
	}
	if count*rd.csize > MaxDirBytes {
		return nil, mediaerr.Corrupt("%v: directory %s has %d bytes (limit %d)", rd.p.Type, name, count*rd.csize, MaxDirBytes)
	}
	if rd.dirData += count * rd.csize; rd.dirData > MaxAllDirBytes {
		return nil, mediaerr.Corrupt("%v: more than %d bytes of directories", rd.p.Type, MaxAllDirBytes)
	}
	buf := make([]byte, 0, count*rd.csize)
	for _, e := range ext {
		b := make([]byte, e.Len)
		if err := readFull(rd.r, b, e.Off); err != nil {
			return nil, mediaerr.Corrupt("%v: directory %s at byte %d: %v", rd.p.Type, name, e.Off, err)
		}
		buf = append(buf, b...)
	}
	return buf, nil
}

// lfn accumulates the long-name entries that precede a short entry.
type lfn struct {
	parts [20][]uint16
	want  int // sequence number expected next (counting down), 0 = none pending
	n     int
	sum   byte
}

func shortSum(name []byte) byte {
	var s byte
	for _, c := range name[:11] {
		s = (s>>1 | s<<7) + c
	}
	return s
}

// walk decodes the directory data of dir (at where) and descends into subdirectories.
func (rd *reader) walk(dir *tree.Node, data []byte, where string, depth int) error {
	if depth > MaxDepth {
		return mediaerr.Corrupt("%v: %s: directories nested deeper than %d", rd.p.Type, where, MaxDepth)
	}
	if err := rd.ctx.Err(); err != nil {
		return err
	}
	var long lfn
	for i := 0; i+32 <= len(data); i += 32 {
		e := data[i : i+32]
		if e[0] == 0 {
			break
		}
		if e[0] == 0xE5 {
			long.want = 0
			continue
		}
		attr := e[11]
		if attr&0x3f == 0x0f { // long-name entry
			seq := int(e[0] & 0x1f)
			if e[0]&0x40 != 0 {
				if seq < 1 || seq > 20 {
					long.want = 0
					continue
				}
				long = lfn{want: seq, n: seq, sum: e[13]}
			} else if long.want == 0 || seq != long.want || e[13] != long.sum {
				long.want = 0
				continue
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
		if attr&0x08 != 0 { // volume label
			long.want = 0
			continue
		}
		if e[0] == '.' && (string(e[:11]) == ".          " || string(e[:11]) == "..         ") {
			long.want = 0
			continue
		}
		name := shortName(e)
		if long.want == -1 && long.sum == shortSum(e) {
			var u []uint16
			for k := 0; k < long.n; k++ {
				u = append(u, long.parts[k]...)
			}
			for k, c := range u {
				if c == 0 {
					u = u[:k]
					break
				}
			}
			name = string(utf16.Decode(u))
		}
		long.want = 0
		full := path.Join(where, name)
		if err := tree.CheckName(name); err != nil {
			return mediaerr.Corrupt("%v: in %s: %v", rd.p.Type, where, err)
		}
		rd.entries++
		if rd.entries > MaxEntries {
			return mediaerr.Corrupt("%v: more than %d entries", rd.p.Type, MaxEntries)
		}
		first := uint32(binary.LittleEndian.Uint16(e[26:]))
		if rd.p.Type == FAT32 {
			first |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
		}
		size := int64(binary.LittleEndian.Uint32(e[28:]))
		n := &tree.Node{Name: name, ModTime: fatTime(e[24:26], e[22:24])}
		if attr&0x10 != 0 {
			n.Dir = true
			if first == 0 {
				return mediaerr.Corrupt("%v: directory %s has no cluster", rd.p.Type, full)
			}
			sub, err := rd.readDirChain(first, full)
			if err != nil {
				return err
			}
			if err := rd.walk(n, sub, full, depth+1); err != nil {
				return err
			}
		} else {
			n.Size = size
			if size > 0 || first != 0 {
				if first == 0 {
					return mediaerr.Corrupt("%v: file %s of %d bytes has no cluster", rd.p.Type, full, size)
				}
				ext, count, err := rd.chain(first, full)
				if err != nil {
					return err
				}
				if count*rd.csize < size {
					return mediaerr.Corrupt("%v: file %s of %d bytes is larger than its cluster chain (%d clusters of %d bytes)",
						rd.p.Type, full, size, count, rd.csize)
				}
				n.Extents = trim(ext, size)
			}
		}
		dir.Children = append(dir.Children, n)
	}
	return nil
}

// trim cuts extents down to size bytes.
func trim(ext []tree.Extent, size int64) []tree.Extent {
	var out []tree.Extent
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
