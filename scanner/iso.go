package scanner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/airlock-appliance/airlock/internal/iso9660"
	"github.com/klauspost/compress/zlib"
)

// FormatISO is an ISO 9660 image (a .iso on a stick), read by internal/iso9660: the Rock Ridge
// tree (bsdtar, the kernel's isofs), the plain ISO 9660 names of the same records, and the
// Joliet tree (7z, isoinfo -J), whose records may point at other extents.
const FormatISO = "iso9660"

// isoKind tells an ISO 9660 image (walked) from a UDF or ISO/UDF bridge image (opaque: 7z
// reads the UDF tree first, and airlock has no UDF reader) by the volume descriptors from
// sector 16: kind is FormatISO or "", opaqueName the refusal's name or "".
func isoKind(src io.ReaderAt, size int64) (kind, opaqueName string) {
	if size < 32768+2048 {
		return "", ""
	}
	iso := false
	var id [6]byte
scan:
	for s := int64(16); s < 16+64 && (s+1)*2048 <= size; s++ {
		if _, err := src.ReadAt(id[:], s*2048); err != nil {
			break
		}
		switch string(id[1:]) {
		case "CD001":
			iso = true
		case "BEA01", "NSR02", "NSR03", "TEA01", "BOOT2", "CDW02":
			return "", "UDF image" // a UDF volume recognition sequence, alone or after ISO's
		default:
			break scan
		}
	}
	if iso {
		return FormatISO, ""
	}
	return "", ""
}

// walkISO walks an ISO 9660 image: every file of the Rock Ridge tree (under its Rock Ridge
// name; the plain ISO 9660 name of the same record reads the same extents), and every file of
// the Joliet tree whose extents are not one of those. A zisofs-compressed file is scanned both
// as recorded (what 7z writes) and decompressed (what bsdtar and a mount show). Symbolic links
// are recorded. An El Torito boot image (which 7z extracts as a file of its own) is not
// walked: the image is refused after its files were scanned.
func (w *worker) walkISO(st *walkState, f *File, src io.ReaderAt, size int64, depth int) error {
	lim := iso9660.DefaultLimits
	lim.MaxEntries = min(lim.MaxEntries, w.s.opt.Limits.MaxEntries)
	lim.SharedExtents = true // hard links; each distinct extent list is scanned once
	im, err := iso9660.Open(st.ctx, f.Path, src, size, &lim)
	if err != nil {
		return err
	}
	if im.Boot {
		defer w.worsen(f, Unscannable, "El Torito boot record: 7z extracts the boot image as a file, which airlock does not walk")
	}
	seen := map[string]string{} // the extents of every file walked -> its name
	if err := w.isoTree(st, f, src, im.Root, "", depth, seen, false); err != nil {
		return err
	}
	if im.Joliet != nil {
		return w.isoTree(st, f, src, im.Joliet, "", depth, seen, true)
	}
	return nil
}

func (w *worker) isoTree(st *walkState, f *File, src io.ReaderAt, dir *iso9660.Node, where string, depth int, seen map[string]string, joliet bool) error {
	for _, n := range dir.Children {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		name := path.Join(where, n.Name)
		switch {
		case n.Dir:
			if err := w.isoTree(st, f, src, n, name, depth, seen, joliet); err != nil {
				return err
			}
			continue
		case n.Symlink:
			if joliet {
				continue
			}
			if err := w.record(st, f, name, TypeSymlink, n.Target, "symbolic link: recorded, not followed", depth+1); err != nil {
				return err
			}
			continue
		}
		key := fmt.Sprint(n.Extents)
		first, dup := seen[key]
		if joliet {
			if n.Size == 0 || dup {
				continue // the same bytes as a Rock Ridge file (or none)
			}
			name += " (Joliet tree)"
		}
		if dup && n.Size > 0 {
			// A hard link (or a deduplicated copy): the same extents, scanned once.
			if err := w.record(st, f, name, TypeHardlink, first, "hard link (the same extents): scanned under its first name", depth+1); err != nil {
				return err
			}
			continue
		}
		seen[key] = name
		if n.Size == 0 {
			if err := w.record(st, f, name, TypeRegular, "", "empty file", depth+1); err != nil {
				return err
			}
			continue
		}
		// Recorded bytes count against the expansion limits, as a tar's do: extents of one
		// file may repeat.
		if err := w.entry(st, f, name, &expansion{r: isoData(src, n), st: st, l: w.s.opt.Limits, tar: true}, n.Size, depth+1); err != nil {
			return err
		}
		if n.Compressed && !joliet {
			z := &zisofsReader{r: isoData(src, n), want: n.RealSize}
			if err := w.entry(st, f, name+" (zisofs-decompressed)", &expansion{r: z, st: st, l: w.s.opt.Limits}, n.RealSize, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// isoData reads a file's extents in order.
func isoData(src io.ReaderAt, n *iso9660.Node) io.Reader {
	rs := make([]io.Reader, 0, len(n.Extents))
	for _, e := range n.Extents {
		rs = append(rs, io.NewSectionReader(src, e.Off, e.Len))
	}
	return io.MultiReader(rs...)
}

// zisofsMagic starts a zisofs (Rock Ridge ZF "pz") file.
var zisofsMagic = []byte{0x37, 0xe4, 0x53, 0x96, 0xc9, 0xdb, 0xd6, 0x07}

// zisofsReader decompresses a zisofs file as the kernel's isofs and libarchive do: a 16-byte
// header (magic, uncompressed size, header size in 4-byte units, log2 block size), a table of
// block offsets, then one zlib stream per block (an empty one is a block of zeros). Every block
// but the last must decompress to exactly the block size; the total must be the size that the
// header and the ZF entry both declare.
type zisofsReader struct {
	r     io.Reader
	want  int64
	raw   []byte // the whole recorded file: the table addresses it at random
	ptrs  []uint32
	block int64
	i     int
	out   int64
	cur   io.Reader
	err   error
}

// maxZisofsRaw bounds the recorded bytes of one zisofs file that are held to decompress it.
const maxZisofsRaw = 256 << 20

func (z *zisofsReader) init() error {
	raw, err := io.ReadAll(io.LimitReader(z.r, maxZisofsRaw+1))
	if err != nil {
		return err
	}
	if len(raw) > maxZisofsRaw {
		return fmt.Errorf("zisofs file of more than %d recorded bytes", maxZisofsRaw)
	}
	if len(raw) < 16 || !bytes.Equal(raw[:8], zisofsMagic) {
		return errors.New("zisofs file without its header")
	}
	size := int64(binary.LittleEndian.Uint32(raw[8:]))
	hs, lb := int(raw[12])*4, raw[13]
	if size != z.want {
		return fmt.Errorf("zisofs header says %d bytes, the ZF entry %d", size, z.want)
	}
	if hs < 16 || lb < 15 || lb > 17 {
		return fmt.Errorf("zisofs header size %d, block size 2^%d", hs, lb)
	}
	z.block = 1 << lb
	nb := (size + z.block - 1) / z.block
	if int64(hs)+4*(nb+1) > int64(len(raw)) {
		return errors.New("zisofs block table past the end of the file")
	}
	z.ptrs = make([]uint32, nb+1)
	for i := range z.ptrs {
		z.ptrs[i] = binary.LittleEndian.Uint32(raw[hs+4*i:])
		if i > 0 && z.ptrs[i] < z.ptrs[i-1] || int64(z.ptrs[i]) > int64(len(raw)) {
			return fmt.Errorf("zisofs block pointer %d out of order or past the file", i)
		}
	}
	z.raw = raw
	return nil
}

func (z *zisofsReader) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.ptrs == nil {
		if z.err = z.init(); z.err != nil {
			return 0, z.err
		}
	}
	for {
		if z.cur != nil {
			n, err := z.cur.Read(p)
			z.out += int64(n)
			if err == nil || n > 0 {
				return n, nil
			}
			if !errors.Is(err, io.EOF) {
				z.err = fmt.Errorf("zisofs block %d: %w", z.i-1, err)
				return 0, z.err
			}
			if exp := min(z.block*int64(z.i), z.want); z.out != exp {
				z.err = fmt.Errorf("zisofs block %d decompresses to %d bytes, not %d", z.i-1, z.out-z.block*int64(z.i-1), exp-z.block*int64(z.i-1))
				return 0, z.err
			}
			z.cur = nil
		}
		if z.i >= len(z.ptrs)-1 {
			z.err = io.EOF
			return 0, io.EOF
		}
		lo, hi := z.ptrs[z.i], z.ptrs[z.i+1]
		n := min(z.block, z.want-z.block*int64(z.i))
		z.i++
		if lo == hi {
			z.cur = io.LimitReader(zeros{}, n)
			continue
		}
		zr, err := zlib.NewReader(bytes.NewReader(z.raw[lo:hi]))
		if err != nil {
			z.err = fmt.Errorf("zisofs block %d: %w", z.i-1, err)
			return 0, z.err
		}
		z.cur = io.LimitReader(zr, n+1)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
