// Package isofs presents ISO9660 volumes of hostile media as media's fstree.FS. The parsing and
// every bound live in airlock's one ISO 9660 reader, internal/iso9660; this package maps its
// refusals to media's error classes and refuses what would let another reader see more than
// airlock scans.
package isofs

import (
	"context"
	"errors"
	"io"

	"github.com/airlock-appliance/airlock/internal/fstree"
	"github.com/airlock-appliance/airlock/internal/iso9660"
	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
)

// Detect reports whether the volume at r carries an ISO9660 volume descriptor at sector 16.
func Detect(r io.ReaderAt) bool {
	b := make([]byte, 6)
	if _, err := r.ReadAt(b, 16*iso9660.SectorSize); err != nil {
		return false
	}
	return string(b[1:6]) == "CD001"
}

// Volume is a validated ISO9660 volume.
type Volume struct {
	Label     string
	RockRidge bool
	FS        *fstree.FS
}

// Open validates the ISO9660 volume of size bytes at r. Besides what iso9660.Open refuses, a
// volume is refused when a stock extractor would produce bytes its Rock Ridge tree does not hold
// (a Joliet file over other extents, an El Torito boot image that 7-Zip extracts) or would
// produce other bytes than the recorded ones (zisofs-compressed files, which Linux and xorriso
// decompress): airlock would not have scanned what the high side unpacks.
func Open(ctx context.Context, r io.ReaderAt, size int64) (*Volume, error) {
	im, err := iso9660.Open(ctx, "volume", r, size, nil)
	if err != nil {
		if errors.Is(err, iso9660.ErrBad) {
			return nil, mediaerr.Corrupt("%v", err)
		}
		return nil, err
	}
	if len(im.Compressed) > 0 {
		return nil, mediaerr.Unsupported("ISO9660 zisofs-compressed file /%s (not scanned as stored)", im.Compressed[0])
	}
	if im.Boot {
		return nil, mediaerr.Unsupported("ISO9660 El Torito boot image (extracted by 7-Zip, not a file of the tree)")
	}
	if err := im.CheckJoliet(); err != nil {
		return nil, mediaerr.Corrupt("%v", err)
	}
	return &Volume{Label: im.Label, RockRidge: im.RockRidge, FS: &fstree.FS{R: r, Root: convert(im.Root)}}, nil
}

// convert copies an iso9660 tree into a fstree.Node tree (symbolic links become empty files: they
// carry no data to scan).
func convert(n *iso9660.Node) *fstree.Node {
	t := &fstree.Node{Name: n.Name, Dir: n.Dir, ModTime: n.ModTime, Size: n.Size}
	if n.Symlink {
		t.Size = 0
	}
	for _, e := range n.Extents {
		if e.Len > 0 && !n.Symlink {
			t.Extents = append(t.Extents, fstree.Extent{Off: e.Off, Len: e.Len})
		}
	}
	for _, c := range n.Children {
		t.Children = append(t.Children, convert(c))
	}
	return t
}
