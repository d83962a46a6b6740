package media

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// smallImages builds seed media with the real tools: a FAT12 superfloppy, an MBR and a GPT disk
// with a FAT12 partition, and a Rock Ridge ISO.
func smallImages(f *testing.F) [][]byte { return smallImagesT(f) }

func smallImagesT(f testing.TB) [][]byte {
	testenv.Need(f, "mkfs.vfat", "mcopy", "sfdisk", "xorriso")
	dir := f.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "a long name.txt"), bytes.Repeat([]byte("a"), 1500), 0o644)
	os.WriteFile(filepath.Join(src, "d", "B.BIN"), []byte("b"), 0o644)
	var out [][]byte
	add := func(p string) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		b = bytes.TrimRight(b, "\x00")
		if len(b) > 64<<10 && !bytes.Contains(b[32768:32774], []byte("CD001")) {
			b = b[:64<<10]
		}
		out = append(out, b)
	}
	sf := filepath.Join(dir, "sf.img")
	run(f, "mkfs.vfat", "-C", sf, "160")
	run(f, "mcopy", "-s", "-i", sf, filepath.Join(src, "a long name.txt"), filepath.Join(src, "d"), "::")
	add(sf)
	for _, label := range []string{"dos", "gpt"} {
		img := filepath.Join(dir, label+".img")
		run(f, "truncate", "-s", "400K", img) // the backup GPT at the end is cut off below: unread
		run(f, "sh", "-c", "echo 'start=64, size=600' | sfdisk -q --label "+label+" "+img)
		run(f, "mkfs.vfat", "--offset", "64", img, "300")
		run(f, "mcopy", "-s", "-i", img+"@@32K", filepath.Join(src, "a long name.txt"), filepath.Join(src, "d"), "::")
		add(img)
	}
	iso := filepath.Join(dir, "d.iso")
	run(f, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-no-pad", "-o", iso, src)
	add(iso)
	return out
}

// Fuzz inputs are image prefixes: the medium is the input followed by zeros up to sparseSize,
// so seeds stay small (the fuzzer minimizes large inputs very slowly) while partitions and
// volumes keep their real sizes.
const sparseSize = 1 << 20

type sparseReader struct {
	b    []byte
	size int64
}

func (s sparseReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	clear(p)
	if off < int64(len(s.b)) {
		copy(p, s.b[off:])
	}
	size := s.size
	if off+int64(len(p)) > size {
		n := size - off
		if n < 0 {
			n = 0
		}
		return int(n), io.EOF
	}
	return len(p), nil
}

// exerciseSized opens b as a medium and reads every file: whatever the bytes, it must return an error
// or a tree whose every file reads back at its stated size, and never panic or hang.
func exerciseSized(t *testing.T, b []byte, sparseSize int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	size := int64(len(b))
	if size < sparseSize {
		size = sparseSize
	}
	m, err := ReadFS(ctx, sparseReader{b, size}, size, 512)
	if err != nil {
		return
	}
	_ = fs.WalkDir(m, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatalf("walk %s: %v", p, err)
		}
		if d.IsDir() {
			return nil
		}
		fl, err := m.Open(p)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		info, _ := fl.Stat()
		n, err := io.Copy(io.Discard, fl)
		if err != nil || n != info.Size() {
			t.Fatalf("read %s: %d of %d bytes: %v", p, n, info.Size(), err)
		}
		return nil
	})
}

// FuzzMutatedImages corrupts real images at chosen offsets: the input is a seed index followed by
// (offset: 3 bytes little-endian, value) patches. Inputs stay tiny, so the fuzzer spends its
// time executing rather than minimizing, and every input is a plausible hostile stick.
func FuzzMutatedImages(f *testing.F) {
	seeds := smallImages(f)
	// A FAT32 volume needs 65525 clusters: 34 MiB, of which only the first ~1.2 MiB is not zero.
	f32 := fat32Seed(f)
	seeds = append(seeds, f32)
	for i := range seeds {
		f.Add([]byte{byte(i)})
		f.Add([]byte{byte(i), 0x0b, 0, 0, 0x00})                         // bytes per sector
		f.Add([]byte{byte(i), 0xc6, 0x01, 0, 0xee})                      // MBR partition type -> GPT
		f.Add([]byte{byte(i), 0x9c, 0x80, 0, 0x10, 0x9e, 0x80, 0, 0x02}) // ISO root record
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || len(in) > 1+4*64 {
			return
		}
		b := append([]byte(nil), seeds[int(in[0])%len(seeds)]...)
		for p := in[1:]; len(p) >= 4; p = p[4:] {
			off := int(p[0]) | int(p[1])<<8 | int(p[2])<<16
			b[off%len(b)] = p[3]
		}
		size := int64(sparseSize)
		if len(b) == len(f32) {
			size = 34 << 20
		}
		exerciseSized(t, b, size)
	})
}

// fat32Seed is an MBR disk of 34 MiB with a FAT32 partition at 1 MiB made by Reformat's
// formatter, holding a few files; trailing zeros cut off.
func fat32Seed(f testing.TB) []byte {
	img := filepath.Join(f.TempDir(), "f32.img")
	os.WriteFile(img, nil, 0o644)
	os.Truncate(img, 34<<20)
	_, err := Reformat(context.Background(), img, FormatOptions{Label: "F32", Files: []File{
		{Name: "a long name.txt", Data: bytes.Repeat([]byte("x"), 3000)}, {Name: "B.BIN", Data: []byte("b")}}})
	if err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(img)
	return bytes.TrimRight(b, "\x00")
}

// TestFuzzSeedsRead: the fuzz seeds are valid media, so the fuzzer starts inside the parsers.
func TestFuzzSeedsRead(t *testing.T) {
	seeds := smallImagesT(t)
	sizes := []int64{sparseSize, sparseSize, sparseSize, sparseSize, 34 << 20}
	seeds = append(seeds, fat32Seed(t))
	for i, b := range seeds {
		m, err := ReadFS(context.Background(), sparseReader{b, sizes[i]}, sizes[i], 512)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if _, err := fs.ReadFile(m, "a long name.txt"); err != nil {
			t.Fatalf("seed %d (%s): %v", i, m.Volumes[0].Kind, err)
		}
	}
}
