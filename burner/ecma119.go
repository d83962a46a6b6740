package burner

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// Encoding of the ECMA-119 structures and the SUSP / Rock Ridge (RRIP 1.09, "RRIP_1991A")
// entries this package writes. Every directory record carries:
//
//	PX  mode, links, uid 0, gid 0 (36 bytes, RRIP 1.09 form without inode number)
//	TF  modify, access and attribute-change times, all = the epoch (7-byte form)
//	NM  the exact name, split over several NM entries when longer than 250 bytes
//
// When all three do not fit in the 255-byte record, the rest goes to a continuation area that a
// CE entry (always last) points to; see suspFor. The root's "." record starts with SP and carries ER
// (in its continuation area, ER being 237 bytes long).

const (
	modeFile = 0o100444
	modeDir  = 0o040555
)

func both16(b []byte, v uint16) {
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
}

func both32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

// recDate is the 7-byte directory record date (ECMA-119 9.1.5), always UTC.
func recDate(t time.Time) [7]byte {
	return [7]byte{byte(t.Year() - 1900), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()),
		byte(t.Second()), 0}
}

// vdDate is the 17-byte volume descriptor date (ECMA-119 8.4.26.1).
func vdDate(t time.Time) []byte {
	b := []byte(fmt.Sprintf("%04d%02d%02d%02d%02d%02d00", t.Year(), t.Month(), t.Day(), t.Hour(),
		t.Minute(), t.Second()))
	return append(b, 0)
}

func noDate() []byte { return append([]byte("0000000000000000"), 0) }

func entryPX(mode uint32, nlink uint32) []byte {
	b := make([]byte, 36)
	copy(b, "PX")
	b[2], b[3] = 36, 1
	both32(b[4:], mode)
	both32(b[12:], nlink)
	// uid, gid: zero
	return b
}

func entryTF(t time.Time) []byte {
	b := []byte{'T', 'F', 26, 1, 0x0E} // modify, access, attributes
	d := recDate(t)
	for range 3 {
		b = append(b, d[:]...)
	}
	return b
}

// entriesNM splits name over NM entries of at most 250 name bytes; all but the last carry the
// CONTINUE flag.
func entriesNM(name string) []byte {
	var b []byte
	for {
		n := min(len(name), 250)
		for n < len(name) && n > 0 && !utf8.RuneStart(name[n]) {
			n--
		}
		flag := byte(0)
		if n < len(name) {
			flag = 1
		}
		b = append(b, 'N', 'M', byte(5+n), 1, flag)
		b = append(b, name[:n]...)
		name = name[n:]
		if name == "" {
			return b
		}
	}
}

func entryCE(lba, off, length uint32) []byte {
	b := make([]byte, 28)
	copy(b, "CE")
	b[2], b[3] = 28, 1
	both32(b[4:], lba)
	both32(b[12:], off)
	both32(b[20:], length)
	return b
}

const (
	erID  = "RRIP_1991A"
	erDes = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS"
	erSrc = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION."
)

func erEntry() []byte {
	b := []byte{'E', 'R', byte(8 + len(erID) + len(erDes) + len(erSrc)), 1, byte(len(erID)), byte(len(erDes)),
		byte(len(erSrc)), 1}
	b = append(b, erID...)
	b = append(b, erDes...)
	return append(b, erSrc...)
}

func (n *node) mode() (mode, nlink uint32) {
	if n.dir {
		return modeDir, uint32(2 + n.nsubdirs)
	}
	return modeFile, 1
}

// baseLen is the length of a directory record with identifier length idLen, without system use.
func baseLen(idLen int) int { return 33 + idLen + (1 - idLen%2) }

// suspFor decides what c's record carries inline and what goes to a continuation area. The
// whole name stays inline whenever it fits, because some readers (7-Zip, kdomanski/iso9660 in
// part) never follow CE; then PX and TF move out. A name too long for any record goes whole to
// the continuation area: a reader that ignores CE then shows the unique ISO9660 name rather than
// a truncated, possibly colliding one. CE is always the last entry of a record (go-diskfs follows
// it only there).
func (l *Layout) suspFor(c *node) {
	mode, nlink := c.mode()
	fixed := append(entryPX(mode, nlink), entryTF(l.opts.Epoch)...)
	nm := entriesNM(c.name)
	base := baseLen(len(c.id))
	switch {
	case base+len(fixed)+len(nm) <= 254:
		c.susp = append(fixed, nm...)
	case base+len(nm)+28 <= 254:
		c.susp, c.cont = nm, fixed
	default:
		c.susp, c.cont = fixed, nm
	}
}

func recLen(c *node) int {
	n := baseLen(len(c.id)) + len(c.susp)
	if c.cont != nil {
		n += 28
	}
	return n + n%2
}

// dotSUSP is the system use field of the "." (self) or ".." record of d.
func (l *Layout) dotSUSP(d *node, self bool) []byte {
	var b []byte
	target := d
	if !self && d.parent != nil {
		target = d.parent
	}
	if self && d == l.root {
		b = append(b, 'S', 'P', 7, 1, 0xBE, 0xEF, 0)
	}
	mode, nlink := target.mode()
	b = append(b, entryPX(mode, nlink)...)
	b = append(b, entryTF(l.opts.Epoch)...)
	if self && d == l.root {
		b = append(b, entryCE(d.ceLBA, d.ceOff, uint32(len(l.erCont)))...)
	}
	return b
}

func (l *Layout) dotLen(d *node, self bool) int {
	n := 34 + len(l.dotSUSP(d, self))
	return n + n%2
}

// record encodes one directory record.
func (l *Layout) record(id []byte, lba, size uint32, flags byte, susp []byte) []byte {
	n := baseLen(len(id)) + len(susp)
	n += n % 2
	b := make([]byte, n)
	b[0] = byte(n)
	both32(b[2:], lba)
	both32(b[10:], size)
	d := recDate(l.opts.Epoch)
	copy(b[18:25], d[:])
	b[25] = flags
	both16(b[28:], 1)
	b[32] = byte(len(id))
	copy(b[33:], id)
	copy(b[baseLen(len(id)):], susp)
	return b
}

func (l *Layout) dirExtent(d *node) []byte {
	out := make([]byte, 0, d.extSize)
	add := func(rec []byte) {
		if len(out)%SectorSize+len(rec) > SectorSize {
			out = append(out, zeros[:SectorSize-len(out)%SectorSize]...)
		}
		out = append(out, rec...)
	}
	add(l.record([]byte{0}, d.lba, d.extSize, 2, l.dotSUSP(d, true)))
	p := d
	if d.parent != nil {
		p = d.parent
	}
	add(l.record([]byte{1}, p.lba, p.extSize, 2, l.dotSUSP(d, false)))
	for _, c := range d.children {
		susp := c.susp
		if c.cont != nil {
			susp = append(append([]byte{}, c.susp...), entryCE(c.ceLBA, c.ceOff, uint32(len(c.cont)))...)
		}
		if c.dir {
			add(l.record([]byte(c.id), c.lba, c.extSize, 2, susp))
			continue
		}
		ps := parts(c)
		for i, pt := range ps {
			flags := byte(0)
			if i < len(ps)-1 {
				flags = 0x80 // multi-extent: more records of this file follow
			}
			add(l.record([]byte(c.id), uint32(pt[0]), uint32(pt[1]), flags, susp))
		}
	}
	return append(out, zeros[:int(d.extSize)-len(out)]...)
}

// contArea is the continuation area that follows directory d's extent.
func (l *Layout) contArea(d *node) []byte {
	out := make([]byte, int(d.areaSects)*SectorSize)
	base := int64(d.areaLBA) * SectorSize
	put := func(n *node, b []byte) {
		copy(out[int64(n.ceLBA)*SectorSize+int64(n.ceOff)-base:], b)
	}
	if d == l.root {
		put(d, l.erCont)
	}
	for _, c := range d.children {
		if c.cont != nil {
			put(c, c.cont)
		}
	}
	return out
}

func ptIdent(d *node) []byte {
	if d.parent == nil {
		return []byte{0}
	}
	return []byte(d.id)
}

func (l *Layout) pathTable(bigEndian bool) []byte {
	out := make([]byte, 0, sectors(uint64(l.ptSize))*SectorSize)
	for _, d := range l.dirs {
		id := ptIdent(d)
		rec := make([]byte, 8+len(id)+len(id)%2)
		rec[0] = byte(len(id))
		parent := uint16(1)
		if d.parent != nil {
			parent = d.parent.number
		}
		if bigEndian {
			binary.BigEndian.PutUint32(rec[2:], d.lba)
			binary.BigEndian.PutUint16(rec[6:], parent)
		} else {
			binary.LittleEndian.PutUint32(rec[2:], d.lba)
			binary.LittleEndian.PutUint16(rec[6:], parent)
		}
		copy(rec[8:], id)
		out = append(out, rec...)
	}
	return append(out, make([]byte, cap(out)-len(out))...)
}

func padStr(b []byte, s string) {
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
}

func (l *Layout) pvd() []byte {
	b := make([]byte, SectorSize)
	b[0] = 1
	copy(b[1:], "CD001")
	b[6] = 1
	padStr(b[8:40], "")
	padStr(b[40:72], l.label)
	both32(b[80:], l.totalSects)
	both16(b[120:], 1)
	both16(b[124:], 1)
	both16(b[128:], SectorSize)
	both32(b[132:], l.ptSize)
	binary.LittleEndian.PutUint32(b[140:], l.lPathLBA)
	binary.BigEndian.PutUint32(b[148:], l.mPathLBA)
	root := l.record([]byte{0}, l.root.lba, l.root.extSize, 2, nil)
	copy(b[156:190], root)
	padStr(b[190:318], "")
	padStr(b[318:446], "")
	padStr(b[446:574], "AIRLOCK")
	padStr(b[574:702], "AIRLOCK")
	padStr(b[702:739], "")
	padStr(b[739:776], "")
	padStr(b[776:813], "")
	copy(b[813:], vdDate(l.opts.Epoch))
	copy(b[830:], vdDate(l.opts.Epoch))
	copy(b[847:], noDate())
	copy(b[864:], noDate())
	b[881] = 1
	if l.opts.Layout >= 2 {
		copy(b[appUseOff:], layoutMark(l.opts.Layout))
	}
	return b
}
