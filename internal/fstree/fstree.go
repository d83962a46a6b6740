// Package fstree is the read-only io/fs.FS that airlock's filesystem readers (FAT in media, ISO
// 9660 in internal/iso9660) build: the readers validate the whole on-disk structure first and
// produce a tree of nodes whose file data are extents of the underlying device, so that walking
// the FS never touches unvalidated metadata again.
package fstree

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Extent is a run of file bytes at Off in the device.
type Extent struct {
	Off, Len int64
}

// Node is one file or directory.
type Node struct {
	Name string
	Dir  bool
	Size int64 // regular files: the sum of the extents' lengths
	// Mode is what Stat reports, type bits included (a reader that knows modes, such as Rock
	// Ridge, sets it); 0 reports 0444, or fs.ModeDir|0555 for a directory.
	Mode     fs.FileMode
	ModTime  time.Time
	Extents  []Extent
	Children []*Node // directories: sorted by name after Sort
	Sys      any     // the reader's own record of the entry, returned by FileInfo.Sys
}

// CheckName reports why name is not acceptable as one path element of a hostile medium: empty,
// "." or "..", a slash or backslash, NUL or another control character, or invalid UTF-8.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case name == "." || name == "..":
		return fmt.Errorf("name %q", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not UTF-8", name)
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("name %q contains %q", name, r)
		}
	}
	return nil
}

// Sort orders every directory's children by name and reports the first duplicate name (which
// would make paths ambiguous) as an error naming the directory.
func (n *Node) Sort(where string) error {
	if !n.Dir {
		return nil
	}
	sort.Slice(n.Children, func(i, j int) bool { return n.Children[i].Name < n.Children[j].Name })
	for i := 1; i < len(n.Children); i++ {
		if n.Children[i].Name == n.Children[i-1].Name {
			return fmt.Errorf("duplicate name %q in %s", n.Children[i].Name, where)
		}
	}
	for _, c := range n.Children {
		if err := c.Sort(path.Join(where, c.Name)); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) child(name string) *Node {
	i := sort.Search(len(n.Children), func(i int) bool { return n.Children[i].Name >= name })
	if i < len(n.Children) && n.Children[i].Name == name {
		return n.Children[i]
	}
	return nil
}

// FS serves a validated tree whose extents are read from R.
type FS struct {
	R    io.ReaderAt
	Root *Node
}

var (
	_ fs.ReadDirFS = (*FS)(nil)
	_ fs.StatFS    = (*FS)(nil)
)

func (f *FS) lookup(op, name string) (*Node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n := f.Root
	if name == "." {
		return n, nil
	}
	for _, el := range strings.Split(name, "/") {
		if !n.Dir {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if n = n.child(el); n == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
	}
	return n, nil
}

// Open opens the named file or directory.
func (f *FS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.Dir {
		return &dir{n: n}, nil
	}
	return &File{n: n, r: f.R}, nil
}

// Stat describes the named file.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

// ReadDir lists the named directory in name order.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	out := make([]fs.DirEntry, len(n.Children))
	for i, c := range n.Children {
		out[i] = fs.FileInfoToDirEntry(info{c})
	}
	return out, nil
}

type info struct{ n *Node }

func (i info) Name() string {
	if i.n.Name == "" {
		return "."
	}
	return i.n.Name
}
func (i info) Size() int64 { return i.n.Size }
func (i info) Mode() fs.FileMode {
	switch {
	case i.n.Mode != 0:
		return i.n.Mode
	case i.n.Dir:
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i info) ModTime() time.Time { return i.n.ModTime }
func (i info) IsDir() bool        { return i.n.Dir }
func (i info) Sys() any           { return i.n.Sys }

type dir struct {
	n   *Node
	pos int
}

func (d *dir) Stat() (fs.FileInfo, error) { return info{d.n}, nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.n.Name, Err: errors.New("is a directory")}
}
func (d *dir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *dir) ReadDir(count int) ([]fs.DirEntry, error) {
	rest := d.n.Children[d.pos:]
	if count > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if count > 0 && count < len(rest) {
		rest = rest[:count]
	}
	d.pos += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, c := range rest {
		out[i] = fs.FileInfoToDirEntry(info{c})
	}
	return out, nil
}

// File is an open regular file; it also implements io.ReaderAt and io.Seeker.
type File struct {
	n      *Node
	r      io.ReaderAt
	off    int64
	starts []int64 // file offset of each extent, built on the first read
}

// Stat describes the file.
func (f *File) Stat() (fs.FileInfo, error) { return info{f.n}, nil }

// Close does nothing: the device is closed by whoever opened the FS.
func (f *File) Close() error { return nil }

// Read reads the next bytes of the file.
func (f *File) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek sets the offset of the next Read.
func (f *File) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += f.off
	case io.SeekEnd:
		off += f.n.Size
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.n.Name, Err: fs.ErrInvalid}
	}
	f.off = off
	return off, nil
}

// ReadAt reads len(p) bytes at off of the file, mapping them through its extents.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.n.Name, Err: fs.ErrInvalid}
	}
	if off >= f.n.Size {
		return 0, io.EOF
	}
	short := false // p reaches past the end of the file
	if rem := f.n.Size - off; int64(len(p)) > rem {
		p, short = p[:rem], true
	}
	total := 0
	// Find the extent holding off by binary search over the extents' file offsets (a badly
	// fragmented FAT file has one extent per cluster).
	if f.starts == nil {
		f.starts = make([]int64, len(f.n.Extents))
		pos := int64(0)
		for i, e := range f.n.Extents {
			f.starts[i] = pos
			pos += e.Len
		}
	}
	k := sort.Search(len(f.starts), func(i int) bool { return f.starts[i] > off }) - 1
	if k < 0 {
		k = 0
	}
	pos := int64(0)
	if k < len(f.starts) {
		pos = f.starts[k]
	}
	for _, e := range f.n.Extents[k:] {
		if len(p) == 0 {
			break
		}
		if off >= pos+e.Len {
			pos += e.Len
			continue
		}
		in := off - pos
		n := e.Len - in
		if n > int64(len(p)) {
			n = int64(len(p))
		}
		m, err := f.r.ReadAt(p[:n], e.Off+in)
		total += m
		if m < int(n) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, &fs.PathError{Op: "read", Path: f.n.Name, Err: err}
		}
		p = p[n:]
		off += n
		pos += e.Len
	}
	if len(p) > 0 {
		return total, &fs.PathError{Op: "read", Path: f.n.Name, Err: io.ErrUnexpectedEOF}
	}
	if short {
		return total, io.EOF
	}
	return total, nil // a read that fills p is not an error, even when it ends at the end
}

// Append adds a run to a list of extents, merging it with the last one when contiguous.
func Append(ext []Extent, off, n int64) []Extent {
	if k := len(ext); k > 0 && ext[k-1].Off+ext[k-1].Len == off {
		ext[k-1].Len += n
		return ext
	}
	return append(ext, Extent{Off: off, Len: n})
}
