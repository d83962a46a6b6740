package burner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Bounds of the reader. An image is hostile until proven otherwise (a disc from the other side):
// every length and address read from it is checked against these and against the image size.
const (
	maxVolumeDescriptors = 64       // sectors scanned from 16 for the descriptor set terminator
	maxDirBytes          = 32 << 20 // one directory extent
	maxExtentsPerFile    = 4096     // multi-extent parts of one file (16 TiB)
	maxCEHops            = 32       // continuation areas chained from one record
	maxContBytes         = 8192     // one continuation area
	maxRRName            = 1024     // a Rock Ridge name assembled from NM entries
	maxDepth             = 128      // path components of a name passed to Open
	maxCachedEntries     = 1 << 16  // directory entries kept parsed in memory (hostile names: up to 1 KiB each)
)

// ErrBadImage is wrapped by every error about malformed ISO9660 bytes.
var ErrBadImage = errors.New("malformed ISO9660 image")

type extent struct {
	off  int64 // byte offset in the image
	size int64
}

// isoEntry is one directory record (or the records of one multi-extent file) as parsed.
type isoEntry struct {
	name    string
	dir     bool
	symlink bool
	mode    fs.FileMode
	mtime   time.Time
	size    int64
	extents []extent
}

// isoFS is the fs.FS of an ISO9660 image: Rock Ridge names and modes when the image has them,
// else Joliet names, else the plain ISO9660 names (";1" and a trailing "." removed).
type isoFS struct {
	r      io.ReaderAt
	size   int64
	label  string
	root   *isoEntry
	rr     bool // Rock Ridge in use
	skip   int  // SUSP bytes to skip at the start of each system use field (SP LEN_SKP)
	jol    bool // names are Joliet UCS-2
	mu     sync.Mutex
	cache  map[int64][]*isoEntry // directory extent offset -> entries
	owner  map[int64]string      // directory extent offset -> the one path that may reference it
	ncache int
}

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadImage, fmt.Sprintf(format, args...))
}

// OpenISO reads the ISO9660 image (or disc) in r, size bytes long, as a read-only file system,
// without mounting it. It understands Rock Ridge (NM with continuation areas, PX, TF), Joliet,
// and multi-extent files. Names are checked: a directory holding two entries of one name, a name
// with '/' or NUL, or a directory referenced from two places is an error, so every reader of the
// result sees the same single tree.
func OpenISO(r io.ReaderAt, size int64) (fs.FS, error) {
	if size < 17*SectorSize {
		return nil, badf("%d bytes is too small for a volume descriptor", size)
	}
	f := &isoFS{r: r, size: size, cache: map[int64][]*isoEntry{}, owner: map[int64]string{}}
	var pvd, joliet []byte
	sect := make([]byte, SectorSize)
	for i := int64(16); i < 16+maxVolumeDescriptors; i++ {
		if (i+1)*SectorSize > size {
			return nil, badf("no volume descriptor set terminator before the end of the image")
		}
		if _, err := r.ReadAt(sect, i*SectorSize); err != nil {
			return nil, fmt.Errorf("read volume descriptor %d: %w", i, err)
		}
		if string(sect[1:6]) != "CD001" {
			return nil, badf("sector %d: no CD001 volume descriptor", i)
		}
		if sect[0] == 255 {
			break
		}
		switch {
		case sect[0] == 1 && pvd == nil:
			pvd = append([]byte(nil), sect...)
		case sect[0] == 2 && joliet == nil && sect[88] == '%' && sect[89] == '/' &&
			(sect[90] == '@' || sect[90] == 'C' || sect[90] == 'E'):
			joliet = append([]byte(nil), sect...)
		}
		if i == 16+maxVolumeDescriptors-1 {
			return nil, badf("more than %d volume descriptors", maxVolumeDescriptors)
		}
	}
	if pvd == nil {
		return nil, badf("no primary volume descriptor")
	}
	if bs := binary.LittleEndian.Uint16(pvd[128:]); bs != SectorSize {
		return nil, badf("logical block size %d, only %d supported", bs, SectorSize)
	}
	f.label = strings.TrimRight(string(pvd[40:72]), " ")
	root, err := f.rootEntry(pvd)
	if err != nil {
		return nil, err
	}
	f.root = root
	// Rock Ridge: the root's "." record starts with SP.
	if err := f.detectRR(); err != nil {
		return nil, err
	}
	if !f.rr && joliet != nil {
		jr, err := f.rootEntry(joliet)
		if err == nil {
			f.root, f.jol = jr, true
		}
	}
	f.owner[f.root.extents[0].off] = "."
	return f, nil
}

func (f *isoFS) rootEntry(vd []byte) (*isoEntry, error) {
	rec := vd[156:190]
	if rec[0] < 34 {
		return nil, badf("root directory record length %d", rec[0])
	}
	lba := int64(binary.LittleEndian.Uint32(rec[2:]))
	n := int64(binary.LittleEndian.Uint32(rec[10:]))
	if err := f.checkExtent(lba, n); err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	return &isoEntry{name: ".", dir: true, mode: fs.ModeDir | 0o555,
		extents: []extent{{lba * SectorSize, n}}, mtime: parseRecDate(rec[18:25])}, nil
}

func (f *isoFS) checkExtent(lba, n int64) error {
	if n < 0 || lba < 0 || lba*SectorSize+n > f.size || (n > 0 && lba*SectorSize >= f.size) {
		return badf("extent at sector %d, %d bytes, outside the %d-byte image", lba, n, f.size)
	}
	return nil
}

func (f *isoFS) detectRR() error {
	ext := f.root.extents[0]
	if ext.size < 34 {
		return badf("root directory of %d bytes", ext.size)
	}
	rec := make([]byte, 255)
	n := min(int64(255), ext.size)
	if _, err := f.r.ReadAt(rec[:n], ext.off); err != nil {
		return fmt.Errorf("read root directory: %w", err)
	}
	l := int(rec[0])
	if l < 34 || int64(l) > n || rec[32] != 1 {
		return badf("root directory's first record is not \".\"")
	}
	su := rec[34:l]
	if len(su) >= 7 && su[0] == 'S' && su[1] == 'P' && su[2] == 7 && su[4] == 0xBE && su[5] == 0xEF {
		f.rr, f.skip = true, int(su[6])
	}
	return nil
}

func parseRecDate(b []byte) time.Time {
	if len(b) < 7 || (b[1] == 0 && b[2] == 0) {
		return time.Time{}
	}
	off := int(int8(b[6])) * 15 * 60
	return time.Date(1900+int(b[0]), time.Month(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]), 0,
		time.FixedZone("", off)).UTC()
}

// readDir parses the directory whose extent is e; p is its path, for messages and ownership.
func (f *isoFS) readDir(p string, e *isoEntry) ([]*isoEntry, error) {
	ext := e.extents[0]
	f.mu.Lock()
	if ents, ok := f.cache[ext.off]; ok {
		f.mu.Unlock()
		return ents, nil
	}
	f.mu.Unlock()
	if ext.size > maxDirBytes {
		return nil, badf("%s: directory of %d bytes (limit %d)", p, ext.size, maxDirBytes)
	}
	buf := make([]byte, ext.size)
	if _, err := f.r.ReadAt(buf, ext.off); err != nil {
		return nil, fmt.Errorf("%s: read directory: %w", p, err)
	}
	var ents []*isoEntry
	seen := map[string]bool{}
	var pending *isoEntry // multi-extent file being assembled
	for off := 0; off < len(buf); {
		l := int(buf[off])
		if l == 0 { // rest of the sector is padding
			off = (off/SectorSize + 1) * SectorSize
			continue
		}
		if l < 34 || off%SectorSize+l > SectorSize || off+l > len(buf) {
			return nil, badf("%s: directory record at byte %d: length %d", p, off, l)
		}
		rec := buf[off : off+l]
		off += l
		idLen := int(rec[32])
		if 33+idLen > l {
			return nil, badf("%s: directory record identifier of %d bytes overruns its record", p, idLen)
		}
		id := rec[33 : 33+idLen]
		if idLen == 1 && (id[0] == 0 || id[0] == 1) {
			continue // "." and ".."
		}
		ent, hidden, err := f.parseRecord(p, rec, id)
		if err != nil {
			return nil, err
		}
		flags := rec[25]
		if pending != nil {
			if ent.name != pending.name || ent.dir {
				return nil, badf("%s: multi-extent file %q not followed by its next part", p, pending.name)
			}
			if len(pending.extents) >= maxExtentsPerFile {
				return nil, badf("%s/%s: more than %d extents", p, ent.name, maxExtentsPerFile)
			}
			pending.extents = append(pending.extents, ent.extents...)
			pending.size += ent.size
			if flags&0x80 != 0 {
				continue
			}
			ent, pending = pending, nil
		} else if flags&0x80 != 0 && !ent.dir {
			pending = ent
			continue
		}
		if hidden {
			continue
		}
		if seen[ent.name] {
			return nil, badf("%s: two entries named %q", p, ent.name)
		}
		seen[ent.name] = true
		ents = append(ents, ent)
	}
	if pending != nil {
		return nil, badf("%s: multi-extent file %q has no last part", p, pending.name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range ents {
		if !c.dir {
			continue
		}
		cp := path.Join(p, c.name)
		if o, ok := f.owner[c.extents[0].off]; ok && o != cp {
			return nil, badf("%s: directory extent at byte %d also belongs to %s (loop or shared directory)",
				cp, c.extents[0].off, o)
		}
		f.owner[c.extents[0].off] = cp
	}
	// Sorted by name: lookups binary-search, listings need no sorting.
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	if f.ncache+len(ents) <= maxCachedEntries {
		f.cache[ext.off] = ents
		f.ncache += len(ents)
	}
	return ents, nil
}

// parseRecord parses one directory record. hidden reports a Rock Ridge relocated directory (RE),
// which is shown at the place its CL entry points from instead.
func (f *isoFS) parseRecord(p string, rec, id []byte) (ent *isoEntry, hidden bool, err error) {
	lba := int64(binary.LittleEndian.Uint32(rec[2:]))
	n := int64(binary.LittleEndian.Uint32(rec[10:]))
	ent = &isoEntry{dir: rec[25]&2 != 0, mtime: parseRecDate(rec[18:25]), size: n}
	if ent.dir {
		ent.mode = fs.ModeDir | 0o555
	} else {
		ent.mode = 0o444
	}
	switch {
	case f.jol:
		if len(id)%2 != 0 {
			return nil, false, badf("%s: Joliet name of odd length", p)
		}
		u := make([]uint16, len(id)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(id[2*i:])
		}
		ent.name = string(utf16.Decode(u))
		if i := strings.LastIndexByte(ent.name, ';'); i >= 0 {
			ent.name = ent.name[:i]
		}
	default:
		name := string(id)
		if i := strings.LastIndexByte(name, ';'); i >= 0 && !ent.dir {
			name = name[:i]
		}
		if !ent.dir {
			name = strings.TrimSuffix(name, ".")
		}
		ent.name = name
	}
	if f.rr && !f.jol {
		var su []byte
		if b := baseLen(len(id)); b < len(rec) {
			su = rec[b:]
		}
		if err := f.parseSUSP(p, su, ent, &lba, &hidden); err != nil {
			return nil, false, err
		}
	}
	if err := checkName(ent.name); err != nil {
		return nil, false, badf("%s: entry name %q: %v", p, ent.name, err)
	}
	if ent.dir && ent.size == -1 {
		var dot [34]byte
		if err := f.checkExtent(lba, 34); err != nil {
			return nil, false, fmt.Errorf("%s/%s: child link: %w", p, ent.name, err)
		}
		if _, err := f.r.ReadAt(dot[:], lba*SectorSize); err != nil {
			return nil, false, fmt.Errorf("%s/%s: child link: %w", p, ent.name, err)
		}
		if dot[0] < 34 || dot[32] != 1 || dot[33] != 0 {
			return nil, false, badf("%s/%s: child link to sector %d, which holds no directory", p, ent.name, lba)
		}
		n = int64(binary.LittleEndian.Uint32(dot[10:]))
	}
	// The record's flags, not PX, say what is a directory: that is what every reader follows.
	if ent.dir {
		ent.size, ent.symlink = 0, false
		ent.mode = fs.ModeDir | ent.mode.Perm()
	} else if ent.mode&fs.ModeDir != 0 {
		ent.mode = ent.mode.Perm() | fs.ModeIrregular
	}
	if err := f.checkExtent(lba, n); err != nil {
		return nil, false, fmt.Errorf("%s/%s: %w", p, ent.name, err)
	}
	if ent.symlink {
		n = 0
	}
	ent.extents = []extent{{lba * SectorSize, n}}
	return ent, hidden, nil
}

// findEntry finds name in ents, which readDir sorted by name.
func findEntry(ents []*isoEntry, name string) *isoEntry {
	i := sort.Search(len(ents), func(i int) bool { return ents[i].name >= name })
	if i < len(ents) && ents[i].name == name {
		return ents[i]
	}
	return nil
}

func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errors.New("empty, dot or dot-dot")
	case strings.ContainsAny(name, "/\x00"):
		return errors.New("contains / or NUL")
	case len(name) > maxRRName:
		return errors.New("too long")
	case !utf8.ValidString(name):
		return errors.New("not UTF-8")
	}
	return nil
}

// parseSUSP reads the Rock Ridge entries of one record, following CE continuation areas.
func (f *isoFS) parseSUSP(p string, su []byte, ent *isoEntry, lba *int64, hidden *bool) error {
	if len(su) < f.skip {
		return nil
	}
	su = su[f.skip:]
	var name []byte
	haveNM, nmDone := false, false
	for hop := 0; ; hop++ {
		var ce []byte
		for len(su) >= 4 {
			sig, l := string(su[:2]), int(su[2])
			if l < 4 || l > len(su) {
				break // malformed tail: ignore, as readers do
			}
			e := su[:l]
			su = su[l:]
			switch sig {
			case "NM":
				if l < 5 || nmDone {
					continue
				}
				flags := e[4]
				if flags&0x06 != 0 { // CURRENT or PARENT: not a real name
					continue
				}
				haveNM = true
				name = append(name, e[5:]...)
				if len(name) > maxRRName {
					return badf("%s: Rock Ridge name longer than %d bytes", p, maxRRName)
				}
				if flags&1 == 0 {
					nmDone = true
				}
			case "PX":
				if l >= 36 {
					mode := binary.LittleEndian.Uint32(e[4:])
					ent.mode = fs.FileMode(mode & 0o777)
					switch mode & 0o170000 {
					case 0o040000:
						ent.mode |= fs.ModeDir
					case 0o120000:
						ent.mode |= fs.ModeSymlink
						ent.symlink = true
					case 0o100000:
					default:
						ent.mode |= fs.ModeIrregular
					}
				}
			case "TF":
				if l >= 5 {
					parseTF(e, ent)
				}
			case "CE":
				if l >= 28 {
					ce = e
				}
			case "CL":
				if l >= 12 {
					*lba = int64(binary.LittleEndian.Uint32(e[4:]))
					ent.dir, ent.size = true, -1 // size: from the relocated directory's "." record
				}
			case "RE":
				*hidden = true
			case "ST":
				su = nil
			}
		}
		if ce == nil {
			break
		}
		if hop >= maxCEHops {
			return badf("%s: more than %d continuation areas", p, maxCEHops)
		}
		cl := int64(binary.LittleEndian.Uint32(ce[4:]))
		co := int64(binary.LittleEndian.Uint32(ce[12:]))
		cn := int64(binary.LittleEndian.Uint32(ce[20:]))
		if cn > maxContBytes || co >= SectorSize {
			return badf("%s: continuation area of %d bytes at offset %d", p, cn, co)
		}
		if err := f.checkExtent(cl, co+cn); err != nil {
			return fmt.Errorf("%s: continuation area: %w", p, err)
		}
		su = make([]byte, cn)
		if _, err := f.r.ReadAt(su, cl*SectorSize+co); err != nil {
			return fmt.Errorf("%s: read continuation area: %w", p, err)
		}
	}
	if haveNM {
		ent.name = string(name)
	}
	return nil
}

// parseTF takes the modification time (or, failing that, creation time) from a TF entry.
func parseTF(e []byte, ent *isoEntry) {
	flags := e[4]
	sz := 7
	if flags&0x80 != 0 {
		sz = 17
	}
	off := 5
	for bit := 0; bit < 7; bit++ {
		if flags&(1<<bit) == 0 {
			continue
		}
		if off+sz > len(e) {
			return
		}
		if bit == 1 || (bit == 0 && ent.mtime.IsZero()) {
			if sz == 7 {
				if t := parseRecDate(e[off : off+7]); !t.IsZero() {
					ent.mtime = t
				}
			}
		}
		off += sz
	}
}

// lookup resolves a slash path from the root.
func (f *isoFS) lookup(op, name string) (*isoEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e := f.root
	if name == "." {
		return e, nil
	}
	parts := strings.Split(name, "/")
	if len(parts) > maxDepth {
		return nil, &fs.PathError{Op: op, Path: name, Err: badf("deeper than %d levels", maxDepth)}
	}
	cur := "."
	for _, c := range parts {
		if !e.dir {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		ents, err := f.readDir(cur, e)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		next := findEntry(ents, c)
		if next == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		e, cur = next, path.Join(cur, c)
	}
	return e, nil
}

// Open opens the named file or directory.
func (f *isoFS) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e.dir {
		ents, err := f.readDir(name, e)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &isoDir{e: e, ents: ents}, nil
	}
	return &isoFile{e: e, fsys: f}, nil
}

// ReadDir lists the named directory.
func (f *isoFS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !e.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	ents, err := f.readDir(name, e)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, len(ents))
	for i, x := range ents {
		out[i] = fs.FileInfoToDirEntry(info{x})
	}
	return out, nil
}

// Stat describes the named file.
func (f *isoFS) Stat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return info{e}, nil
}

type info struct{ e *isoEntry }

func (i info) Name() string       { return path.Base(i.e.name) }
func (i info) Size() int64        { return i.e.size }
func (i info) Mode() fs.FileMode  { return i.e.mode }
func (i info) ModTime() time.Time { return i.e.mtime }
func (i info) IsDir() bool        { return i.e.dir }
func (i info) Sys() any           { return nil }

type isoDir struct {
	e    *isoEntry
	ents []*isoEntry
	pos  int
}

func (d *isoDir) Stat() (fs.FileInfo, error) { return info{d.e}, nil }
func (d *isoDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.e.name, Err: errors.New("is a directory")}
}
func (d *isoDir) Close() error { return nil }

// ReadDir lists the directory in name order, n entries at a time as fs.ReadDirFile specifies.
func (d *isoDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := make([]fs.DirEntry, 0, len(d.ents)-d.pos)
	for _, x := range d.ents[d.pos:] {
		rest = append(rest, fs.FileInfoToDirEntry(info{x}))
	}
	if n <= 0 {
		d.pos = len(d.ents)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.pos += len(rest)
	return rest, nil
}

// isoFile reads a file's extents as one stream; it is also an io.ReaderAt and io.Seeker.
type isoFile struct {
	e    *isoEntry
	fsys *isoFS
	pos  int64
}

func (f *isoFile) Stat() (fs.FileInfo, error) { return info{f.e}, nil }
func (f *isoFile) Close() error               { return nil }

func (f *isoFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads from the file's extents at off.
func (f *isoFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	total := 0
	base := int64(0)
	for _, x := range f.e.extents {
		if len(p) == 0 {
			break
		}
		if off < base+x.size {
			in := off - base
			k := min(int64(len(p)), x.size-in)
			n, err := f.fsys.r.ReadAt(p[:k], x.off+in)
			total += n
			if err != nil && !(err == io.EOF && int64(n) == k) {
				return total, err
			}
			p, off = p[k:], off+k
		}
		base += x.size
	}
	if len(p) > 0 {
		return total, io.EOF
	}
	return total, nil
}

func (f *isoFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.e.size
	default:
		return 0, errors.New("bad whence")
	}
	if offset < 0 {
		return 0, errors.New("negative position")
	}
	f.pos = offset
	return offset, nil
}

// VolumeSize reads the volume space size recorded in the primary volume descriptor of the image
// or disc in r: the number of bytes the image occupies, which is what a read-back of a disc must
// read (a disc or its device may be larger than the image burned onto it).
func VolumeSize(r io.ReaderAt) (int64, error) {
	pvd := make([]byte, SectorSize)
	if _, err := r.ReadAt(pvd, 16*SectorSize); err != nil {
		return 0, fmt.Errorf("read primary volume descriptor: %w", err)
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return 0, badf("sector 16 is not a primary volume descriptor")
	}
	if bs := binary.LittleEndian.Uint16(pvd[128:]); bs != SectorSize {
		return 0, badf("logical block size %d, only %d supported", bs, SectorSize)
	}
	return int64(binary.LittleEndian.Uint32(pvd[80:])) * SectorSize, nil
}

// OpenFile opens an image file or a disc device read-only and returns its file system; close
// the returned file when done. The size used is the device's or file's, so a disc read through
// its device is bounded by the medium.
func OpenFile(path string) (fs.FS, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: size: %w", path, err)
	}
	fsys, err := OpenISO(f, size)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return fsys, f, nil
}
