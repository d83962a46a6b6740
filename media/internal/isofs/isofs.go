// Package isofs reads ISO9660 images (with Rock Ridge names and multi-extent files) of hostile
// media in userspace.
//
// Open validates every directory before serving a byte: records must fit their sectors, extents
// must lie inside the volume, directories must not repeat (no loops), names must be clean path
// elements, and nesting, entry counts and System Use continuation chains are bounded.
package isofs

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"path"
	"strings"
	"time"

	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
	"github.com/airlock-appliance/airlock/media/internal/tree"
)

// Limits on hostile volumes.
const (
	MaxEntries  = 1 << 18
	MaxDepth    = 64
	MaxDirBytes = 16 << 20
	// MaxAllDirBytes bounds the directory data of the whole volume (a deep tree of huge
	// directories would otherwise hold depth x MaxDirBytes at once).
	MaxAllDirBytes = 64 << 20
	maxCE          = 16
	maxSUSP        = 1 << 16
)

const sector = 2048

// Detect reports whether the volume at r carries an ISO9660 volume descriptor at sector 16.
func Detect(r io.ReaderAt) bool {
	b := make([]byte, 6)
	if _, err := r.ReadAt(b, 16*sector); err != nil {
		return false
	}
	return string(b[1:6]) == "CD001"
}

// Volume is a validated ISO9660 volume.
type Volume struct {
	Label     string
	RockRidge bool
	FS        *tree.FS
}

type reader struct {
	ctx     context.Context
	r       io.ReaderAt
	size    int64
	bs      int64
	susp    bool
	skip    int
	seen    map[uint32]bool
	entries int
	dirData int64
}

// Open validates the ISO9660 volume of size bytes at r.
func Open(ctx context.Context, r io.ReaderAt, size int64) (*Volume, error) {
	rd := &reader{ctx: ctx, r: r, size: size, seen: map[uint32]bool{}}
	var pvd []byte
	for i := int64(16); i < 16+64; i++ {
		b := make([]byte, sector)
		if err := readFull(r, b, i*sector); err != nil {
			return nil, mediaerr.Corrupt("ISO9660: volume descriptor %d: %v", i, err)
		}
		if string(b[1:6]) != "CD001" {
			return nil, mediaerr.Corrupt("ISO9660: volume descriptor %d has no CD001 signature", i)
		}
		if b[0] == 1 && pvd == nil {
			pvd = b
		}
		if b[0] == 255 {
			break
		}
	}
	if pvd == nil {
		return nil, mediaerr.Corrupt("ISO9660: no primary volume descriptor")
	}
	rd.bs = int64(binary.LittleEndian.Uint16(pvd[128:]))
	if rd.bs != 512 && rd.bs != 1024 && rd.bs != 2048 {
		return nil, mediaerr.Corrupt("ISO9660: logical block size %d", rd.bs)
	}
	if vs := int64(binary.LittleEndian.Uint32(pvd[80:])) * rd.bs; vs > size {
		return nil, mediaerr.Corrupt("ISO9660: volume of %d bytes is larger than the medium (%d bytes)", vs, size)
	}
	rootRec := pvd[156 : 156+34]
	if rootRec[0] != 34 {
		return nil, mediaerr.Corrupt("ISO9660: root directory record length %d", rootRec[0])
	}
	lba := binary.LittleEndian.Uint32(rootRec[2:])
	dlen := binary.LittleEndian.Uint32(rootRec[10:])
	data, err := rd.readDir(lba, dlen, "/")
	if err != nil {
		return nil, err
	}
	// Rock Ridge: the root's "." record carries an SP entry (SUSP) and then RR entries.
	if len(data) >= 34 && data[0] >= 34 {
		rec := data[:data[0]]
		su := sysUse(rec)
		if len(su) >= 7 && string(su[:2]) == "SP" && su[4] == 0xBE && su[5] == 0xEF {
			rd.susp = true
			rd.skip = int(su[6])
		}
	}
	root := &tree.Node{Dir: true}
	if err := rd.walk(root, data, "/", 0); err != nil {
		return nil, err
	}
	if err := root.Sort("/"); err != nil {
		return nil, mediaerr.Corrupt("ISO9660: %v", err)
	}
	label := strings.TrimRight(string(pvd[40:72]), " ")
	return &Volume{Label: label, RockRidge: rd.susp, FS: &tree.FS{R: r, Root: root}}, nil
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

func (rd *reader) inside(lba uint32, n int64) bool {
	off := int64(lba) * rd.bs
	return off+n <= rd.size
}

func (rd *reader) readDir(lba, n uint32, where string) ([]byte, error) {
	if rd.seen[lba] {
		return nil, mediaerr.Corrupt("ISO9660: directory %s at block %d seen twice (a loop)", where, lba)
	}
	rd.seen[lba] = true
	if n > MaxDirBytes {
		return nil, mediaerr.Corrupt("ISO9660: directory %s has %d bytes (limit %d)", where, n, MaxDirBytes)
	}
	if rd.dirData += int64(n); rd.dirData > MaxAllDirBytes {
		return nil, mediaerr.Corrupt("ISO9660: more than %d bytes of directories", MaxAllDirBytes)
	}
	if !rd.inside(lba, int64(n)) {
		return nil, mediaerr.Corrupt("ISO9660: directory %s at block %d (%d bytes) past the end of the volume", where, lba, n)
	}
	b := make([]byte, n)
	if err := readFull(rd.r, b, int64(lba)*rd.bs); err != nil {
		return nil, mediaerr.Corrupt("ISO9660: directory %s at block %d: %v", where, lba, err)
	}
	return b, nil
}

func sysUse(rec []byte) []byte {
	nl := int(rec[32])
	o := 33 + nl
	if nl%2 == 0 {
		o++
	}
	if o > len(rec) {
		return nil
	}
	return rec[o:]
}

// rr is what the Rock Ridge entries of one record say.
type rr struct {
	name      string
	hasName   bool
	mode      uint32
	relocated bool   // RE: the entry is the relocated directory itself, listed via its CL
	child     uint32 // CL: the directory lives at this block
}

func (rd *reader) rockRidge(rec []byte, where string) (rr, error) {
	var out rr
	su := sysUse(rec)
	if rd.skip > len(su) {
		return out, nil
	}
	su = su[rd.skip:]
	var name []byte
	total := 0
	for ce := 0; ; ce++ {
		var next []byte
		for len(su) >= 4 {
			l := int(su[2])
			if l < 4 || l > len(su) {
				break
			}
			e := su[:l]
			su = su[l:]
			switch string(e[:2]) {
			case "NM":
				if l >= 5 && e[4]&0x06 == 0 {
					name = append(name, e[5:]...)
					out.hasName = true
				}
			case "PX":
				if l >= 8 {
					out.mode = binary.LittleEndian.Uint32(e[4:])
				}
			case "RE":
				out.relocated = true
			case "CL":
				if l >= 8 {
					out.child = binary.LittleEndian.Uint32(e[4:])
				}
			case "CE":
				if l >= 28 {
					blk := binary.LittleEndian.Uint32(e[4:])
					off := binary.LittleEndian.Uint32(e[12:])
					n := binary.LittleEndian.Uint32(e[20:])
					total += int(n)
					if ce >= maxCE || total > maxSUSP || int64(off)+int64(n) > rd.bs*64 {
						return out, mediaerr.Corrupt("ISO9660: %s: System Use continuation too long", where)
					}
					if !rd.inside(blk, int64(off)+int64(n)) {
						return out, mediaerr.Corrupt("ISO9660: %s: continuation area past the end of the volume", where)
					}
					next = make([]byte, n)
					if err := readFull(rd.r, next, int64(blk)*rd.bs+int64(off)); err != nil {
						return out, mediaerr.Corrupt("ISO9660: %s: continuation area: %v", where, err)
					}
				}
			case "ST":
				su = nil
			}
		}
		if next == nil {
			break
		}
		su = next
	}
	out.name = string(name)
	return out, nil
}

func isoTime(b []byte) time.Time {
	if b[0] == 0 && b[1] == 0 {
		return time.Time{}
	}
	off := int(int8(b[6])) * 15 * 60
	return time.Date(1900+int(b[0]), time.Month(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]), 0,
		time.FixedZone("", off)).UTC()
}

func plainName(id []byte) string {
	s := string(id)
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, ".")
}

func (rd *reader) walk(dir *tree.Node, data []byte, where string, depth int) error {
	if depth > MaxDepth {
		return mediaerr.Corrupt("ISO9660: %s: directories nested deeper than %d", where, MaxDepth)
	}
	if err := rd.ctx.Err(); err != nil {
		return err
	}
	var pending *tree.Node // a multi-extent file still collecting extents
	for i := 0; i < len(data); {
		l := int(data[i])
		if l == 0 { // no more records in this sector
			i = (i/int(rd.bs) + 1) * int(rd.bs)
			continue
		}
		if l < 34 || i+l > len(data) || i/int(rd.bs) != (i+l-1)/int(rd.bs) {
			return mediaerr.Corrupt("ISO9660: %s: bad directory record of %d bytes at offset %d", where, l, i)
		}
		rec := data[i : i+l]
		i += l
		nl := int(rec[32])
		if 33+nl > l {
			return mediaerr.Corrupt("ISO9660: %s: name of %d bytes overruns its record", where, nl)
		}
		id := rec[33 : 33+nl]
		if nl == 1 && (id[0] == 0 || id[0] == 1) { // "." and ".."
			continue
		}
		flags := rec[25]
		if flags&0x04 != 0 { // associated file
			continue
		}
		if rec[26] != 0 || rec[27] != 0 {
			return mediaerr.Unsupported("ISO9660 interleaved file in %s", where)
		}
		lba := binary.LittleEndian.Uint32(rec[2:])
		size := binary.LittleEndian.Uint32(rec[10:])
		name := plainName(id)
		var ext rr
		if rd.susp {
			var err error
			if ext, err = rd.rockRidge(rec, path.Join(where, name)); err != nil {
				return err
			}
			if ext.relocated {
				continue
			}
			if ext.hasName {
				name = ext.name
			}
		}
		full := path.Join(where, name)
		if err := tree.CheckName(name); err != nil {
			return mediaerr.Corrupt("ISO9660: in %s: %v", where, err)
		}
		if pending != nil && pending.Name == name {
			if !rd.inside(lba, int64(size)) {
				return mediaerr.Corrupt("ISO9660: file %s: extent at block %d past the end of the volume", full, lba)
			}
			pending.Extents = append(pending.Extents, tree.Extent{Off: int64(lba) * rd.bs, Len: int64(size)})
			pending.Size += int64(size)
			if flags&0x80 == 0 {
				pending = nil
			}
			continue
		}
		if pending != nil {
			return mediaerr.Corrupt("ISO9660: file %s: multi-extent file ends without its last extent", path.Join(where, pending.Name))
		}
		rd.entries++
		if rd.entries > MaxEntries {
			return mediaerr.Corrupt("ISO9660: more than %d entries", MaxEntries)
		}
		n := &tree.Node{Name: name, ModTime: isoTime(rec[18:25]), Mode: 0}
		if flags&0x02 != 0 || ext.child != 0 {
			n.Dir = true
			dlba, dsize := lba, size
			if ext.child != 0 {
				// A relocated directory: its own "." record gives its size.
				head, err := rd.readDirHead(ext.child, full)
				if err != nil {
					return err
				}
				dlba, dsize = ext.child, head
			}
			sub, err := rd.readDir(dlba, dsize, full)
			if err != nil {
				return err
			}
			if err := rd.walk(n, sub, full, depth+1); err != nil {
				return err
			}
		} else {
			if !rd.inside(lba, int64(size)) {
				return mediaerr.Corrupt("ISO9660: file %s at block %d (%d bytes) past the end of the volume", full, lba, size)
			}
			n.Size = int64(size)
			if size > 0 {
				n.Extents = []tree.Extent{{Off: int64(lba) * rd.bs, Len: int64(size)}}
			}
			if flags&0x80 != 0 {
				pending = n
			}
		}
		dir.Children = append(dir.Children, n)
	}
	if pending != nil {
		return mediaerr.Corrupt("ISO9660: file %s: multi-extent file ends without its last extent", path.Join(where, pending.Name))
	}
	return nil
}

func (rd *reader) readDirHead(lba uint32, where string) (uint32, error) {
	if !rd.inside(lba, 34) {
		return 0, mediaerr.Corrupt("ISO9660: relocated directory %s at block %d past the end of the volume", where, lba)
	}
	b := make([]byte, 34)
	if err := readFull(rd.r, b, int64(lba)*rd.bs); err != nil {
		return 0, mediaerr.Corrupt("ISO9660: relocated directory %s: %v", where, err)
	}
	if b[0] < 34 || b[32] != 1 || b[33] != 0 {
		return 0, mediaerr.Corrupt("ISO9660: relocated directory %s at block %d has no \".\" record", where, lba)
	}
	return binary.LittleEndian.Uint32(b[10:]), nil
}
