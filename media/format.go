package media

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/airlock-appliance/airlock/media/internal/fat"
)

// File is a file that Reformat writes into the root of the new filesystem.
type File struct {
	Name string
	Data []byte
}

// FormatOptions configure Reformat.
type FormatOptions struct {
	Label    string // FAT volume label (A-Z 0-9 space _ -, up to 11); "AIRLOCK" when empty
	VolumeID uint32 // 0 draws a random serial
	Files    []File // written into the root directory (e.g. the sanitization certificate)
	Time     time.Time
}

// FormatReport describes the new layout.
type FormatReport struct {
	PartitionStart int64 // bytes
	PartitionSize  int64
	Label          string
	VolumeID       uint32
}

// PostAction is the certificate's one-line description of the reformat.
func (r *FormatReport) PostAction() string {
	return fmt.Sprintf("MBR, one FAT32 partition (type 0x0c) at %d MiB, label %s, serial %04X-%04X",
		r.PartitionStart>>20, r.Label, r.VolumeID>>16, r.VolumeID&0xffff)
}

// FormatPostAction is PostAction for a format that has not run yet, for a certificate that is
// written into the filesystem being made.
func FormatPostAction(label string, volumeID uint32) string {
	return (&FormatReport{PartitionStart: 1 << 20, Label: label, VolumeID: volumeID}).PostAction()
}

// NewVolumeID draws a random FAT volume serial number.
func NewVolumeID() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:]) | 1
}

// Reformat writes an MBR with one FAT32 partition (type 0x0c) starting at 1 MiB and spanning the
// rest of the device (at most 2 TiB, the MBR's reach), formats it with the files in its root, and
// asks the kernel to re-read the partition table.
func Reformat(ctx context.Context, dev string, o FormatOptions) (*FormatReport, error) {
	if o.Label == "" {
		o.Label = "AIRLOCK"
	}
	label, err := fat.CleanLabel(o.Label)
	if err != nil {
		return nil, fmt.Errorf("reformat %s: %w", dev, err)
	}
	if o.VolumeID == 0 {
		o.VolumeID = NewVolumeID()
	}
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reformat %s: %w", dev, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size, ss := st.Size(), int64(512)
	block := st.Mode()&os.ModeDevice != 0
	if block {
		if size, ss, err = blockSize(int(f.Fd())); err != nil {
			return nil, fmt.Errorf("reformat %s: %w", dev, err)
		}
	}
	start := int64(1<<20) / ss
	sectors := size/ss - start
	if sectors > 0xffffffff {
		sectors = 0xffffffff
	}
	if sectors <= 0 {
		return nil, fmt.Errorf("reformat %s: device of %d bytes is too small", dev, size)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The first MiB: zeros, then the MBR.
	head := make([]byte, 1<<20)
	binary.LittleEndian.PutUint32(head[440:], NewVolumeID()) // disk signature
	e := head[446:]
	e[0] = 0x00
	copy(e[1:4], []byte{0xfe, 0xff, 0xff}) // CHS: beyond reach, use LBA
	e[4] = 0x0c
	copy(e[5:8], []byte{0xfe, 0xff, 0xff})
	binary.LittleEndian.PutUint32(e[8:], uint32(start))
	binary.LittleEndian.PutUint32(e[12:], uint32(sectors))
	head[510], head[511] = 0x55, 0xAA
	if _, err := f.WriteAt(head, 0); err != nil {
		return nil, fmt.Errorf("reformat %s: write MBR: %w", dev, err)
	}
	var files []fat.File
	for _, fl := range o.Files {
		files = append(files, fat.File{Name: fl.Name, Data: fl.Data})
	}
	pw := &offsetWriterAt{f: f, off: start * ss}
	err = fat.Format(pw, sectors*ss, fat.FormatOptions{Label: label, VolumeID: o.VolumeID,
		HiddenSectors: uint32(start), SectorSize: int(ss), Time: o.Time}, files)
	if err != nil {
		return nil, fmt.Errorf("reformat %s: %w", dev, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("reformat %s: sync: %w", dev, err)
	}
	if block {
		_, _ = unix.IoctlRetInt(int(f.Fd()), unix.BLKRRPART) // loop devices without partscan refuse
	}
	return &FormatReport{PartitionStart: start * ss, PartitionSize: sectors * ss, Label: label, VolumeID: o.VolumeID}, nil
}

type offsetWriterAt struct {
	f   *os.File
	off int64
}

func (w *offsetWriterAt) WriteAt(b []byte, off int64) (int, error) { return w.f.WriteAt(b, w.off+off) }

type discardWriterAt struct{}

func (discardWriterAt) WriteAt(b []byte, _ int64) (int, error) { return len(b), nil }

// CheckFormat reports whether Reformat can lay out its FAT32 volume on dev, without writing: a
// device too small for FAT32 (about 34 MiB) is refused before anything is wiped.
func CheckFormat(dev string) error {
	f, size, ss, err := openReadOnly(dev, false)
	if err != nil {
		return fmt.Errorf("reformat %s: %w", dev, err)
	}
	f.Close()
	start := int64(1<<20) / ss
	sectors := size/ss - start
	if sectors <= 0 {
		return fmt.Errorf("reformat %s: device of %d bytes is too small", dev, size)
	}
	sectors = min(sectors, 0xffffffff)
	err = fat.Format(discardWriterAt{}, sectors*ss, fat.FormatOptions{HiddenSectors: uint32(start), SectorSize: int(ss)}, nil)
	if err != nil {
		return fmt.Errorf("reformat %s: %w", dev, err)
	}
	return nil
}
