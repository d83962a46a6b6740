package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/airlock-appliance/airlock/internal/fstree"
	"github.com/airlock-appliance/airlock/media/internal/fat"
	"github.com/airlock-appliance/airlock/media/internal/isofs"
	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
	"github.com/airlock-appliance/airlock/media/internal/part"
)

// Volume describes one filesystem found on a medium.
type Volume struct {
	Partition int    // 1-based partition number; 0 for a whole-disk filesystem
	Start     int64  // byte offset on the medium
	Size      int64  // bytes
	Kind      string // "fat12", "fat16", "fat32", "iso9660"
	Label     string
	Dir       string // where its files appear in the Medium's FS: "." or "partN"
}

// Medium is a medium opened read-only, with its filesystems exposed as one io/fs.FS. With a single
// filesystem its root is the FS root; with several, each is a directory "partN" of the root.
type Medium struct {
	fs.FS
	Name    string // the device or image path
	Scheme  string // "none" (superfloppy), "mbr" or "gpt"
	Volumes []Volume
	closer  io.Closer
}

// Close closes the device.
func (m *Medium) Close() error {
	if m.closer == nil {
		return nil
	}
	return m.closer.Close()
}

// OpenFS opens dev (a block device or an image file) read-only and returns its files. On a block
// device it also sets the kernel's read-only flag (BLKROSET) before reading anything, so that
// nothing in the system writes to the stick while airlock reads it. Errors wrap ErrUnsupported,
// ErrNoFilesystem or ErrCorrupt when the content is refused.
func OpenFS(ctx context.Context, dev string) (fs.FS, io.Closer, error) {
	m, err := Open(ctx, dev)
	if err != nil {
		return nil, nil, err
	}
	return m, m, nil
}

// Open is OpenFS returning the Medium with its partition scheme and volumes.
func Open(ctx context.Context, dev string) (*Medium, error) {
	f, size, ssz, err := openReadOnly(dev, true)
	if err != nil {
		return nil, err
	}
	m, err := ReadFS(ctx, f, size, ssz)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", dev, err)
	}
	m.Name, m.closer = dev, f
	return m, nil
}

// openReadOnly opens dev O_RDONLY and returns its size and logical sector size (from the kernel for a
// block device). With setRO it also sets the kernel's read-only flag (BLKROSET) on a block device,
// so that nothing else writes a hostile stick while it is read. The size check before a wipe
// leaves it alone: the flag outlives the file descriptor and would make the wipe fail.
func openReadOnly(dev string, setRO bool) (*os.File, int64, int64, error) {
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, 0, err
	}
	if st.Mode()&os.ModeDevice == 0 {
		if !st.Mode().IsRegular() {
			f.Close()
			return nil, 0, 0, fmt.Errorf("%s: neither a block device nor a regular file", dev)
		}
		return f, st.Size(), 512, nil
	}
	fd := int(f.Fd())
	if setRO {
		if err := unix.IoctlSetPointerInt(fd, unix.BLKROSET, 1); err != nil {
			f.Close()
			return nil, 0, 0, fmt.Errorf("%s: set read-only (BLKROSET): %w", dev, err)
		}
	}
	size, ssz, err := blockSize(fd)
	if err != nil {
		f.Close()
		return nil, 0, 0, fmt.Errorf("%s: %w", dev, err)
	}
	return f, size, ssz, nil
}

func blockSize(fd int) (size, sector int64, err error) {
	var sz uint64
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKGETSIZE64, uintptrOf(&sz)); e != 0 {
		return 0, 0, fmt.Errorf("BLKGETSIZE64: %w", e)
	}
	ss, err := unix.IoctlGetInt(fd, unix.BLKSSZGET)
	if err != nil {
		return 0, 0, fmt.Errorf("BLKSSZGET: %w", err)
	}
	return int64(sz), int64(ss), nil
}

// ReadFS reads the partition table and filesystems of a medium of size bytes at r, validating all
// of their metadata before it returns. sectorSize is the medium's logical sector size (512 for
// image files).
func ReadFS(ctx context.Context, r io.ReaderAt, size, sectorSize int64) (*Medium, error) {
	kind, err := detect(r, size)
	if err != nil {
		return nil, err
	}
	var table *part.Table
	switch kind {
	case "", "zero":
		table, err = part.Parse(r, size, sectorSize)
		if err != nil {
			return nil, err
		}
		if table == nil {
			if kind == "zero" {
				return nil, mediaerr.None("blank medium (no partition table, no filesystem signature)")
			}
			return nil, mediaerr.Unsupported("unknown data (no partition table, no filesystem signature)")
		}
	default:
		if kind == "fat" {
			if err := fatAndTable(r, size, sectorSize); err != nil {
				return nil, err
			}
		}
		table = part.Whole(size)
	}
	m := &Medium{Scheme: string(table.Scheme)}
	type vol struct {
		v    Volume
		root *fstree.Node
	}
	var vols []vol
	for _, p := range table.Partitions {
		where := "whole disk"
		if p.Index > 0 {
			where = "partition " + strconv.Itoa(p.Index)
		}
		sr := io.NewSectionReader(r, p.Start, p.Size)
		k, err := detect(sr, p.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		v := Volume{Partition: p.Index, Start: p.Start, Size: p.Size}
		var root *fstree.Node
		switch k {
		case "zero":
			continue // an empty partition holds nothing to read
		case "":
			return nil, fmt.Errorf("%s: %w", where, mediaerr.Unsupported("unknown data"))
		case "fat":
			fv, err := fat.Open(ctx, sr, p.Size)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			v.Kind, v.Label, root = fmt.Sprintf("fat%d", int(fv.BPB.Type)), fv.Label, fv.FS.Root
		case "iso9660":
			iv, err := isofs.Open(ctx, sr, p.Size)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			v.Kind, v.Label, root = "iso9660", iv.Label, iv.FS.Root
		default:
			return nil, fmt.Errorf("%s: %w", where, mediaerr.Unsupported("%s", k))
		}
		vols = append(vols, vol{v, root})
	}
	if len(vols) == 0 {
		return nil, mediaerr.None("%s partition table without a filesystem", table.Scheme)
	}
	// Every volume reads through its own section of r: a single root when there is one volume,
	// otherwise a synthetic root with one directory per partition.
	if len(vols) == 1 {
		vols[0].v.Dir = "."
		m.Volumes = []Volume{vols[0].v}
		m.FS = &fstree.FS{R: io.NewSectionReader(r, vols[0].v.Start, vols[0].v.Size), Root: vols[0].root}
		return m, nil
	}
	root := &fstree.Node{Dir: true}
	for _, v := range vols {
		v.v.Dir = "part" + strconv.Itoa(v.v.Partition)
		sub := *v.root
		sub.Name = v.v.Dir
		shift(&sub, v.v.Start)
		root.Children = append(root.Children, &sub)
		m.Volumes = append(m.Volumes, v.v)
	}
	if err := root.Sort("/"); err != nil {
		return nil, mediaerr.Corrupt("%v", err)
	}
	m.FS = &fstree.FS{R: r, Root: root}
	return m, nil
}

// fatAndTable refuses a sector 0 that is a FAT boot sector and also a partition table with
// partitions: Linux reads the partitions when every entry's boot flag is 0 or 0x80 (and a GPT
// behind a protective entry), so it would show other files than the whole-disk volume.
func fatAndTable(r io.ReaderAt, size, sectorSize int64) error {
	t, err := part.Parse(r, size, sectorSize)
	s0 := make([]byte, 512)
	if _, rerr := r.ReadAt(s0, 0); rerr != nil {
		return mediaerr.Corrupt("sector 0: %v", rerr)
	}
	protective := false
	for i := 0; i < 4; i++ {
		protective = protective || s0[446+16*i+4] == 0xEE
	}
	switch {
	case err == nil && t != nil && len(t.Partitions) > 0:
		return mediaerr.Corrupt("sector 0 is a FAT boot sector and a %s partition table with %d partition(s): Linux reads the partitions", t.Scheme, len(t.Partitions))
	case protective:
		return mediaerr.Corrupt("sector 0 is a FAT boot sector with a protective GPT entry: readers differ on which counts")
	}
	return nil
}

// shift moves every extent under n by off bytes, from partition- to disk-relative.
func shift(n *fstree.Node, off int64) {
	for i := range n.Extents {
		n.Extents[i].Off += off
	}
	for _, c := range n.Children {
		shift(c, off)
	}
}

// detect names the filesystem or container at the start of r by its signature: "fat",
// "iso9660", a refused kind ("exFAT", "NTFS", "ext4", "swap", "LUKS", ...), "zero" for blank data
// or "" for anything else.
func detect(r io.ReaderAt, size int64) (string, error) {
	n := int64(128 << 10)
	if size < n {
		n = size
	}
	b := make([]byte, n)
	if m, err := r.ReadAt(b, 0); int64(m) < n {
		return "", mediaerr.Corrupt("reading the first %d bytes: %v", n, err)
	}
	at := func(off int, sig string) bool {
		return off+len(sig) <= len(b) && string(b[off:off+len(sig)]) == sig
	}
	switch {
	case at(0, "LUKS\xba\xbe"):
		return "LUKS", nil
	case at(3, "EXFAT   "):
		return "exFAT", nil
	case at(3, "NTFS    "):
		return "NTFS", nil
	case at(3, "-FVE-FS-"):
		return "BitLocker", nil
	case at(0x8001, "CD001"):
		return "iso9660", nil
	case at(0x8001, "BEA01"):
		return "UDF", nil
	case len(b) >= 2048 && binary.LittleEndian.Uint16(b[1080:]) == 0xEF53:
		return ext(b), nil
	case at(4086, "SWAPSPACE2"), at(4086, "SWAP-SPACE"):
		return "swap", nil
	case at(0, "XFSB"):
		return "XFS", nil
	case at(0x10040, "_BHRfS_M"):
		return "btrfs", nil
	case at(0, "hsqs"):
		return "squashfs", nil
	case at(1024, "H+"), at(1024, "HX"):
		return "HFS+", nil
	case at(1024, "\x10\x20\xf5\xf2"):
		return "F2FS", nil
	case fat.LooksLikeFAT(b):
		return "fat", nil
	}
	probe := b
	if len(probe) > 64<<10 {
		probe = probe[:64<<10]
	}
	if len(bytes.Trim(probe, "\x00")) == 0 || len(bytes.Trim(probe, "\xff")) == 0 {
		return "zero", nil
	}
	return "", nil
}

// ext tells ext2, ext3 and ext4 apart by their feature flags.
func ext(b []byte) string {
	compat := binary.LittleEndian.Uint32(b[1024+0x5c:])
	incompat := binary.LittleEndian.Uint32(b[1024+0x60:])
	switch {
	case incompat&0x2c0 != 0: // extents, 64bit, flex_bg
		return "ext4"
	case compat&0x4 != 0: // journal
		return "ext3"
	}
	return "ext2"
}
