package burner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/airlock-appliance/airlock/internal/iso9660"
)

// Layout versions. The writer is deterministic, so verification re-derives a disc from its
// files and its own parameters and compares every byte; a change of the bytes the writer
// produces for the same input is a new layout version, and every released version stays here so
// that discs burned by an older airlock still verify.
//
// The version is recorded in the primary volume descriptor's application use field (ECMA-119
// 8.4.32, bytes 884-1395 of sector 16): "AIRLOCK LAYOUT <n>" followed by zero bytes. Layout 1,
// the images written before versioning, leaves that field all zero.
//
//	1  ECMA-119 level 3 + Rock Ridge 1.09 as described in the package doc, no marker
//	2  layout 1 with the marker
const CurrentLayout = 2

// Layouts lists every layout version this airlock writes and verifies.
var Layouts = []int{1, 2}

// appUseOff is the offset of the application use field in the primary volume descriptor.
const appUseOff = 883

const layoutPrefix = "AIRLOCK LAYOUT "

func layoutMark(v int) string { return layoutPrefix + strconv.Itoa(v) }

var (
	// ErrBadLayout reports a layout version this airlock does not know.
	ErrBadLayout = errors.New("unknown ISO layout version")
	// ErrNotWritten is wrapped by every refusal of an image that is well-formed ISO 9660 but not
	// byte for byte what airlock's writer produces from the files it holds (ImageDiffError).
	ErrNotWritten = errors.New("not an image airlock's writer produced")
)

// ImageDiffError is the first byte where an image differs from its re-derivation, and the
// structure of the re-derived image that byte belongs to.
type ImageDiffError struct {
	Image     string
	Layout    int
	Offset    int64  // first differing byte
	Structure string // what the writer puts there ("directory /bundle: record of x", ...)
	Detail    string // optional: why (a longer image, a read error)
}

func (e *ImageDiffError) Error() string {
	layout := "layout " + strconv.Itoa(e.Layout)
	if e.Layout == 0 {
		layout = "any layout"
	}
	s := fmt.Sprintf("%s: not what airlock's writer (%s) produces from its files: byte %d (%s) differs",
		e.Image, layout, e.Offset, e.Structure)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap makes errors.Is(err, ErrNotWritten) hold.
func (e *ImageDiffError) Unwrap() error { return ErrNotWritten }

// Checked is an image that CheckImage found to be exactly the writer's output.
type Checked struct {
	FS     fs.FS     // the files, read from the image (Rock Ridge tree)
	Layout int       // the layout version the image records
	Label  string    // volume identifier
	Epoch  time.Time // the image's one time stamp
	Size   int64     // bytes of the image
}

// CheckImage verifies that the size bytes at r are exactly the image airlock's writer produces
// from the files the image holds, with the image's own label, epoch and layout version: it
// parses the volume with the one ISO 9660 reader, lays the files out again, and compares every
// byte of the descriptors, path tables, directories and continuation areas in one streaming pass,
// the padding after every file, and the size. File data are compared by place: the re-derived
// directory records are the recorded ones, so every file's data is at the place the writer puts
// it, and their bytes are what the caller's hash check (sealing.Verify over Checked.FS) reads.
// Any other descriptor (a Joliet tree, an El Torito boot record), tree, record, session or
// sector is refused with an ImageDiffError naming the first differing byte. Bytes after the
// volume must be zero (a pseudo-drive's target file is larger than the image). name is used in
// errors.
func CheckImage(ctx context.Context, name string, r io.ReaderAt, size int64) (*Checked, error) {
	im, err := iso9660.Open(ctx, name, r, size, nil)
	if err != nil {
		return nil, err
	}
	// Descriptors the writer never writes (it writes a primary descriptor at 16 and the
	// terminator at 17) are named in every refusal, after the first differing byte.
	var extra []string
	for _, d := range im.Descriptors {
		switch {
		case d.Type == 0 && im.Boot:
			extra = append(extra, fmt.Sprintf("an El Torito boot record at sector %d (firmware would boot its image)", d.Sector))
		case d.Type == 2 && im.Joliet != nil:
			extra = append(extra, fmt.Sprintf("a Joliet descriptor at sector %d (Joliet readers show its tree)", d.Sector))
		case d.Type != 255 && d.Sector != 16:
			extra = append(extra, fmt.Sprintf("a volume descriptor of type %d at sector %d", d.Type, d.Sector))
		}
	}
	diff := func(layout int, off int64, what, detail string) error {
		if len(extra) > 0 {
			if detail != "" {
				detail += "; "
			}
			detail += "the image carries " + strings.Join(extra, ", ")
		}
		return &ImageDiffError{Image: name, Layout: layout, Offset: off, Structure: what, Detail: detail}
	}
	version, err := parseLayoutMark(im.PVD[appUseOff : appUseOff+512])
	if err != nil {
		return nil, diff(0, 16*SectorSize+appUseOff, "primary volume descriptor: application use (layout version)", err.Error())
	}
	files, err := fileSet(im)
	if err != nil {
		return nil, diff(version, 0, "file set", err.Error())
	}
	l, err := NewLayout(files, Options{Label: im.Label, Epoch: im.Created, Layout: version})
	if err != nil {
		return nil, diff(version, 0, "file set", err.Error())
	}
	cw := &cmpWriter{ctx: ctx, r: r, size: size}
	sw := &sectorWriter{w: cw}
	if err := l.writeMeta(sw); err != nil && cw.diff < 0 {
		return nil, fmt.Errorf("%s: re-derive layout: %w", name, err)
	}
	if cw.diff >= 0 {
		return nil, diff(version, cw.diff, l.structureAt(cw.diff), cw.detail)
	}
	// The padding after every file's last byte.
	var pad [SectorSize]byte
	for _, f := range l.files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := (SectorSize - f.size%SectorSize) % SectorSize
		if f.size == 0 || n == 0 {
			continue
		}
		off := int64(f.lba)*SectorSize + f.size
		if _, err := readFullAt(r, pad[:n], off); err != nil {
			return nil, diff(version, off, l.structureAt(off), err.Error())
		}
		for i, c := range pad[:n] {
			if c != 0 {
				return nil, diff(version, off+int64(i), l.structureAt(off+int64(i)), "not zero")
			}
		}
	}
	if size < l.Size() {
		return nil, diff(version, size, l.structureAt(size),
			fmt.Sprintf("the image has %d bytes, the writer %d", size, l.Size()))
	}
	// Bytes after the volume (a stdio: pseudo-drive's target, a stick holding an image) may
	// only be zero: nothing points there, and zeros carry nothing.
	if off, err := firstNonZero(ctx, r, l.Size(), size); err != nil || off >= 0 {
		detail := "not zero"
		if err != nil {
			off, detail = max(off, l.Size()), err.Error()
		}
		return nil, diff(version, off, l.structureAt(off), detail)
	}
	return &Checked{FS: im.FS(), Layout: version, Label: im.Label, Epoch: im.Created, Size: size}, nil
}

// firstNonZero returns the offset of the first non-zero byte of r in [from, to), or -1.
func firstNonZero(ctx context.Context, r io.ReaderAt, from, to int64) (int64, error) {
	buf := make([]byte, 1<<20)
	for off := from; off < to; {
		if err := ctx.Err(); err != nil {
			return off, err
		}
		b := buf[:min(int64(len(buf)), to-off)]
		if _, err := readFullAt(r, b, off); err != nil {
			return off, err
		}
		for i, c := range b {
			if c != 0 {
				return off + int64(i), nil
			}
		}
		off += int64(len(b))
	}
	return -1, nil
}

func readFullAt(r io.ReaderAt, b []byte, off int64) (int, error) {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// parseLayoutMark reads the layout version from the application use field.
func parseLayoutMark(b []byte) (int, error) {
	end := bytes.IndexByte(b, 0)
	if end < 0 {
		end = len(b)
	}
	if bytes.ContainsFunc(b[end:], func(r rune) bool { return r != 0 }) {
		return 0, fmt.Errorf("%.40q is not an airlock layout mark", b)
	}
	if end == 0 {
		return 1, nil
	}
	s := string(b[:end])
	v, err := strconv.Atoi(strings.TrimPrefix(s, layoutPrefix))
	if !strings.HasPrefix(s, layoutPrefix) || err != nil || v < 2 || layoutMark(v) != s {
		return 0, fmt.Errorf("%.40q is not an airlock layout mark", s)
	}
	for _, k := range Layouts {
		if k == v {
			return v, nil
		}
	}
	return 0, fmt.Errorf("layout %d: %w", v, ErrBadLayout)
}

// fileSet lists the image's files (opened from the image) and empty directories.
func fileSet(im *iso9660.Image) ([]File, error) {
	var files []File
	fsys := im.FS()
	var walk func(n *iso9660.Node, p string) error
	walk = func(n *iso9660.Node, p string) error {
		if n.Symlink {
			return fmt.Errorf("%s: a symbolic link (the writer writes none)", p)
		}
		if !n.Dir {
			name := p
			files = append(files, File{Path: p, Size: n.Size, Open: func() (io.Reader, error) { return fsys.Open(name) }})
			return nil
		}
		if len(n.Children) == 0 && p != "" {
			files = append(files, File{Path: p, Dir: true})
		}
		for _, c := range n.Children {
			if err := walk(c, path.Join(p, c.Name)); err != nil {
				return err
			}
		}
		return nil
	}
	return files, walk(im.Root, "")
}

// cmpWriter compares what is written with the bytes of r at the same offsets and records the
// first difference (then fails every write, stopping the writer).
type cmpWriter struct {
	ctx    context.Context
	r      io.ReaderAt
	size   int64
	off    int64
	buf    []byte
	diff   int64
	detail string
}

var errDiffers = errors.New("image differs")

func (c *cmpWriter) Write(p []byte) (int, error) {
	if c.off == 0 && c.buf == nil {
		c.diff = -1
		c.buf = make([]byte, 1<<20)
	}
	if c.diff >= 0 {
		return 0, errDiffers
	}
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	done := 0
	for len(p) > 0 {
		k := min(len(p), len(c.buf))
		b := c.buf[:k]
		n, err := readFullAt(c.r, b, c.off)
		for i := 0; i < n; i++ {
			if b[i] != p[i] {
				c.diff = c.off + int64(i)
				return done + i, errDiffers
			}
		}
		if err != nil {
			c.diff, c.detail = c.off+int64(n), "the image ends or cannot be read: "+err.Error()
			return done + n, errDiffers
		}
		c.off += int64(k)
		done += k
		p = p[k:]
	}
	return done, nil
}

// structureAt names the structure of the layout at byte off.
func (l *Layout) structureAt(off int64) string {
	sect := off / SectorSize
	in := off % SectorSize
	pts := int64(sectors(uint64(l.ptSize)))
	switch {
	case off >= l.Size():
		return "after the end of the volume (another session or appended data)"
	case sect < 16:
		return "system area (sectors 0-15, all zero: no partition table or boot code)"
	case sect == 16:
		return "primary volume descriptor: " + pvdField(in)
	case sect == 17:
		return "volume descriptor set terminator (where another descriptor, e.g. Joliet or El Torito, would be)"
	case sect >= int64(l.lPathLBA) && sect < int64(l.lPathLBA)+pts:
		return "L path table"
	case sect >= int64(l.mPathLBA) && sect < int64(l.mPathLBA)+pts:
		return "M path table"
	}
	for _, d := range l.dirs {
		start := int64(d.lba) * SectorSize
		if off >= start && off < start+int64(d.extSize) {
			return "directory /" + strings.TrimPrefix(d.path, "/") + ": " + l.recordAt(d, int(off-start))
		}
		as := int64(d.areaLBA) * SectorSize
		if off >= as && off < as+int64(d.areaSects)*SectorSize {
			return "Rock Ridge continuation area of the records in /" + strings.TrimPrefix(d.path, "/")
		}
	}
	for _, f := range l.files {
		start := int64(f.lba) * SectorSize
		if f.size > 0 && off >= start && off < start+int64(sectors(uint64(f.size)))*SectorSize {
			if off < start+f.size {
				return "data of /" + f.path
			}
			return "padding after the data of /" + f.path
		}
	}
	return "unallocated"
}

// recordAt names the directory record of d at byte off of its extent.
func (l *Layout) recordAt(d *node, off int) string {
	pos := 0
	at := func(n int, what string) (string, bool) {
		if pos%SectorSize+n > SectorSize {
			if off < (pos/SectorSize+1)*SectorSize && off >= pos {
				return "padding at the end of a sector", true
			}
			pos = (pos/SectorSize + 1) * SectorSize
		}
		if off >= pos && off < pos+n {
			return what, true
		}
		pos += n
		return "", false
	}
	if s, ok := at(l.dotLen(d, true), `record "."`); ok {
		return s
	}
	if s, ok := at(l.dotLen(d, false), `record ".."`); ok {
		return s
	}
	for _, c := range d.children {
		ps := parts(c)
		for i := range ps {
			what := "record of " + c.name
			if len(ps) > 1 {
				what += fmt.Sprintf(" (part %d of %d)", i+1, len(ps))
			}
			if s, ok := at(recLen(c), what); ok {
				return s
			}
		}
	}
	return "padding after the last record (where a hidden record would be)"
}

func pvdField(in int64) string {
	fields := []struct {
		end  int64
		name string
	}{
		{8, "header"}, {40, "system identifier"}, {72, "volume identifier"}, {80, "unused"},
		{88, "volume space size"}, {120, "unused (escape sequences of a supplementary descriptor)"},
		{132, "volume set size, sequence number, block size"}, {140, "path table size"},
		{156, "path table locations"}, {190, "root directory record"}, {318, "volume set identifier"},
		{702, "publisher, preparer and application identifiers"}, {813, "file identifiers"},
		{881, "dates"}, {883, "file structure version"}, {appUseOff + 512, "application use (layout version)"},
	}
	for _, f := range fields {
		if in < f.end {
			return f.name
		}
	}
	return "reserved"
}

// CheckDisc opens an image file or an optical disc device and runs CheckImage over it. An image
// file must be the image, followed by nothing but zeros; a block device is read up to the volume size its primary
// descriptor records (a medium may be larger than the image burned onto it), and a disc whose
// last session does not start at sector 0 (an appended session, which the kernel would mount
// instead) is refused. Close the returned file when done with the FS.
func CheckDisc(ctx context.Context, name string) (*Checked, io.Closer, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: size: %w", name, err)
	}
	if st.Mode()&fs.ModeDevice != 0 {
		vol, err := VolumeSize(f)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		if vol > size {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w: volume of %d bytes on a %d-byte medium", name, ErrBadImage, vol, size)
		}
		if lba, ok := lastSession(f); ok && lba != 0 {
			f.Close()
			return nil, nil, &ImageDiffError{Image: name, Offset: lba * SectorSize,
				Structure: "another session", Detail: fmt.Sprintf("the disc's last session starts at sector %d", lba)}
		}
		size = vol
	}
	c, err := CheckImage(ctx, name, f, size)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, f, nil
}
