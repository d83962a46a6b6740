package burner

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/airlock-appliance/airlock/internal/iso9660"
)

// ErrBadImage is wrapped by every error about malformed ISO9660 bytes (it is iso9660.ErrBad, the
// one reader's sentinel).
var ErrBadImage = iso9660.ErrBad

// OpenISO reads the ISO9660 image (or disc) in r, size bytes long, as a read-only file system,
// without mounting it, through airlock's one ISO 9660 reader (internal/iso9660): Rock Ridge names
// when present, else Joliet, else ISO9660 names. The whole volume is validated first (bounds,
// loops, overlapping extents, duplicate names); see package iso9660.
func OpenISO(r io.ReaderAt, size int64) (fs.FS, error) {
	im, err := iso9660.Open(context.Background(), "image", r, size, nil)
	if err != nil {
		return nil, err
	}
	if !im.RockRidge && im.Joliet != nil {
		return im.JolietFS(), nil
	}
	return im.FS(), nil
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
		return 0, fmt.Errorf("%w: sector 16 is not a primary volume descriptor", ErrBadImage)
	}
	if bs := binary.LittleEndian.Uint16(pvd[128:]); bs != SectorSize {
		return 0, fmt.Errorf("%w: logical block size %d, only %d supported", ErrBadImage, bs, SectorSize)
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
	im, err := iso9660.Open(context.Background(), path, f, size, nil)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	fsys := im.FS()
	if !im.RockRidge && im.Joliet != nil {
		fsys = im.JolietFS()
	}
	return fsys, f, nil
}
