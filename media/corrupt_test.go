package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// entryOf finds the 32-byte FAT directory entry whose short name is name11 (e.g. "README  TXT").
func entryOf(t *testing.T, img []byte, name11 string) int {
	t.Helper()
	// Directories of the small test images all lie in the first 4 MiB.
	for i := 0; i+32 <= len(img) && i < 4<<20; i += 32 {
		if string(img[i:i+11]) == name11 && img[i+11]&0x0f != 0x0f {
			return i
		}
	}
	t.Fatalf("no entry %q", name11)
	return 0
}

func expectRefusal(t *testing.T, img []byte, class error, detail string) {
	t.Helper()
	_, err := ReadFS(context.Background(), bytes.NewReader(img), int64(len(img)), 512)
	if !errors.Is(err, class) || !strings.Contains(err.Error(), detail) {
		t.Fatalf("got %v, want %v containing %q", err, class, detail)
	}
}

func fatBytes(t *testing.T, bits, mib int) []byte {
	img, _ := fatImage(t, bits, mib, "VOL", "")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCorruptFAT(t *testing.T) {
	cluster := func(b []byte, e int) uint32 {
		return uint32(binary.LittleEndian.Uint16(b[e+26:])) | uint32(binary.LittleEndian.Uint16(b[e+20:]))<<16
	}
	setCluster := func(b []byte, e int, c uint32) {
		binary.LittleEndian.PutUint16(b[e+26:], uint16(c))
		binary.LittleEndian.PutUint16(b[e+20:], uint16(c>>16))
	}
	for _, bits := range []int{12, 16, 32} {
		mib := map[int]int{12: 2, 16: 20, 32: 40}[bits]
		t.Run(fmt.Sprintf("fat%d", bits), func(t *testing.T) {
			orig := fatBytes(t, bits, mib)
			mut := func() []byte { return append([]byte(nil), orig...) }

			t.Run("cross-linked", func(t *testing.T) {
				b := mut()
				a, x := entryOf(t, b, "README  TXT"), entryOf(t, b, "X       NAR")
				setCluster(b, x, cluster(b, a))
				expectRefusal(t, b, ErrCorrupt, "cross-linked")
			})
			t.Run("directory-loop", func(t *testing.T) {
				b := mut()
				sub, deeper := entryOf(t, b, "SUB        "), entryOf(t, b, "DEEPER     ")
				setCluster(b, deeper, cluster(b, sub))
				expectRefusal(t, b, ErrCorrupt, "(or a loop)")
			})
			t.Run("file-larger-than-chain", func(t *testing.T) {
				b := mut()
				binary.LittleEndian.PutUint32(b[entryOf(t, b, "README  TXT")+28:], 1<<30)
				expectRefusal(t, b, ErrCorrupt, "larger than its cluster chain")
			})
			t.Run("cluster-out-of-range", func(t *testing.T) {
				b := mut()
				setCluster(b, entryOf(t, b, "README  TXT"), 0x0ffffff0&(1<<bits-1)-16)
				expectRefusal(t, b, ErrCorrupt, "out of range")
			})
			for _, bad := range []struct{ name, c, why string }{{"slash", "/", `bad short name "RE/DME`}, {"nul", "\x00", `bad short name "RE\x00DME`}, {"control", "\x01", `bad short name "RE\x01DME`}} {
				t.Run("name-"+bad.name, func(t *testing.T) {
					b := mut()
					e := entryOf(t, b, "README  TXT")
					b[e+2] = bad.c[0]
					expectRefusal(t, b, ErrCorrupt, bad.why)
				})
			}
			t.Run("long-name-dotdot", func(t *testing.T) {
				// Rewrite the long name of "Empty" (one LFN entry) to "..".
				b := mut()
				e := entryOf(t, b, "EMPTY      ")
				l := e - 32
				if b[l+11] != 0x0f {
					t.Fatal("mcopy wrote no long-name entry for Empty: the corruption cannot be planted")
				}
				for _, o := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
					binary.LittleEndian.PutUint16(b[l+o:], 0xffff)
				}
				binary.LittleEndian.PutUint16(b[l+1:], '.')
				binary.LittleEndian.PutUint16(b[l+3:], '.')
				binary.LittleEndian.PutUint16(b[l+5:], 0)
				expectRefusal(t, b, ErrCorrupt, `name ".."`)
			})
			t.Run("volume-past-partition", func(t *testing.T) {
				b := mut()
				expectRefusal(t, b[:len(b)/2], ErrCorrupt, "larger than its partition")
			})
		})
	}
}

func TestCorruptPartitionTables(t *testing.T) {
	img, _ := fatImage(t, 16, 20, "VOL", "dos")
	orig, _ := os.ReadFile(img)
	t.Run("partition-past-end", func(t *testing.T) {
		b := append([]byte(nil), orig...)
		binary.LittleEndian.PutUint32(b[446+12:], 1<<30)
		expectRefusal(t, b, ErrCorrupt, "past the end of the disk")
	})
	t.Run("extended-loop", func(t *testing.T) {
		b := append([]byte(nil), orig...)
		// Partition 2: an extended partition whose EBR links to itself.
		p2 := b[446+16:]
		p2[4] = 0x05
		binary.LittleEndian.PutUint32(p2[8:], 40000)
		binary.LittleEndian.PutUint32(p2[12:], 960)
		ebr := b[40000*512:]
		ebr[510], ebr[511] = 0x55, 0xAA
		binary.LittleEndian.PutUint32(b[446:][12:], 30000) // shrink partition 1 out of the way
		e2 := ebr[446+16:]
		e2[4] = 0x05
		binary.LittleEndian.PutUint32(e2[8:], 0)
		binary.LittleEndian.PutUint32(e2[12:], 100)
		expectRefusal(t, b, ErrCorrupt, "loops")
	})
	t.Run("fat-superfloppy-with-partitions", func(t *testing.T) {
		// A whole-disk FAT whose boot code area also reads as an MBR entry: Linux shows the
		// partition, a superfloppy reader the volume.
		img, _ := fatImage(t, 16, 20, "VOL", "")
		b, _ := os.ReadFile(img)
		e := b[446:462]
		clear(e)
		e[4] = 0x0c
		binary.LittleEndian.PutUint32(e[8:], 2048)
		binary.LittleEndian.PutUint32(e[12:], 4096)
		expectRefusal(t, b, ErrCorrupt, "FAT boot sector and a mbr partition table")
	})
	img, _ = fatImage(t, 16, 20, "VOL", "gpt")
	gpt, _ := os.ReadFile(img)
	t.Run("gpt-ok", func(t *testing.T) {
		m, err := ReadFS(context.Background(), bytes.NewReader(gpt), int64(len(gpt)), 512)
		if err != nil || m.Scheme != "gpt" {
			t.Fatalf("%v %+v", err, m)
		}
	})
	t.Run("gpt-entry-crc", func(t *testing.T) {
		b := append([]byte(nil), gpt...)
		b[2*512+56] ^= 1 // a byte of the first entry's name
		expectRefusal(t, b, ErrCorrupt, "entries CRC mismatch")
	})
	t.Run("gpt-partition-past-end", func(t *testing.T) {
		b := append([]byte(nil), gpt...)
		binary.LittleEndian.PutUint64(b[2*512+40:], 1<<40) // last LBA of entry 1
		n := binary.LittleEndian.Uint32(b[512+80:]) * binary.LittleEndian.Uint32(b[512+84:])
		binary.LittleEndian.PutUint32(b[512+88:], crc32.ChecksumIEEE(b[2*512:2*512+int(n)]))
		h := b[512 : 512+92]
		binary.LittleEndian.PutUint32(h[16:], 0)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h))
		expectRefusal(t, b, ErrCorrupt, "past the end of the disk")
	})
}

func TestCorruptISO(t *testing.T) {
	testenv.Need(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	sampleFiles(t, src, 3)
	img := filepath.Join(dir, "d.iso")
	run(t, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", img, src)
	orig, _ := os.ReadFile(img)
	rootLBA := binary.LittleEndian.Uint32(orig[16*2048+156+2:])
	// record finds the directory record whose ISO name is id.
	record := func(b []byte, id string) int {
		for i := 0; i+33+len(id) <= len(b); i++ {
			if b[i+32] == byte(len(id)) && string(b[i+33:i+33+len(id)]) == id && int(b[i]) >= 33+len(id) {
				return i
			}
		}
		t.Fatalf("no record %q", id)
		return 0
	}
	t.Run("directory-loop", func(t *testing.T) {
		b := append([]byte(nil), orig...)
		r := record(b, "DEEPER")
		binary.LittleEndian.PutUint32(b[r+2:], rootLBA)
		binary.BigEndian.PutUint32(b[r+6:], rootLBA)
		expectRefusal(t, b, ErrCorrupt, "a loop")
	})
	t.Run("file-past-end", func(t *testing.T) {
		b := append([]byte(nil), orig...)
		r := record(b, "README.TXT;1")
		binary.LittleEndian.PutUint32(b[r+10:], 1<<31)
		expectRefusal(t, b, ErrCorrupt, "past the end of the volume")
	})
	t.Run("rock-ridge-name-with-slash", func(t *testing.T) {
		b := append([]byte(nil), orig...)
		i := bytes.Index(b, []byte("NM\x0f\x01\x00README.TXT"))
		if i < 0 {
			t.Fatal("no Rock Ridge NM entry for README.TXT")
		}
		b[i+5+3] = '/'
		expectRefusal(t, b, ErrCorrupt, `'/'`)
	})
	t.Run("truncated", func(t *testing.T) {
		expectRefusal(t, orig[:len(orig)/2], ErrCorrupt, "larger than the medium")
		expectRefusal(t, orig[:17*2048], ErrCorrupt, "volume descriptor 17")
	})
}
