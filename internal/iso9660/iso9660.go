// Package iso9660 is airlock's one reader of ISO 9660 images and discs (ECMA-119 with Rock Ridge
// and Joliet), used by media (ISO images on sticks) and burner (read-back and disc verification).
//
// The input is hostile. Open parses and validates the whole volume before anything is served:
// every directory and extent must lie inside the volume the primary descriptor declares, no two
// non-empty extents may share a byte (files, multi-extent parts and directories alike, so a disc
// cannot make a reader hash the same sectors twice), a directory is reached once only (no loops),
// names are clean path elements unique in their directory, and depth, entry count, directory bytes
// and path bytes are bounded (Limits). A Rock Ridge RE entry may only hide a directory that a CL
// entry relocates, so a reader that ignores Rock Ridge cannot see a record airlock skipped.
// Every error wraps ErrBad and names the image and the reason.
//
// Besides the tree a Rock Ridge (or plain ISO 9660) reader shows (Image.Root, Image.FS), Open
// records what other readers would see: the Joliet tree (Image.Joliet), an El Torito boot record,
// every volume descriptor, and which files are zisofs-compressed (Rock Ridge ZF), so callers can
// refuse or compare them.
package iso9660

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/airlock-appliance/airlock/internal/fstree"
)

// SectorSize is the only logical block size accepted (every real writer uses it).
const SectorSize = 2048

// ErrBad is wrapped by every error about malformed or out-of-bounds ISO 9660 bytes.
var ErrBad = errors.New("malformed ISO 9660 image")

// Error is a refusal of an image: which image, and why.
type Error struct {
	Image  string // the name the caller gave (a path or device)
	Reason string
}

func (e *Error) Error() string { return "ISO9660 " + e.Image + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrBad) hold.
func (e *Error) Unwrap() error { return ErrBad }

// Limits bound the work a hostile volume can cause.
type Limits struct {
	MaxDepth       int   // directory nesting
	MaxEntries     int   // directory records (files, directories, links) in all trees
	MaxDirBytes    int64 // one directory extent
	MaxAllDirBytes int64 // all directory extents together
	MaxPathBytes   int   // one full path (PATH_MAX)
	MaxNameBytes   int64 // all names together
	MaxParts       int   // multi-extent parts of one file
	// SharedExtents lets files share an extent exactly (hard links, and files mkisofs and
	// xorriso deduplicate), as images made elsewhere do; extents still may not partly overlap.
	// A disc airlock wrote never shares one, so verification leaves it false.
	SharedExtents bool
}

// DefaultLimits are the bounds used when Open is given none.
var DefaultLimits = Limits{
	MaxDepth:       64,
	MaxEntries:     1 << 18,
	MaxDirBytes:    16 << 20,
	MaxAllDirBytes: 64 << 20,
	MaxPathBytes:   4096,
	MaxNameBytes:   32 << 20,
	MaxParts:       4096,
}

const (
	maxDescriptors = 64       // sectors scanned from 16 for the terminator
	maxCEHops      = 16       // continuation areas chained from one record
	maxSUSPBytes   = 1 << 16  // continuation bytes of one record
	maxAllSUSP     = 64 << 20 // continuation bytes read for the whole volume
	maxRRName      = 1024     // bytes of one Rock Ridge name or symlink target
)

// Extent is a run of a file's bytes at Off in the image.
type Extent struct{ Off, Len int64 }

// Node is one file, directory or symbolic link of a tree.
type Node struct {
	Name       string
	Dir        bool
	Symlink    bool        // Rock Ridge PX says symlink; Target holds the SL path
	Target     string      // symlink target assembled from SL
	Mode       fs.FileMode // permission bits from PX (0444/0555 without Rock Ridge)
	ModTime    time.Time
	Size       int64 // files: sum of the extents (the recorded, possibly compressed, bytes)
	Extents    []Extent
	Compressed bool  // Rock Ridge ZF: zisofs-compressed; Size is the compressed size
	RealSize   int64 // ZF's uncompressed size when Compressed
	Record     int64 // byte offset of the (first) directory record in the image; -1 for roots
	Children   []*Node
}

// Descriptor is one volume descriptor of the set starting at sector 16.
type Descriptor struct {
	Type   byte // 0 boot record, 1 primary, 2 supplementary, 3 partition, 255 terminator
	Sector int64
}

// Image is a validated ISO 9660 volume.
type Image struct {
	Name        string       // as given to Open, for messages
	VolumeSize  int64        // bytes the primary descriptor declares
	Label       string       // volume identifier, trailing spaces removed
	Created     time.Time    // volume creation date (UTC); zero when not recorded
	PVD         []byte       // the primary volume descriptor sector
	RockRidge   bool         // the root carries SUSP SP: Root has Rock Ridge names
	Descriptors []Descriptor // in order, terminator included
	Boot        bool         // an El Torito boot record descriptor is present
	Root        *Node        // the tree a Rock Ridge reader (or, without it, an ISO 9660 reader) shows
	Joliet      *Node        // the tree a Joliet reader shows; nil without a Joliet descriptor
	Compressed  []string     // paths in Root of zisofs-compressed files
	r           io.ReaderAt
}

// Open reads and validates the volume in r (size bytes: the medium, which may be larger than the
// volume). name identifies the image in errors. lim nil means DefaultLimits.
func Open(ctx context.Context, name string, r io.ReaderAt, size int64, lim *Limits) (*Image, error) {
	if lim == nil {
		lim = &DefaultLimits
	}
	p := &parser{ctx: ctx, name: name, r: r, size: size, lim: lim, dirSeen: map[int64]string{}}
	im, err := p.open()
	if err != nil {
		return nil, err
	}
	im.r = r
	return im, nil
}

type parser struct {
	ctx     context.Context
	name    string
	r       io.ReaderAt
	size    int64
	vol     int64 // volume bytes: the bound of every extent
	lim     *Limits
	rr      bool
	skip    int
	joliet  bool
	dirSeen map[int64]string // directory extent offset -> path
	entries int
	dirData int64
	names   int64
	extents []owned // every non-empty extent of the tree being read
	relocs  map[int64]bool
	reSeen  map[int64]string
	zf      []string
	ceRead  int64 // continuation bytes read so far
}

type owned struct {
	Extent
	path string
}

func (p *parser) bad(format string, args ...any) error {
	return &Error{Image: p.name, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) read(b []byte, off int64, what string) error {
	n, err := p.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return p.bad("%s: %v", what, err)
}

func (p *parser) open() (*Image, error) {
	im := &Image{Name: p.name}
	var pvd, svd []byte
	for i := int64(16); ; i++ {
		if i >= 16+maxDescriptors {
			return nil, p.bad("more than %d volume descriptors without a terminator", maxDescriptors)
		}
		b := make([]byte, SectorSize)
		if err := p.read(b, i*SectorSize, fmt.Sprintf("volume descriptor %d", i)); err != nil {
			return nil, err
		}
		if string(b[1:6]) != "CD001" {
			return nil, p.bad("volume descriptor %d has no CD001 signature", i)
		}
		im.Descriptors = append(im.Descriptors, Descriptor{Type: b[0], Sector: i})
		switch {
		case b[0] == 255:
		case b[0] == 1 && pvd == nil:
			pvd = b
		case b[0] == 0 && strings.HasPrefix(string(b[7:39]), "EL TORITO SPECIFICATION"):
			im.Boot = true
		case b[0] == 2 && svd == nil && b[88] == '%' && b[89] == '/' && (b[90] == '@' || b[90] == 'C' || b[90] == 'E'):
			svd = b
		}
		if b[0] == 255 {
			break
		}
	}
	if pvd == nil {
		return nil, p.bad("no primary volume descriptor")
	}
	im.PVD = pvd
	if bs := binary.LittleEndian.Uint16(pvd[128:]); bs != SectorSize {
		return nil, p.bad("logical block size %d, only %d supported", bs, SectorSize)
	}
	p.vol = int64(binary.LittleEndian.Uint32(pvd[80:])) * SectorSize
	if p.vol > p.size {
		return nil, p.bad("volume of %d bytes is larger than the medium (%d bytes)", p.vol, p.size)
	}
	im.VolumeSize = p.vol
	im.Label = strings.TrimRight(string(pvd[40:72]), " ")
	im.Created = vdDate(pvd[813:830])

	root, err := p.rootNode(pvd, "primary")
	if err != nil {
		return nil, err
	}
	if err := p.detectRR(root); err != nil {
		return nil, err
	}
	im.RockRidge = p.rr
	p.relocs, p.reSeen = map[int64]bool{}, map[int64]string{}
	if err := p.walk(root, "", 0); err != nil {
		return nil, err
	}
	for off, where := range p.reSeen {
		if !p.relocs[off] {
			if err := p.checkHidden(off, where); err != nil {
				return nil, err
			}
		}
	}
	if err := p.checkOverlaps(); err != nil {
		return nil, err
	}
	im.Root, im.Compressed = root, p.zf

	if svd != nil {
		// The Joliet tree is a second view over the same volume: its own directories, no SUSP.
		p.rr, p.joliet, p.extents, p.dirSeen = false, true, nil, map[int64]string{}
		j, err := p.rootNode(svd, "Joliet")
		if err != nil {
			return nil, err
		}
		if err := p.walk(j, "", 0); err != nil {
			return nil, fmt.Errorf("the Joliet tree: %w", err)
		}
		if err := p.checkOverlaps(); err != nil {
			return nil, fmt.Errorf("the Joliet tree: %w", err)
		}
		im.Joliet = j
	}
	return im, nil
}

func (p *parser) rootNode(vd []byte, which string) (*Node, error) {
	rec := vd[156:190]
	if rec[0] != 34 {
		return nil, p.bad("%s root directory record length %d", which, rec[0])
	}
	lba := int64(binary.LittleEndian.Uint32(rec[2:]))
	n := int64(binary.LittleEndian.Uint32(rec[10:]))
	if err := p.inside(lba, n, which+" root directory"); err != nil {
		return nil, err
	}
	return &Node{Dir: true, Mode: fs.ModeDir | 0o555, ModTime: recDate(rec[18:25]), Record: -1,
		Extents: []Extent{{lba * SectorSize, n}}}, nil
}

func (p *parser) inside(lba, n int64, what string) error {
	if n == 0 {
		return nil // an empty extent has no bytes; its address means nothing (RR symlinks)
	}
	if lba*SectorSize >= p.vol || lba*SectorSize+n > p.vol {
		return p.bad("%s at block %d (%d bytes) past the end of the volume (%d bytes)", what, lba, n, p.vol)
	}
	return nil
}

func (p *parser) detectRR(root *Node) error {
	e := root.Extents[0]
	if e.Len < 34 {
		return p.bad("root directory of %d bytes", e.Len)
	}
	b := make([]byte, min(255, e.Len))
	if err := p.read(b, e.Off, "root directory"); err != nil {
		return err
	}
	l := int(b[0])
	if l < 34 || l > len(b) || b[32] != 1 || b[33] != 0 {
		return p.bad("root directory's first record is not \".\"")
	}
	su := b[34:l]
	if len(su) >= 7 && su[0] == 'S' && su[1] == 'P' && su[4] == 0xBE && su[5] == 0xEF {
		p.rr, p.skip = true, int(su[6])
	}
	return nil
}

// readDir reads the extent of directory d (at path where), once.
func (p *parser) readDir(e Extent, where string) ([]byte, error) {
	if o, ok := p.dirSeen[e.Off]; ok {
		return nil, p.bad("directory /%s at byte %d is also /%s (a loop or a shared directory)", where, e.Off, o)
	}
	p.dirSeen[e.Off] = where
	if e.Len > p.lim.MaxDirBytes {
		return nil, p.bad("directory /%s has %d bytes (limit %d)", where, e.Len, p.lim.MaxDirBytes)
	}
	if p.dirData += e.Len; p.dirData > p.lim.MaxAllDirBytes {
		return nil, p.bad("more than %d bytes of directories", p.lim.MaxAllDirBytes)
	}
	b := make([]byte, e.Len)
	if err := p.read(b, e.Off, "directory /"+where); err != nil {
		return nil, err
	}
	if e.Len > 0 {
		p.extents = append(p.extents, owned{e, "/" + where})
	}
	return b, nil
}

func (p *parser) walk(dir *Node, where string, depth int) error {
	if depth > p.lim.MaxDepth {
		return p.bad("/%s: directories nested deeper than %d", where, p.lim.MaxDepth)
	}
	if err := p.ctx.Err(); err != nil {
		return err
	}
	data, err := p.readDir(dir.Extents[0], where)
	if err != nil {
		return err
	}
	base := dir.Extents[0].Off
	dir.Extents = nil
	var pending *Node
	for i := 0; i < len(data); {
		l := int(data[i])
		if l == 0 {
			i = (i/SectorSize + 1) * SectorSize
			continue
		}
		if l < 34 || i+l > len(data) || i/SectorSize != (i+l-1)/SectorSize {
			return p.bad("/%s: bad directory record of %d bytes at offset %d", where, l, i)
		}
		rec, at := data[i:i+l], base+int64(i)
		i += l
		nl := int(rec[32])
		if 33+nl > l {
			return p.bad("/%s: name of %d bytes overruns its record", where, nl)
		}
		id := rec[33 : 33+nl]
		if nl == 1 && (id[0] == 0 || id[0] == 1) {
			continue
		}
		flags := rec[25]
		if flags&0x04 != 0 {
			return p.bad("/%s: associated file record at byte %d (readers disagree on showing it)", where, at)
		}
		if rec[26] != 0 || rec[27] != 0 {
			return p.bad("/%s: interleaved file record at byte %d", where, at)
		}
		lba := int64(binary.LittleEndian.Uint32(rec[2:]))
		size := int64(binary.LittleEndian.Uint32(rec[10:]))
		n := &Node{Name: p.plainName(id, flags&0x02 != 0), Dir: flags&0x02 != 0, ModTime: recDate(rec[18:25]), Record: at}
		if p.joliet {
			if nl%2 != 0 {
				return p.bad("/%s: Joliet name of odd length at byte %d", where, at)
			}
			n.Name = joliet(id, n.Dir)
		}
		rr := rrInfo{child: -1}
		if p.rr {
			if rr, err = p.rockRidge(rec, "/"+path.Join(where, n.Name)); err != nil {
				return err
			}
			if rr.hasName {
				n.Name = rr.name
			}
		}
		full := path.Join(where, n.Name)
		if rr.relocated {
			if !n.Dir {
				return p.bad("/%s: file record hidden by a Rock Ridge RE entry", full)
			}
			if _, dup := p.reSeen[lba*SectorSize]; dup {
				return p.bad("/%s: two RE records for block %d", full, lba)
			}
			p.reSeen[lba*SectorSize] = "/" + full
			continue
		}
		if err := CheckName(n.Name); err != nil {
			return p.bad("in /%s: %v", where, err)
		}
		if len(full)+1 > p.lim.MaxPathBytes {
			return p.bad("/%s...: path longer than %d bytes", full[:min(len(full), 64)], p.lim.MaxPathBytes)
		}
		if pending != nil {
			if pending.Name != n.Name || n.Dir {
				return p.bad("/%s: multi-extent file ends without its last extent", path.Join(where, pending.Name))
			}
			if len(pending.Extents) >= p.lim.MaxParts {
				return p.bad("/%s: more than %d extents", full, p.lim.MaxParts)
			}
			if err := p.inside(lba, size, "file /"+full); err != nil {
				return err
			}
			pending.Extents = append(pending.Extents, Extent{lba * SectorSize, size})
			pending.Size += size
			if size > 0 {
				p.extents = append(p.extents, owned{Extent{lba * SectorSize, size}, "/" + full})
			}
			if flags&0x80 == 0 {
				pending = nil
			}
			continue
		}
		if p.entries++; p.entries > p.lim.MaxEntries {
			return p.bad("more than %d entries", p.lim.MaxEntries)
		}
		if p.names += int64(len(n.Name)); p.names > p.lim.MaxNameBytes {
			return p.bad("more than %d bytes of names", p.lim.MaxNameBytes)
		}
		n.Mode = 0o444
		if p.rr && rr.hasMode {
			n.Mode = rr.mode.Perm()
		}
		switch {
		case rr.child >= 0:
			// A relocated directory: it lives at the CL block, its size is in its "." record.
			n.Dir = true
			sz, err := p.dotSize(rr.child, full)
			if err != nil {
				return err
			}
			p.relocs[rr.child*SectorSize] = true
			lba, size = rr.child, sz
			fallthrough
		case n.Dir:
			if p.rr && rr.hasMode && !rr.mode.IsDir() {
				return p.bad("/%s: directory record whose Rock Ridge mode is %v", full, rr.mode.Type())
			}
			if !rr.hasMode {
				n.Mode = 0o555
			}
			n.Mode |= fs.ModeDir
			if err := p.inside(lba, size, "directory /"+full); err != nil {
				return err
			}
			if size == 0 {
				return p.bad("/%s: directory of 0 bytes", full)
			}
			n.Extents = []Extent{{lba * SectorSize, size}}
			if err := p.walk(n, full, depth+1); err != nil {
				return err
			}
		case rr.symlink:
			if size != 0 {
				return p.bad("/%s: symbolic link with %d bytes of data", full, size)
			}
			n.Symlink, n.Target, n.Mode = true, rr.target, n.Mode|fs.ModeSymlink
		default:
			if p.rr && rr.hasMode && !rr.mode.IsRegular() {
				return p.bad("/%s: file record whose Rock Ridge mode is %v (readers disagree)", full, rr.mode.Type())
			}
			if err := p.inside(lba, size, "file /"+full); err != nil {
				return err
			}
			n.Size = size
			n.Extents = []Extent{{lba * SectorSize, size}}
			if size > 0 {
				p.extents = append(p.extents, owned{n.Extents[0], "/" + full})
			}
			if rr.zf {
				n.Compressed, n.RealSize = true, rr.realSize
				p.zf = append(p.zf, full)
			}
			if flags&0x80 != 0 {
				pending = n
			}
		}
		dir.Children = append(dir.Children, n)
	}
	if pending != nil {
		return p.bad("/%s: multi-extent file ends without its last extent", path.Join(where, pending.Name))
	}
	slices.SortFunc(dir.Children, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(dir.Children); i++ {
		if dir.Children[i].Name == dir.Children[i-1].Name {
			return p.bad("/%s: two entries named %q", where, dir.Children[i].Name)
		}
	}
	return nil
}

// checkHidden checks a directory that an RE entry hides from Rock Ridge readers without a CL
// entry relocating it: the relocation directory itself (libisofs marks its rr_moved so). A reader
// that ignores Rock Ridge lists it, so it may hold nothing but relocated directories.
func (p *parser) checkHidden(off int64, where string) error {
	sz, err := p.dotSize(off/SectorSize, where)
	if err != nil {
		return err
	}
	data, err := p.readDir(Extent{off, sz}, where)
	if err != nil {
		return err
	}
	for i := 0; i < len(data); {
		l := int(data[i])
		if l == 0 {
			i = (i/SectorSize + 1) * SectorSize
			continue
		}
		if l < 34 || i+l > len(data) || i/SectorSize != (i+l-1)/SectorSize || 33+int(data[i+32]) > l {
			return p.bad("%s: bad directory record of %d bytes at offset %d", where, l, i)
		}
		rec := data[i : i+l]
		i += l
		if id := rec[33 : 33+int(rec[32])]; len(id) == 1 && (id[0] == 0 || id[0] == 1) {
			continue
		}
		rr, err := p.rockRidge(rec, where)
		if err != nil {
			return err
		}
		lba := int64(binary.LittleEndian.Uint32(rec[2:]))
		if !rr.relocated || rec[25]&0x02 == 0 || !p.relocs[lba*SectorSize] {
			return p.bad("%s: a directory hidden by a Rock Ridge RE entry holds a record that no CL entry relocates (ISO 9660 readers show it)", where)
		}
	}
	return nil
}

// dotSize reads the "." record at block lba, the target of a CL entry.
func (p *parser) dotSize(lba int64, where string) (int64, error) {
	if err := p.inside(lba, 34, "relocated directory /"+where); err != nil {
		return 0, err
	}
	b := make([]byte, 34)
	if err := p.read(b, lba*SectorSize, "relocated directory /"+where); err != nil {
		return 0, err
	}
	if b[0] < 34 || b[32] != 1 || b[33] != 0 || int64(binary.LittleEndian.Uint32(b[2:])) != lba {
		return 0, p.bad("relocated directory /%s at block %d has no \".\" record", where, lba)
	}
	return int64(binary.LittleEndian.Uint32(b[10:])), nil
}

// checkOverlaps refuses two extents that share a byte.
func (p *parser) checkOverlaps() error {
	slices.SortFunc(p.extents, func(a, b owned) int {
		if a.Off != b.Off {
			if a.Off < b.Off {
				return -1
			}
			return 1
		}
		return 0
	})
	for i := 1; i < len(p.extents); i++ {
		a, b := p.extents[i-1], p.extents[i]
		if a.Off+a.Len > b.Off {
			if p.lim.SharedExtents && a.Extent == b.Extent {
				continue
			}
			return p.bad("%s (bytes %d..%d) overlaps %s (from byte %d)", b.path, b.Off, b.Off+b.Len, a.path, a.Off)
		}
	}
	return nil
}

// plainName is what an ISO 9660 reader shows: ";version" and a trailing dot removed from files.
func (p *parser) plainName(id []byte, dir bool) string {
	s := string(id)
	if dir {
		return s
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, ".")
}

func joliet(id []byte, dir bool) string {
	u := make([]uint16, len(id)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(id[2*i:])
	}
	s := string(utf16.Decode(u))
	if !dir {
		if i := strings.LastIndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
	}
	return s
}

// CheckName reports why name is not acceptable as one path element of a hostile medium: empty,
// "." or "..", a slash or backslash, NUL or another control character, or invalid UTF-8.
func CheckName(name string) error {
	if len(name) > maxRRName {
		return fmt.Errorf("name of %d bytes", len(name))
	}
	return fstree.CheckName(name)
}

// rrInfo is what the Rock Ridge entries of one record say.
type rrInfo struct {
	name      string
	hasName   bool
	mode      fs.FileMode
	hasMode   bool
	symlink   bool
	target    string
	relocated bool  // RE
	child     int64 // CL block, -1 without
	zf        bool
	realSize  int64
}

func (p *parser) rockRidge(rec []byte, where string) (rrInfo, error) {
	out := rrInfo{child: -1}
	nl := int(rec[32])
	o := 33 + nl + (1 - nl%2)
	if o+p.skip > len(rec) {
		return out, nil
	}
	su := rec[o+p.skip:]
	var name, sl []byte
	nmDone, slDone, slCont := false, false, false
	total := 0
	for hop := 0; ; hop++ {
		var next []byte
		for len(su) >= 4 {
			l := int(su[2])
			if l < 4 || l > len(su) {
				break // malformed tail: ignored, as every reader does
			}
			e := su[:l]
			su = su[l:]
			switch string(e[:2]) {
			case "NM":
				if l < 5 || nmDone || e[4]&0x06 != 0 {
					continue
				}
				name = append(name, e[5:]...)
				out.hasName = true
				if len(name) > maxRRName {
					return out, p.bad("%s: Rock Ridge name longer than %d bytes", where, maxRRName)
				}
				nmDone = e[4]&1 == 0
			case "PX":
				if l >= 36 {
					m := binary.LittleEndian.Uint32(e[4:])
					out.mode, out.hasMode = fs.FileMode(m&0o777), true
					switch m & 0o170000 {
					case 0o040000:
						out.mode |= fs.ModeDir
					case 0o120000:
						out.mode |= fs.ModeSymlink
						out.symlink = true
					case 0o100000:
					default:
						out.mode |= fs.ModeIrregular
					}
				}
			case "SL":
				if l < 5 || slDone {
					continue
				}
				var err error
				if sl, slCont, err = appendSL(sl, e[5:], slCont); err != nil {
					return out, p.bad("%s: Rock Ridge SL: %v", where, err)
				}
				if len(sl) > maxRRName*4 {
					return out, p.bad("%s: symbolic link target too long", where)
				}
				slDone = e[4]&1 == 0
			case "CL":
				if l >= 12 {
					out.child = int64(binary.LittleEndian.Uint32(e[4:]))
				}
			case "RE":
				out.relocated = true
			case "ZF":
				if l >= 16 {
					out.zf = true
					out.realSize = int64(binary.LittleEndian.Uint32(e[8:]))
				}
			case "CE":
				if l >= 28 {
					blk := int64(binary.LittleEndian.Uint32(e[4:]))
					off := int64(binary.LittleEndian.Uint32(e[12:]))
					n := int64(binary.LittleEndian.Uint32(e[20:]))
					total += int(min(n, maxSUSPBytes+1))
					if hop >= maxCEHops || total > maxSUSPBytes || off >= SectorSize || n > 16*SectorSize {
						return out, p.bad("%s: System Use continuation too long", where)
					}
					if p.ceRead += n; p.ceRead > maxAllSUSP {
						return out, p.bad("more than %d bytes of System Use continuation areas", maxAllSUSP)
					}
					if err := p.inside(blk, off+n, where+": continuation area"); err != nil {
						return out, err
					}
					next = make([]byte, n)
					if err := p.read(next, blk*SectorSize+off, where+": continuation area"); err != nil {
						return out, err
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
	out.name, out.target = string(name), string(sl)
	return out, nil
}

// appendSL adds the components of one SL entry to the target t; cont says the last component
// of the previous entry continues.
func appendSL(t, comps []byte, cont bool) ([]byte, bool, error) {
	for len(comps) > 0 {
		if len(comps) < 2 || 2+int(comps[1]) > len(comps) {
			return t, cont, errors.New("component overruns its entry")
		}
		f, c := comps[0], comps[2:2+int(comps[1])]
		comps = comps[2+int(comps[1]):]
		if !cont && len(t) > 0 && !bytes.HasSuffix(t, []byte("/")) {
			t = append(t, '/')
		}
		switch {
		case f&0x02 != 0:
			t = append(t, '.')
		case f&0x04 != 0:
			t = append(t, ".."...)
		case f&0x08 != 0:
			t = append(t[:0], '/')
		default:
			t = append(t, c...)
		}
		cont = f&0x01 != 0
	}
	return t, cont, nil
}

func recDate(b []byte) time.Time {
	if b[1] == 0 || b[2] == 0 {
		return time.Time{}
	}
	off := int(int8(b[6])) * 15 * 60
	return time.Date(1900+int(b[0]), time.Month(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]), 0,
		time.FixedZone("", off)).UTC()
}

// vdDate parses a 17-byte volume descriptor date ("YYYYMMDDHHMMSScc" and a zone byte).
func vdDate(b []byte) time.Time {
	var v [7]int
	widths := []int{4, 2, 2, 2, 2, 2, 2}
	o := 0
	for i, w := range widths {
		for _, c := range b[o : o+w] {
			if c < '0' || c > '9' {
				return time.Time{}
			}
			v[i] = v[i]*10 + int(c-'0')
		}
		o += w
	}
	if v[0] == 0 {
		return time.Time{}
	}
	off := int(int8(b[16])) * 15 * 60
	return time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6]*1e7, time.FixedZone("", off)).UTC()
}
