package iso9660

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// FS returns the tree a Rock Ridge reader shows (Root) as a read-only fs.FS. Files read their
// extents from the image; symbolic links are listed with fs.ModeSymlink and read as empty.
func (im *Image) FS() fs.FS { return &treeFS{r: im.r, root: im.Root} }

// JolietFS returns the tree a Joliet reader shows, or nil when the image has none.
func (im *Image) JolietFS() fs.FS {
	if im.Joliet == nil {
		return nil
	}
	return &treeFS{r: im.r, root: im.Joliet}
}

// Lookup finds the node at a slash path ("." is the root) in the tree under root.
func Lookup(root *Node, name string) *Node {
	if name == "." {
		return root
	}
	n := root
	for _, c := range strings.Split(name, "/") {
		i, ok := slices.BinarySearchFunc(n.Children, c, func(x *Node, c string) int { return strings.Compare(x.Name, c) })
		if !ok {
			return nil
		}
		n = n.Children[i]
	}
	return n
}

type treeFS struct {
	r    io.ReaderAt
	root *Node
}

func (t *treeFS) lookup(op, name string) (*Node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n := Lookup(t.root, name)
	if n == nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// Open implements fs.FS.
func (t *treeFS) Open(name string) (fs.File, error) {
	n, err := t.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.Dir {
		return &dirFile{n: n}, nil
	}
	return &file{n: n, r: t.r}, nil
}

// Stat implements fs.StatFS.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := t.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

// ReadDir implements fs.ReadDirFS.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := t.lookup("readdir", name)
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
func (i info) Size() int64        { return i.n.Size }
func (i info) Mode() fs.FileMode  { return i.n.Mode }
func (i info) ModTime() time.Time { return i.n.ModTime }
func (i info) IsDir() bool        { return i.n.Dir }
func (i info) Sys() any           { return i.n }

type dirFile struct {
	n   *Node
	pos int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return info{d.n}, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.n.Name, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

// ReadDir lists the directory in name order, n entries at a time as fs.ReadDirFile specifies.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.n.Children[d.pos:]
	if n > 0 {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		rest = rest[:min(n, len(rest))]
	}
	d.pos += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, c := range rest {
		out[i] = fs.FileInfoToDirEntry(info{c})
	}
	return out, nil
}

// file reads a file's extents as one stream; it is also an io.ReaderAt and io.Seeker.
type file struct {
	n   *Node
	r   io.ReaderAt
	pos int64
}

func (f *file) Stat() (fs.FileInfo, error) { return info{f.n}, nil }
func (f *file) Close() error               { return nil }

func (f *file) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads from the file's extents at off.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	total, base := 0, int64(0)
	for _, x := range f.n.Extents {
		if len(p) == 0 {
			break
		}
		if off < base+x.Len {
			in := off - base
			k := min(int64(len(p)), x.Len-in)
			n, err := f.r.ReadAt(p[:k], x.Off+in)
			total += n
			if err != nil && !(err == io.EOF && int64(n) == k) {
				return total, err
			}
			p, off = p[k:], off+k
		}
		base += x.Len
	}
	if len(p) > 0 {
		return total, io.EOF
	}
	return total, nil
}

// Seek implements io.Seeker.
func (f *file) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.n.Size
	default:
		return 0, errors.New("bad whence")
	}
	if offset < 0 {
		return 0, errors.New("negative position")
	}
	f.pos = offset
	return offset, nil
}

// CheckJoliet reports the first file a Joliet reader would show whose data is not the data of a
// file in Root (same extents), so a caller that scanned Root knows it saw everything.
func (im *Image) CheckJoliet() error {
	if im.Joliet == nil {
		return nil
	}
	have := map[string]bool{}
	key := func(n *Node) string { return fmt.Sprint(n.Extents) }
	var add func(n *Node)
	add = func(n *Node) {
		for _, c := range n.Children {
			if c.Dir {
				add(c)
			} else if c.Size > 0 {
				have[key(c)] = true
			}
		}
	}
	add(im.Root)
	var check func(n *Node, where string) error
	check = func(n *Node, where string) error {
		for _, c := range n.Children {
			p := where + "/" + c.Name
			if c.Dir {
				if err := check(c, p); err != nil {
					return err
				}
			} else if c.Size > 0 && !have[key(c)] {
				return &Error{Image: im.Name, Reason: "Joliet file " + p + " holds data no Rock Ridge file holds"}
			}
		}
		return nil
	}
	return check(im.Joliet, "")
}
