package iso9660

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/airlock-appliance/airlock/internal/fstree"
)

// FS returns the tree a Rock Ridge reader shows (Root) as a read-only fs.FS. Files read their
// extents from the image; symbolic links are listed with fs.ModeSymlink and read as empty.
// FileInfo.Sys is the *Node. (A file whose Rock Ridge mode is 0000 is listed as 0444.)
func (im *Image) FS() fs.FS { return &fstree.FS{R: im.r, Root: fsNode(im.Root)} }

// JolietFS returns the tree a Joliet reader shows, or nil when the image has none.
func (im *Image) JolietFS() fs.FS {
	if im.Joliet == nil {
		return nil
	}
	return &fstree.FS{R: im.r, Root: fsNode(im.Joliet)}
}

// fsNode copies the tree under n into fstree's nodes (sorted by name already, as Lookup needs).
func fsNode(n *Node) *fstree.Node {
	t := &fstree.Node{Name: n.Name, Dir: n.Dir, Size: n.Size, Mode: n.Mode, ModTime: n.ModTime, Sys: n}
	if len(n.Extents) > 0 {
		t.Extents = make([]fstree.Extent, len(n.Extents))
		for i, e := range n.Extents {
			t.Extents[i] = fstree.Extent{Off: e.Off, Len: e.Len}
		}
	}
	if len(n.Children) > 0 {
		t.Children = make([]*fstree.Node, len(n.Children))
		for i, c := range n.Children {
			t.Children[i] = fsNode(c)
		}
	}
	return t
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
