package burner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/airlock-appliance/airlock/internal/iso9660"
)

// SectorSize is the ISO9660 logical block size used by every image this package writes.
const SectorSize = 2048

// maxExtent is the largest extent one directory record may describe: the largest multiple of
// the sector size that fits the 32-bit data length. Larger files are split into several
// consecutive records (ECMA-119 level 3 "multi-extent" files).
const maxExtent = 0xFFFFF800

// MaxNameLen is the longest path component accepted, in bytes (Linux NAME_MAX; Rock Ridge NM
// carries it whole).
const MaxNameLen = 255

// Errors a caller may branch on.
var (
	// ErrBadPath reports a file path that cannot go into an image (empty, absolute, "..",
	// NUL byte, component longer than MaxNameLen, invalid UTF-8).
	ErrBadPath = errors.New("invalid path for ISO image")
	// ErrBadName reports a name that a reader of the disc would show changed, or not at all, or
	// merged with another (see CheckName); it also matches ErrBadPath.
	ErrBadName = errors.New("name that ISO readers would change")
	// ErrDuplicate reports two entries with the same path, or a file where a directory is needed.
	ErrDuplicate = errors.New("duplicate path in ISO image")
	// ErrSizeMismatch reports a file whose opener produced more or fewer bytes than its declared
	// size; the image already written is then invalid.
	ErrSizeMismatch = errors.New("file size changed while writing image")
	// ErrTooLarge reports an image that would not fit ISO9660's 32-bit block addresses.
	ErrTooLarge = errors.New("ISO image too large")
)

// File is one entry of an image: a regular file (Open set) or a directory (Dir set; needed only
// for empty directories, parents are implied by the paths of their files).
type File struct {
	// Path is the slash-separated path in the image, without a leading slash ("bundle/a.nar").
	Path string
	// Dir marks an (empty) directory; Size and Open are then ignored.
	Dir bool
	// Size is the exact number of bytes Open's reader yields.
	Size int64
	// Open returns the file's contents. It is called once, while WriteTo writes the file's
	// extent; a reader that is also an io.Closer is closed afterwards.
	Open func() (io.Reader, error)
}

// Options are the inputs of an image besides its files. Both go into the bytes of the image.
type Options struct {
	// Label is the volume identifier; it is upper-cased and reduced to d-characters, at most 32.
	// Empty means "AIRLOCK".
	Label string
	// Epoch is the one time stamp of the image: every date in it. Zero means the Unix epoch.
	Epoch time.Time
	// Layout is the layout version to write (see Layouts); 0 means CurrentLayout. Verification
	// re-derives a disc with the version the disc records, so older discs still verify.
	Layout int
}

// node is one file or directory of the tree being laid out.
type node struct {
	name     string // Rock Ridge name (original bytes)
	id       string // ISO9660 identifier as recorded
	dir      bool
	parent   *node
	children []*node // in ECMA-119 order of id
	nsubdirs int

	size int64
	open func() (io.Reader, error)
	path string // full path in the image, for error messages

	lba     uint32 // first sector of the extent (files: of the first part)
	extSize uint32 // directories: bytes of the extent, a multiple of SectorSize
	number  uint16 // directories: path table number, 1 = root

	susp  []byte // this node's own record's system use field (without CE), set in layout
	cont  []byte // continuation area contents (NM entries), nil when everything fits inline
	ceLBA uint32
	ceOff uint32

	areaLBA   uint32 // directories: continuation area of the records in the directory
	areaSects uint32
}

// Layout is an image whose every extent and total size are fixed; WriteTo streams it.
type Layout struct {
	opts   Options
	label  string
	root   *node
	dirs   []*node // path table order
	files  []*node // data order
	erCont []byte  // root's continuation area: the ER entry

	ptSize     uint32 // path table bytes
	lPathLBA   uint32
	mPathLBA   uint32
	dataLBA    uint32
	totalSects uint32
}

// NewLayout lays out an image holding files. It checks paths, names every entry, and computes
// every extent; nothing is opened or read.
func NewLayout(files []File, opts Options) (*Layout, error) {
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Unix(0, 0)
	}
	opts.Epoch = opts.Epoch.UTC().Truncate(time.Second)
	if opts.Layout == 0 {
		opts.Layout = CurrentLayout
	}
	if !slices.Contains(Layouts, opts.Layout) {
		return nil, fmt.Errorf("iso layout: unknown layout version %d (known: %v): %w", opts.Layout, Layouts, ErrBadLayout)
	}
	if y := opts.Epoch.Year(); y < 1970 || y > 2155 {
		return nil, fmt.Errorf("iso layout: epoch %v outside 1970..2155 (directory record dates)", opts.Epoch)
	}
	l := &Layout{opts: opts, label: volumeID(opts.Label)}
	l.root = &node{dir: true, path: "/"}
	byPath := map[string]*node{"": l.root}
	for _, f := range files {
		if err := checkPath(f.Path); err != nil {
			return nil, err
		}
		if f.Size < 0 {
			return nil, fmt.Errorf("iso layout: %s: negative size %d: %w", f.Path, f.Size, ErrBadPath)
		}
		if !f.Dir && f.Open == nil {
			return nil, fmt.Errorf("iso layout: %s: no opener: %w", f.Path, ErrBadPath)
		}
		parent, err := l.mkdirs(byPath, path.Dir(f.Path))
		if err != nil {
			return nil, err
		}
		if old, ok := byPath[f.Path]; ok {
			if f.Dir && old.dir {
				continue
			}
			return nil, fmt.Errorf("iso layout: %s: %w", f.Path, ErrDuplicate)
		}
		n := &node{name: path.Base(f.Path), dir: f.Dir, parent: parent, path: f.Path}
		if !f.Dir {
			n.size, n.open = f.Size, f.Open
		}
		parent.children = append(parent.children, n)
		byPath[f.Path] = n
	}
	if err := l.compute(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Layout) mkdirs(byPath map[string]*node, dir string) (*node, error) {
	if dir == "." {
		dir = ""
	}
	if n, ok := byPath[dir]; ok {
		if !n.dir {
			return nil, fmt.Errorf("iso layout: %s is a file and a directory: %w", dir, ErrDuplicate)
		}
		return n, nil
	}
	parent, err := l.mkdirs(byPath, path.Dir(dir))
	if err != nil {
		return nil, err
	}
	n := &node{name: path.Base(dir), dir: true, parent: parent, path: dir}
	parent.children = append(parent.children, n)
	byPath[dir] = n
	return n, nil
}

func checkPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("iso layout: %q: %s: %w", p, why, ErrBadPath) }
	if p == "" || p == "." || strings.HasPrefix(p, "/") {
		return bad("empty or absolute")
	}
	if !utf8.ValidString(p) {
		return bad("not UTF-8")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return bad("NUL byte")
	}
	for _, c := range strings.Split(p, "/") {
		switch {
		case c == "" || c == "." || c == "..":
			return bad("empty, . or .. component")
		case len(c) > MaxNameLen:
			return bad(fmt.Sprintf("component longer than %d bytes", MaxNameLen))
		}
		if why := nameProblem(c); why != "" {
			return fmt.Errorf("iso layout: %q: %s: %w (%w)", p, why, ErrBadName, ErrBadPath)
		}
	}
	return nil
}

// CheckName reports (with ErrBadName, naming the path) a path whose names would not read back
// identically from a disc in every reader on the high side: xorriso, bsdtar (libarchive), 7-Zip,
// isoinfo -R and the Linux kernel's isofs, and airlock's own reader. Tested with those readers
// (TestNamesReadBack):
//
//   - a trailing '.' ("a.txt.", "dots..", "..."): 7-Zip drops one, so "a.txt." lands on "a.txt";
//   - ';' followed by digits at the end ("semi;1", "x.;1"): 7-Zip takes it for an ISO 9660
//     version and drops it, so "semi;1" lands on "semi";
//   - control characters (C0, DEL, C1), '\' and invalid UTF-8: 7-Zip rewrites some ("nl\nx" is
//     listed as "nl_x"), and airlock's reader refuses them on any medium.
//
// Deliberately kept: names differing only in case ("Case" and "case") and names differing only
// in Unicode normalization (NFC "é" and NFD "e\u0301"). Every reader above is byte-exact and
// case-sensitive, so they stay two files; the high side is Linux. Copying such a tree onto a
// case-insensitive or normalizing file system is outside what a disc can promise, and refusing
// them would refuse ordinary source trees (Linux's own has case-only pairs).
func CheckName(p string) error { return checkPath(p) }

func nameProblem(c string) string {
	if err := iso9660.CheckName(c); err != nil {
		return err.Error()
	}
	if strings.HasSuffix(c, ".") {
		return "ends with '.', which 7-Zip drops"
	}
	if i := strings.LastIndexByte(c, ';'); i >= 0 && i < len(c)-1 && strings.Trim(c[i+1:], "0123456789") == "" {
		return "ends with ';' and digits, which 7-Zip drops as an ISO 9660 version"
	}
	return ""
}

// volumeID turns a label into a volume identifier (d-characters, at most 32).
func volumeID(label string) string {
	if label == "" {
		return "AIRLOCK"
	}
	id := dchars(label, false)
	if len(id) > 32 {
		id = id[:32]
	}
	return id
}

// compute names, orders and places everything.
func (l *Layout) compute() error {
	// Name children in byte order of their names, then order records as ECMA-119 wants.
	var walk func(d *node)
	walk = func(d *node) {
		slices.SortFunc(d.children, func(a, b *node) int { return strings.Compare(a.name, b.name) })
		names := make([]string, len(d.children))
		for i, c := range d.children {
			names[i] = c.name
		}
		nm := newISONamer(names...)
		for _, c := range d.children {
			c.id = nm.name(c.name, c.dir)
			if c.dir {
				d.nsubdirs++
			}
		}
		slices.SortFunc(d.children, func(a, b *node) int { return compareID(a.id, b.id) })
		for _, c := range d.children {
			if c.dir {
				walk(c)
			}
		}
	}
	walk(l.root)

	// Path table order: breadth first, children in record order (ECMA-119 6.9.1).
	l.dirs = []*node{l.root}
	for i := 0; i < len(l.dirs); i++ {
		if len(l.dirs) > 0xFFFF {
			return fmt.Errorf("iso layout: more than 65535 directories: %w", ErrTooLarge)
		}
		d := l.dirs[i]
		d.number = uint16(i + 1)
		for _, c := range d.children {
			if c.dir {
				l.dirs = append(l.dirs, c)
			} else {
				l.files = append(l.files, c)
			}
		}
	}
	// Files in data order: depth first by path, so a tree's files lie together on the disc.
	slices.SortFunc(l.files, func(a, b *node) int { return cmp.Compare(a.path, b.path) })

	// System use fields and continuation areas.
	l.erCont = erEntry()
	for _, d := range l.dirs {
		for _, c := range d.children {
			l.suspFor(c)
		}
	}

	// Sizes of path tables and directory extents.
	var pt uint64
	for _, d := range l.dirs {
		n := uint64(8 + len(ptIdent(d)))
		pt += n + n%2
	}
	if pt > 0xFFFFFFFF {
		return fmt.Errorf("iso layout: path table too large: %w", ErrTooLarge)
	}
	l.ptSize = uint32(pt)
	ptSects := sectors(uint64(l.ptSize))
	lba := uint64(18) // 16 PVD, 17 terminator
	l.lPathLBA = uint32(lba)
	lba += ptSects
	l.mPathLBA = uint32(lba)
	lba += ptSects
	// Each directory's extent is followed by the continuation areas of its records, packed
	// without crossing sector boundaries (Linux requires that). This is xorriso's order, and
	// libarchive needs it: it reads an image as a stream, accepts a CE only ahead of the record
	// that points to it, and must have read a directory's whole name before that directory.
	for _, d := range l.dirs {
		sz := l.dirExtentSize(d)
		if sz > maxExtent {
			return fmt.Errorf("iso layout: directory %s too large: %w", d.path, ErrTooLarge)
		}
		d.lba, d.extSize = uint32(lba), uint32(sz)
		lba += sz / SectorSize
		d.areaLBA = uint32(lba)
		var off uint64
		place := func(n int) (uint32, uint32) {
			if off%SectorSize+uint64(n) > SectorSize {
				off = sectors(off) * SectorSize
			}
			blk, o := uint32(lba+off/SectorSize), uint32(off%SectorSize)
			off += uint64(n)
			return blk, o
		}
		if d == l.root {
			d.ceLBA, d.ceOff = place(len(l.erCont))
		}
		for _, c := range d.children {
			if c.cont != nil {
				c.ceLBA, c.ceOff = place(len(c.cont))
			}
		}
		d.areaSects = uint32(sectors(off))
		lba += uint64(d.areaSects)
	}
	l.dataLBA = uint32(lba)
	for _, f := range l.files {
		if f.size == 0 {
			f.lba = 0
			continue
		}
		if lba > 0xFFFFFFFF {
			return fmt.Errorf("iso layout: %w", ErrTooLarge)
		}
		f.lba = uint32(lba)
		lba += sectors(uint64(f.size))
	}
	if lba > 0xFFFFFFFF {
		return fmt.Errorf("iso layout: %d sectors: %w", lba, ErrTooLarge)
	}
	l.totalSects = uint32(lba)
	return nil
}

func sectors(n uint64) uint64 { return (n + SectorSize - 1) / SectorSize }

// Size is the exact number of bytes WriteTo writes.
func (l *Layout) Size() int64 { return int64(l.totalSects) * SectorSize }

// Label is the volume identifier recorded in the image.
func (l *Layout) Label() string { return l.label }

// parts returns the extents of a file: (lba, length) pairs, every one but the last maxExtent long.
func parts(f *node) [][2]uint64 {
	if f.size == 0 {
		return [][2]uint64{{0, 0}}
	}
	var ps [][2]uint64
	lba, left := uint64(f.lba), uint64(f.size)
	for left > 0 {
		n := min(left, maxExtent)
		ps = append(ps, [2]uint64{lba, n})
		lba += n / SectorSize
		left -= n
	}
	return ps
}

// dirExtentSize lays the records of d into sectors (a record never crosses a sector boundary).
func (l *Layout) dirExtentSize(d *node) uint64 {
	var off uint64
	add := func(n int) {
		if off%SectorSize+uint64(n) > SectorSize {
			off = sectors(off) * SectorSize
		}
		off += uint64(n)
	}
	add(l.dotLen(d, true))
	add(l.dotLen(d, false))
	for _, c := range d.children {
		n := recLen(c)
		for range parts(c) {
			add(n)
		}
	}
	return sectors(off) * SectorSize
}

// WriteTo writes the whole image to w in one pass: exactly Size bytes.
func (l *Layout) WriteTo(w io.Writer) (int64, error) { return l.Write(context.Background(), w) }

// Write is WriteTo with cancellation, checked between files and between chunks of a file.
func (l *Layout) Write(ctx context.Context, w io.Writer) (int64, error) {
	sw := &sectorWriter{w: w}
	if err := l.writeMeta(sw); err != nil {
		return sw.n, err
	}
	buf := make([]byte, 1<<20)
	for _, f := range l.files {
		if err := ctx.Err(); err != nil {
			return sw.n, fmt.Errorf("iso write: %w", err)
		}
		if f.size == 0 {
			if err := l.checkEmpty(f); err != nil {
				return sw.n, err
			}
			continue
		}
		if want := int64(f.lba) * SectorSize; sw.n != want {
			return sw.n, fmt.Errorf("iso write: %s at byte %d, layout says %d (bug)", f.path, sw.n, want)
		}
		if err := l.writeFile(ctx, sw, f, buf); err != nil {
			return sw.n, err
		}
	}
	return sw.n, nil
}

// writeMeta writes everything before the first file's data: system area, descriptors, path
// tables, directories and their continuation areas.
func (l *Layout) writeMeta(sw *sectorWriter) error {
	sw.zero(16 * SectorSize)
	sw.write(l.pvd())
	term := make([]byte, SectorSize)
	term[0] = 255
	copy(term[1:], "CD001")
	term[6] = 1
	sw.write(term)
	sw.write(l.pathTable(false))
	sw.write(l.pathTable(true))
	for _, d := range l.dirs {
		sw.write(l.dirExtent(d))
		sw.write(l.contArea(d))
	}
	if sw.err != nil {
		return fmt.Errorf("iso write: %w", sw.err)
	}
	if want := int64(l.dataLBA) * SectorSize; sw.n != want {
		return fmt.Errorf("iso write: metadata is %d bytes, layout says %d (bug)", sw.n, want)
	}
	return nil
}

func (l *Layout) checkEmpty(f *node) error {
	r, err := f.open()
	if err != nil {
		return fmt.Errorf("iso write: open %s: %w", f.path, err)
	}
	defer closeReader(r)
	var b [1]byte
	if n, _ := io.ReadFull(r, b[:]); n > 0 {
		return fmt.Errorf("iso write: %s: longer than its declared size 0: %w", f.path, ErrSizeMismatch)
	}
	return nil
}

func closeReader(r io.Reader) {
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
}

func (l *Layout) writeFile(ctx context.Context, sw *sectorWriter, f *node, buf []byte) error {
	r, err := f.open()
	if err != nil {
		return fmt.Errorf("iso write: open %s: %w", f.path, err)
	}
	defer closeReader(r)
	left := f.size
	const chunk = 64 << 20
	for left > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("iso write: %s: %w", f.path, err)
		}
		n := min(left, chunk)
		var got int64
		if rf, ok := sw.w.(io.ReaderFrom); ok && sw.err == nil {
			// Lets *os.File to *os.File copies use copy_file_range / sendfile.
			got, err = rf.ReadFrom(io.LimitReader(r, n))
			sw.n += got
		} else {
			got, err = io.CopyBuffer(sw.w, io.LimitReader(r, n), buf)
			sw.n += got
		}
		if err != nil {
			return fmt.Errorf("iso write: %s: %w", f.path, err)
		}
		if got < n {
			return fmt.Errorf("iso write: %s: ended %d bytes before its declared size %d: %w",
				f.path, left-got, f.size, ErrSizeMismatch)
		}
		left -= got
	}
	var b [1]byte
	if n, _ := io.ReadFull(r, b[:]); n > 0 {
		return fmt.Errorf("iso write: %s: longer than its declared size %d: %w", f.path, f.size, ErrSizeMismatch)
	}
	if pad := (SectorSize - f.size%SectorSize) % SectorSize; pad > 0 {
		sw.zero(int(pad))
	}
	if sw.err != nil {
		return fmt.Errorf("iso write: %s: %w", f.path, sw.err)
	}
	return nil
}

// Stream returns the image as a reader, written by WriteTo in a goroutine: the form Drive.Burn
// and BurnImage take. Closing the reader early stops the writer.
func (l *Layout) Stream(ctx context.Context) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		_, err := l.Write(ctx, pw)
		pw.CloseWithError(err)
	}()
	return pr
}

// Source is Stream as an ImageSource.
func (l *Layout) Source() ImageSource {
	return func(ctx context.Context) (io.ReadCloser, error) { return l.Stream(ctx), nil }
}

// sectorWriter counts bytes and keeps the first error.
type sectorWriter struct {
	w   io.Writer
	n   int64
	err error
}

var zeros [SectorSize * 16]byte

func (s *sectorWriter) write(b []byte) {
	if s.err != nil {
		return
	}
	n, err := s.w.Write(b)
	s.n += int64(n)
	s.err = err
}

func (s *sectorWriter) zero(n int) {
	for n > 0 && s.err == nil {
		k := min(n, len(zeros))
		s.write(zeros[:k])
		n -= k
	}
}

// FromFS lays out every regular file and directory of fsys. Other file types (symlinks,
// devices) are refused: an image carries only what was read.
func FromFS(fsys fs.FS, opts Options) (*Layout, error) {
	var files []File
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		switch {
		case d.IsDir():
			files = append(files, File{Path: p, Dir: true})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, File{Path: p, Size: info.Size(), Open: func() (io.Reader, error) {
				return fsys.Open(p)
			}})
		default:
			return fmt.Errorf("iso layout: %s: not a regular file or directory (%v)", p, d.Type())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return NewLayout(files, opts)
}

// FromDir lays out the tree under dir on the local file system. os.DirFS opens files as *os.File,
// so writing the image to a file can still copy in the kernel.
func FromDir(dir string, opts Options) (*Layout, error) {
	l, err := FromFS(os.DirFS(dir), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return l, nil
}
