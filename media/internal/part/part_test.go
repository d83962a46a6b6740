package part

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
)

// sparse serves b followed by zeros up to size.
type sparse struct {
	b    []byte
	size int64
}

func (s sparse) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(s.b)) {
		copy(p, s.b[off:])
	}
	if off+int64(len(p)) > s.size {
		n := max(s.size-off, 0)
		return int(n), io.EOF
	}
	return len(p), nil
}

func mbrEntry(b []byte, i int, typ byte, start, n uint32) {
	e := b[446+16*i:]
	e[4] = typ
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], n)
}

// mbrWithLogicals: one primary, an extended partition with two logical partitions.
func mbrWithLogicals() []byte {
	b := make([]byte, 64<<10)
	b[510], b[511] = 0x55, 0xAA
	mbrEntry(b, 0, 0x0c, 8, 32)
	mbrEntry(b, 1, 0x05, 40, 80)
	ebr1 := b[40*512:]
	ebr1[510], ebr1[511] = 0x55, 0xAA
	mbrEntry(ebr1, 0, 0x06, 2, 20)
	mbrEntry(ebr1, 1, 0x05, 30, 40) // next EBR at 40+30
	ebr2 := b[70*512:]
	ebr2[510], ebr2[511] = 0x55, 0xAA
	mbrEntry(ebr2, 0, 0x0b, 2, 30)
	return b
}

// gpt builds a protective MBR and a GPT with 4 entries of 128 bytes.
func gpt(parts ...[2]uint64) []byte {
	b := make([]byte, 4*512)
	b[510], b[511] = 0x55, 0xAA
	mbrEntry(b, 0, 0xee, 1, 0xffffffff)
	ents := b[2*512 : 2*512+4*128]
	for i, p := range parts {
		e := ents[i*128:]
		copy(e, "\xa2\xa0\xd0\xeb\xe5\xb9\x33\x44\x87\xc0\x68\xb6\xb7\x26\x99\xc7")
		e[16] = byte(i + 1)
		binary.LittleEndian.PutUint64(e[32:], p[0])
		binary.LittleEndian.PutUint64(e[40:], p[1])
		copy(e[56:], []byte{'d', 0, 'a', 0, 't', 0, 'a', 0})
	}
	h := b[512:]
	copy(h, "EFI PART")
	binary.LittleEndian.PutUint32(h[8:], 0x00010000)
	binary.LittleEndian.PutUint32(h[12:], 92)
	binary.LittleEndian.PutUint64(h[24:], 1)
	binary.LittleEndian.PutUint64(h[40:], 34)
	binary.LittleEndian.PutUint64(h[48:], 2000)
	binary.LittleEndian.PutUint64(h[72:], 2)
	binary.LittleEndian.PutUint32(h[80:], 4)
	binary.LittleEndian.PutUint32(h[84:], 128)
	binary.LittleEndian.PutUint32(h[88:], crc32.ChecksumIEEE(ents))
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
	return b
}

const diskSize = 2048 * 512

func TestParse(t *testing.T) {
	tab, err := Parse(sparse{mbrWithLogicals(), diskSize}, diskSize, 512)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range tab.Partitions {
		got = append(got, p.Type)
		if p.Index == 6 && p.Start != (70+2)*512 {
			t.Errorf("partition 6 at %d", p.Start)
		}
	}
	if tab.Scheme != MBR || strings.Join(got, ",") != "0c,06,0b" {
		t.Fatalf("%+v", tab)
	}
	tab, err = Parse(sparse{gpt([2]uint64{34, 999}, [2]uint64{1000, 1999}), diskSize}, diskSize, 512)
	if err != nil || tab.Scheme != GPT || len(tab.Partitions) != 2 || tab.Partitions[1].Size != 1000*512 || tab.Partitions[0].Name != "data" {
		t.Fatalf("%+v %v", tab, err)
	}
	if tab, err := Parse(sparse{make([]byte, 512), diskSize}, diskSize, 512); tab != nil || err != nil {
		t.Errorf("no signature: %+v %v", tab, err)
	}
}

// hostileTables are tables that readers disagree on, or that put partitions where they cannot be.
func hostileTables() map[string]struct {
	b    []byte
	want string
} {
	type c = struct {
		b    []byte
		want string
	}
	hybrid := gpt([2]uint64{34, 999})
	mbrEntry(hybrid, 1, 0x0c, 1000, 900) // a hybrid MBR: MBR readers see a FAT partition here
	noProtective := gpt([2]uint64{34, 999})
	mbrEntry(noProtective, 0, 0x0c, 1000, 900) // the GPT behind a plain MBR
	overGPT := gpt([2]uint64{2, 999})
	primaryInExt := mbrWithLogicals()
	mbrEntry(primaryInExt, 2, 0x83, 60, 4) // inside the extended partition
	logicalOverEBR := mbrWithLogicals()
	mbrEntry(logicalOverEBR[40*512:], 0, 0x06, 0, 20)
	atZero := make([]byte, 1024)
	atZero[510], atZero[511] = 0x55, 0xAA
	mbrEntry(atZero, 0, 0x0c, 0, 100)
	primaries := make([]byte, 1024)
	primaries[510], primaries[511] = 0x55, 0xAA
	mbrEntry(primaries, 0, 0x0c, 10, 100)
	mbrEntry(primaries, 3, 0x83, 100, 100)
	return map[string]c{
		"gpt-overlap":            {gpt([2]uint64{34, 1500}, [2]uint64{1000, 1999}), "overlap"},
		"gpt-past-end":           {gpt([2]uint64{34, 5000}), "past the end"},
		"hybrid-mbr":             {hybrid, "hybrid MBR"},
		"gpt-behind-mbr":         {noProtective, "without a protective entry"},
		"gpt-partition-over-gpt": {overGPT, "over the GPT itself"},
		"primary-in-extended":    {primaryInExt, "(extended) overlap"},
		"logical-over-its-ebr":   {logicalOverEBR, "outside its extended partition"},
		"mbr-partition-at-0":     {atZero, "over the MBR"},
		"mbr-overlap":            {primaries, "overlap"},
	}
}

func TestHostileTables(t *testing.T) {
	for name, tc := range hostileTables() {
		_, err := Parse(sparse{tc.b, diskSize}, diskSize, 512)
		if !errors.Is(err, mediaerr.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrCorrupt with %q", name, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(mbrWithLogicals()[:36*1024])
	f.Add(gpt([2]uint64{34, 999}, [2]uint64{1000, 1999}))
	f.Add(gpt([2]uint64{34, 1999}))
	for _, tc := range hostileTables() {
		f.Add(tc.b[:min(len(tc.b), 36*1024)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Parse(sparse{b, diskSize}, diskSize, 512)
		if err != nil {
			if !errors.Is(err, mediaerr.ErrCorrupt) {
				t.Fatalf("error of no class: %v", err)
			}
			return
		}
		if tab == nil {
			return
		}
		for i, p := range tab.Partitions {
			if p.Start <= 0 || p.Size < 0 || p.Start+p.Size > diskSize {
				t.Fatalf("partition outside the disk or over sector 0 accepted: %+v", p)
			}
			for _, q := range tab.Partitions[i+1:] {
				if p.Start < q.Start+q.Size && q.Start < p.Start+p.Size {
					t.Fatalf("overlapping partitions accepted: %+v %+v", p, q)
				}
			}
		}
	})
	_ = bytes.Equal
}
