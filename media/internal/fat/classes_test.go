package fat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
)

// vol is a FAT image made by mkfs.fat and mtools, held in memory for byte patches.
type vol struct {
	t        testing.TB
	bits     int
	b        []byte
	p        *BPB
	reserved map[uint32]bool // clusters allocChain handed out
}

// sizes of the test volumes in KiB: the smallest of each type with 512-byte clusters.
var volKiB = map[int]int{12: 1024, 16: 4096, 32: 34 << 10}

// newVol formats a volume and fills it with the standard content: README.TXT and OTHER.TXT (100
// bytes each, short names only), "a long name.txt" (3000 bytes), SUB/IN.TXT, SUB/DEEPER/.
func newVol(t testing.TB, bits int) *vol {
	t.Helper()
	testenv.Need(t, "mkfs.fat", "mcopy", "mmd", "fsck.fat")
	dir := t.TempDir()
	img := filepath.Join(dir, "v.img")
	mustRun(t, "mkfs.fat", "--invariant", "-F", fmt.Sprint(bits), "-s", "1", "-S", "512", "-n", "VOL", "-C", img, fmt.Sprint(volKiB[bits]))
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	write := func(name string, n int, c byte) string {
		p := filepath.Join(src, name)
		os.WriteFile(p, bytes.Repeat([]byte{c}, n), 0o644)
		os.Chtimes(p, volTime, volTime)
		return p
	}
	mustRun(t, "mcopy", "-i", img, write("README.TXT", 100, 'r'), write("OTHER.TXT", 100, 'o'), write("a long name.txt", 3000, 'l'), "::")
	mustRun(t, "mmd", "-i", img, "::SUB", "::SUB/DEEPER")
	mustRun(t, "mcopy", "-i", img, write("IN.TXT", 700, 'i'), "::SUB")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseBPB(b, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return &vol{t: t, bits: bits, b: b, p: p}
}

// volTime is every time stamp of the test volumes (with mkfs.fat --invariant, the same bytes
// on every run, so that a mutation found once replays byte for byte).
var volTime = time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)

func mustRun(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", volTime.Unix()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (v *vol) clone() *vol {
	c := *v
	c.b = append([]byte(nil), v.b...)
	c.reserved = map[uint32]bool{}
	return &c
}

// save writes the image to a new file.
func (v *vol) save() string {
	img := filepath.Join(v.t.TempDir(), "m.img")
	if err := os.WriteFile(img, v.b, 0o644); err != nil {
		v.t.Fatal(err)
	}
	return img
}

// fsck runs fsck.fat -n and reports whether it found anything: a non-zero exit, or any line but
// its version and its summary ("Wrong checksum for long file name" exits 0, "Not auto-correcting").
func (v *vol) fsck() (bool, string) {
	out, err := exec.Command("fsck.fat", "-n", v.save()).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		v.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return err != nil || len(lines) > 2, string(out)
}

func (v *vol) open() (*Volume, error) {
	return Open(context.Background(), bytes.NewReader(v.b), int64(len(v.b)))
}

// entry is the byte offset of the live short entry named name11 ("README  TXT").
func (v *vol) entry(name11 string) int {
	v.t.Helper()
	start := int(v.p.FirstRootDir) * int(v.p.BytesPerSector)
	for i := start; i+32 <= len(v.b) && i < start+4<<20; i += 32 {
		if string(v.b[i:i+11]) == name11 && v.b[i+11] != 0x0f {
			return i
		}
	}
	v.t.Fatalf("no entry %q", name11)
	return 0
}

func (v *vol) cluster(e int) uint32 {
	c := uint32(binary.LittleEndian.Uint16(v.b[e+26:]))
	if v.bits == 32 {
		c |= uint32(binary.LittleEndian.Uint16(v.b[e+20:])) << 16
	}
	return c
}

// clusterOff is the byte offset of cluster c.
func (v *vol) clusterOff(c uint32) int {
	return (int(v.p.FirstData) + int(c-2)*int(v.p.SectorsPerCluster)) * int(v.p.BytesPerSector)
}

// rootOff is the byte offset of the root directory's (first) data.
func (v *vol) rootOff() int {
	if v.bits == 32 {
		return v.clusterOff(v.p.RootCluster)
	}
	return int(v.p.FirstRootDir) * int(v.p.BytesPerSector)
}

// setFAT sets entry c of FAT copy k (k < 0: every copy) to val.
func (v *vol) setFAT(k int, c, val uint32) {
	for i := 0; i < int(v.p.NumFATs); i++ {
		if k >= 0 && i != k {
			continue
		}
		fat := v.b[(int(v.p.ReservedSectors)+i*int(v.p.FATSectors))*int(v.p.BytesPerSector):]
		switch v.bits {
		case 12:
			o := int(c + c/2)
			w := binary.LittleEndian.Uint16(fat[o:])
			if c&1 != 0 {
				w = w&0x000f | uint16(val<<4)
			} else {
				w = w&0xf000 | uint16(val&0xfff)
			}
			binary.LittleEndian.PutUint16(fat[o:], w)
		case 16:
			binary.LittleEndian.PutUint16(fat[2*c:], uint16(val))
		default:
			binary.LittleEndian.PutUint32(fat[4*c:], val)
		}
	}
}

func (v *vol) eoc() uint32 { return map[int]uint32{12: 0xfff, 16: 0xffff, 32: 0x0fffffff}[v.bits] }

// freeCluster is a cluster well past the used ones.
func (v *vol) freeCluster() uint32 { return v.p.Clusters - 10 }

// hostileCase is a class of damage: patch plants it, want is what airlock's refusal says, and
// fsckSees says whether fsck.fat -n reports it (false for what fsck.fat misses but Linux would
// show differently: airlock refuses those too).
type hostileCase struct {
	name     string
	patch    func(v *vol)
	want     string
	fsckSees bool
	limit    error // a bound's sentinel the refusal must also match
	fixed    bool  // needs the fixed root directory of FAT12/16 (room for a long name)
}

func hostileCases() []hostileCase {
	return []hostileCase{
		{name: "chain-longer-than-file", fsckSees: true, want: "smaller than its cluster chain", patch: func(v *vol) {
			c, f := v.cluster(v.entry("README  TXT")), v.freeCluster()
			v.setFAT(-1, c, f)
			v.setFAT(-1, f, v.eoc())
		}},
		{name: "dot-not-first", fsckSees: true, want: `is not "."`, patch: func(v *vol) {
			d := v.clusterOff(v.cluster(v.entry("SUB        ")))
			var tmp [32]byte
			copy(tmp[:], v.b[d:d+32])
			copy(v.b[d:d+32], v.b[d+64:d+96])
			copy(v.b[d+64:d+96], tmp[:])
		}},
		{name: "dotdot-wrong-parent", fsckSees: true, want: `is not ".."`, patch: func(v *vol) {
			d := v.clusterOff(v.cluster(v.entry("DEEPER     ")))
			binary.LittleEndian.PutUint16(v.b[d+32+26:], uint16(v.cluster(v.entry("DEEPER     "))))
		}},
		{name: "duplicate-short-name", fsckSees: true, want: "duplicate short name", patch: func(v *vol) {
			copy(v.b[v.entry("OTHER   TXT"):], "README  TXT")
		}},
		{name: "fat0-without-media-byte", fsckSees: true, want: "FAT[0]", patch: func(v *vol) {
			v.setFAT(-1, 0, 0)
		}},
		{name: "fat0-other-media-byte", want: "FAT[0]", patch: func(v *vol) {
			v.setFAT(-1, 0, v.eoc()&^0xff|0xF0)
		}},
		{name: "fats-differ", fsckSees: true, want: "differs from FAT 1", patch: func(v *vol) {
			v.setFAT(1, v.cluster(v.entry("README  TXT")), 0)
		}},
		{name: "lost-clusters", fsckSees: true, want: "in use by no file", patch: func(v *vol) {
			v.setFAT(-1, v.freeCluster(), v.eoc())
		}},
		{name: "long-name-checksum", fsckSees: true, want: "checksum", patch: func(v *vol) {
			e := v.entry("ALONGN~1TXT")
			v.b[e+13] ^= 0x55 // every part of the long name carries the checksum
			for l := e - 32; v.b[l+11] == 0x0f; l -= 32 {
				v.b[l+13] ^= 0x55
			}
		}},
		{name: "orphan-long-name", fsckSees: true, want: "orphan", patch: func(v *vol) {
			e := v.entry("ALONGN~1TXT")
			v.b[e-32] = 0xE5 // the last part (the first before the short entry) deleted
		}},
		{name: "entry-after-end-mark", want: "after the end-of-directory mark", patch: func(v *vol) {
			r := v.rootOff()
			end := r
			for v.b[end] != 0 {
				end += 32
			}
			e := v.entry("README  TXT")
			copy(v.b[end+32:end+64], v.b[e:e+32]) // a second README after the mark
			copy(v.b[end+32:], "HIDDEN  TXT")
			binary.LittleEndian.PutUint16(v.b[end+32+26:], 0)
			binary.LittleEndian.PutUint16(v.b[end+32+20:], 0)
			binary.LittleEndian.PutUint32(v.b[end+32+28:], 0)
		}},
		{name: "directory-with-size", fsckSees: true, want: "has a size", patch: func(v *vol) {
			binary.LittleEndian.PutUint32(v.b[v.entry("SUB        ")+28:], 512)
		}},
		{name: "empty-file-with-chain", fsckSees: true, want: "empty file", patch: func(v *vol) {
			binary.LittleEndian.PutUint32(v.b[v.entry("README  TXT")+28:], 0)
		}},
		{name: "unpaired-surrogate", want: "surrogate", patch: func(v *vol) {
			e := v.entry("ALONGN~1TXT")
			binary.LittleEndian.PutUint16(v.b[e-32+1:], 0xD800) // first character of the name
		}},
		{name: "long-name-forbidden-character", want: "long name with '?'", patch: func(v *vol) {
			e := v.entry("ALONGN~1TXT")
			binary.LittleEndian.PutUint16(v.b[e-32+1:], '?') // mtools extracts it as '_'
		}},
		// The kernel's vfat lists both names but opens one file under both (its lookups ignore
		// case and trailing dots, and match short names too).
		{name: "case-only-duplicate", want: "one name to the kernel's vfat", patch: func(v *vol) {
			plantLongName(v, "OTHER   TXT", "readme.txt")
		}},
		{name: "trailing-dot-duplicate", want: "one name to the kernel's vfat", patch: func(v *vol) {
			plantLongName(v, "OTHER   TXT", "README.TXT.")
		}},
		{name: "long-name-is-another-short-name", want: "one name to the kernel's vfat", patch: func(v *vol) {
			plantLongName(v, "OTHER   TXT", "alongn~1.txt")
		}},
		{name: "reserved-attribute-bits", want: "reserved attribute", patch: func(v *vol) {
			v.b[v.entry("OTHER   TXT")+11] |= 0x40
		}},
		{name: "label-in-subdirectory", want: "volume label", patch: func(v *vol) {
			v.b[v.entry("IN      TXT")+11] = 0x08
		}},
		{name: "name-too-long", fixed: true, limit: mediaerr.ErrNameTooLong, want: "NAME_MAX", patch: func(v *vol) {
			// 13 characters of 3 UTF-8 bytes in each part: 18 parts are 234 characters, 702 bytes.
			plantLongName(v, "OTHER   TXT", strings.Repeat("名", 234))
		}},
	}
}

// plantLongName gives the short entry name11 the long name name, written over the free entries
// after the last one of the root directory (the short entry moves behind its long name).
func plantLongName(v *vol, name11, name string) {
	u := utf16Encode(name)
	if len(u)%13 != 0 {
		u = append(u, 0)
	}
	for len(u)%13 != 0 {
		u = append(u, 0xffff)
	}
	parts := len(u) / 13
	r := v.rootOff()
	end := r
	for v.b[end] != 0 {
		end += 32
	}
	e := v.entry(name11)
	short := append([]byte(nil), v.b[e:e+32]...)
	v.b[e] = 0xE5
	sum := shortSum(short)
	for k := parts; k >= 1; k-- {
		l := v.b[end : end+32]
		clear(l)
		l[0] = byte(k)
		if k == parts {
			l[0] |= 0x40
		}
		l[11], l[13] = 0x0f, sum
		for j, o := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
			binary.LittleEndian.PutUint16(l[o:], u[(k-1)*13+j])
		}
		end += 32
	}
	copy(v.b[end:end+32], short)
}

func utf16Encode(s string) []uint16 {
	var u []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			u = append(u, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3ff)))
		} else {
			u = append(u, uint16(r))
		}
	}
	return u
}

// TestHostileClasses plants each class of damage in FAT12, FAT16 and FAT32 volumes made by the
// real tools, checks that fsck.fat -n reports it where it can, and that airlock refuses it with
// the reason; the undamaged volumes pass both.
func TestHostileClasses(t *testing.T) {
	for _, bits := range []int{12, 16, 32} {
		t.Run(fmt.Sprintf("fat%d", bits), func(t *testing.T) {
			base := newVol(t, bits)
			if flagged, out := base.fsck(); flagged {
				t.Fatalf("fsck.fat -n flags the undamaged volume:\n%s", out)
			}
			if _, err := base.open(); err != nil {
				t.Fatalf("undamaged volume refused: %v", err)
			}
			for _, tc := range hostileCases() {
				t.Run(tc.name, func(t *testing.T) {
					if tc.fixed && bits == 32 {
						t.Skip("FAT32's root is one cluster here")
					}
					v := base.clone()
					tc.patch(v)
					flagged, out := v.fsck()
					if tc.fsckSees && !flagged {
						t.Errorf("fsck.fat -n does not flag it (the case plants nothing?):\n%s", out)
					}
					_, err := v.open()
					if !errors.Is(err, mediaerr.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("got %v, want ErrCorrupt with %q (fsck.fat: %v)", err, tc.want, out)
					}
					if tc.limit != nil && !errors.Is(err, tc.limit) {
						t.Fatalf("%v does not match %v", err, tc.limit)
					}
				})
			}
		})
	}
}

// allocChain links n free clusters (searched upward from the middle of the volume, away from
// what mtools wrote) into a chain in every FAT copy and returns its first cluster.
func (v *vol) allocChain(n int) uint32 {
	rd := &reader{p: v.p, fat: newFATTable(bytes.NewReader(v.b), v.p)}
	var got []uint32
	for c := v.p.Clusters/2 + 2; len(got) < n && c <= v.p.Clusters+1; c++ {
		if rd.next(c) == 0 && !v.reserved[c] {
			got = append(got, c)
		}
	}
	if len(got) < n {
		v.t.Fatalf("no room for %d clusters", n)
	}
	for i, c := range got {
		v.reserved[c] = true
		next := v.eoc()
		if i+1 < len(got) {
			next = got[i+1]
		}
		v.setFAT(-1, c, next)
	}
	return got[0]
}

// writeDir writes data (padded with zeros) into the chain from first.
func (v *vol) writeDir(first uint32, data []byte) {
	rd := &reader{p: v.p, fat: newFATTable(bytes.NewReader(v.b), v.p)}
	cs := int(v.p.SectorsPerCluster * v.p.BytesPerSector)
	for c := first; ; c = rd.next(c) {
		n := copy(v.b[v.clusterOff(c):v.clusterOff(c)+cs], data)
		clear(v.b[v.clusterOff(c)+n : v.clusterOff(c)+cs])
		data = data[n:]
		if rd.eoc(rd.next(c)) {
			break
		}
	}
	if len(data) > 0 {
		v.t.Fatal("directory data longer than its chain")
	}
}

// testEntry is a short entry; with a long name, the long-name entries before it.
func testEntry(short string, long string, attr byte, first uint32, size uint32) []byte {
	e := make([]byte, 32)
	copy(e, fmt.Sprintf("%-11s", short))
	e[11] = attr
	binary.LittleEndian.PutUint16(e[26:], uint16(first))
	binary.LittleEndian.PutUint16(e[20:], uint16(first>>16))
	binary.LittleEndian.PutUint32(e[28:], size)
	if long == "" {
		return e
	}
	u := utf16Encode(long)
	if len(u)%13 != 0 {
		u = append(u, 0)
	}
	for len(u)%13 != 0 {
		u = append(u, 0xffff)
	}
	var out []byte
	for k := len(u) / 13; k >= 1; k-- {
		l := make([]byte, 32)
		l[0] = byte(k)
		if k == len(u)/13 {
			l[0] |= 0x40
		}
		l[11], l[13] = 0x0f, shortSum(e)
		for j, o := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
			binary.LittleEndian.PutUint16(l[o:], u[(k-1)*13+j])
		}
		out = append(out, l...)
	}
	return append(out, e...)
}

// plantDeep hangs a chain of depth directories with the long name comp (numbered) under the
// root, and files empty files into the deepest one; the entries are valid in every other way.
func plantDeep(v *vol, depth int, comp string, files int) {
	if v.reserved == nil {
		v.reserved = map[uint32]bool{}
	}
	cs := int(v.p.SectorsPerCluster * v.p.BytesPerSector)
	clustersFor := func(n int) int { return max(1, (n+cs-1)/cs) }
	parent := uint32(0)
	var first []uint32
	for d := 0; d < depth; d++ {
		n := 3*32 + 21*32 // ".", "..", the long-named child
		if d == depth-1 {
			n = 2*32 + files*32
		}
		first = append(first, v.allocChain(clustersFor(n)))
	}
	for d := 0; d < depth; d++ {
		self := first[d]
		data := append(testEntry(".", "", 0x10, self, 0), testEntry("..", "", 0x10, parent, 0)...)
		if d+1 < depth {
			data = append(data, testEntry(fmt.Sprintf("D%07d", d+1), fmt.Sprintf("%s%d", comp, d+1), 0x10, first[d+1], 0)...)
		} else {
			for f := 0; f < files; f++ {
				data = append(data, testEntry(fmt.Sprintf("F%07d", f), "", 0x20, 0, 0)...)
			}
		}
		v.writeDir(self, data)
		parent = self
	}
	// The top directory goes into a free slot of the root.
	top := testEntry("D0000000", comp+"0", 0x10, first[0], 0)
	r := v.rootOff()
	for v.b[r] != 0 {
		r += 32
	}
	copy(v.b[r:], top)
}

// TestBounds: deep trees of long names are refused with the bound's sentinel and name, before
// they cost memory; a tree just inside the bounds is read, and fsck.fat agrees it is valid.
func TestBounds(t *testing.T) {
	base := newVol(t, 16)
	long := strings.Repeat("名", 80) // 240 bytes per name
	for _, tc := range []struct {
		name         string
		depth, files int
		comp         string
		limit        error
		want         string
	}{
		{"inside", 15, 100, long, nil, ""},
		{"inside-path-bytes", 16, 4200, long, nil, ""}, // 16.4 MB of paths
		{"path-max", 20, 1, long, mediaerr.ErrPathTooLong, "PATH_MAX (4096)"},
		{"depth", MaxDepth + 2, 1, "d", mediaerr.ErrTooDeep, "MaxDepth (64)"},
		{"path-bytes", 16, MaxPathBytes / 3800, long, mediaerr.ErrPathBytes, "MaxPathBytes"},
		// Issue 13's stick: 0.75 MB of deep long-named directories ending in 20,000 files
		// (paths of 15 KB, 300 MB of them).
		{"issue13", 60, 20000, strings.Repeat("名", 84), mediaerr.ErrPathTooLong, "PATH_MAX (4096)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := base.clone()
			plantDeep(v, tc.depth, tc.comp, tc.files)
			if out := os.Getenv("AIRLOCK_FAT_DEEP_OUT"); out != "" {
				os.WriteFile(filepath.Join(out, tc.name+".img"), v.b, 0o644)
			}
			_, err := v.open()
			if tc.limit == nil {
				if err != nil {
					t.Fatal(err)
				}
				if flagged, out := v.fsck(); flagged {
					t.Fatalf("fsck.fat -n flags the planted tree:\n%s", out)
				}
				return
			}
			if !errors.Is(err, tc.limit) || !errors.Is(err, mediaerr.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v naming %q", err, tc.limit, tc.want)
			}
		})
	}
}

// TestCountBounds reaches MaxEntries and MaxExtents with lowered values on the standard volume
// (6 entries); a file fragmented into one more run goes over the extents bound.
func TestCountBounds(t *testing.T) {
	v := newVol(t, 12)
	open := func(lim limits) error {
		_, err := open(context.Background(), bytes.NewReader(v.b), int64(len(v.b)), lim)
		return err
	}
	runs := 1 // the fewest runs the volume opens with
	for open(limits{entries: 6, extents: runs}) != nil && runs < 20 {
		runs++
	}
	if err := open(limits{entries: 6, extents: runs}); err != nil {
		t.Fatalf("at the bounds: %v", err)
	}
	if err := open(limits{entries: 5, extents: runs}); !errors.Is(err, mediaerr.ErrTooManyEntries) || !strings.Contains(err.Error(), "MaxEntries (5)") {
		t.Errorf("entries: %v", err)
	}
	// Fragment README.TXT: a second cluster far away makes one more run.
	c, f := v.cluster(v.entry("README  TXT")), v.freeCluster()
	v.setFAT(-1, c, f)
	v.setFAT(-1, f, v.eoc())
	binary.LittleEndian.PutUint32(v.b[v.entry("README  TXT")+28:], 600)
	if err := open(limits{entries: 6, extents: runs}); !errors.Is(err, mediaerr.ErrTooFragmented) || !strings.Contains(err.Error(), fmt.Sprintf("MaxExtents (%d)", runs)) {
		t.Errorf("extents: %v", err)
	}
}

// TestLabelAsBlkid: the label is the root directory's where it disagrees with the boot sector's
// (as Windows leaves it), as blkid says.
func TestLabelAsBlkid(t *testing.T) {
	testenv.Need(t, "blkid")
	v := newVol(t, 16)
	e := v.entry("VOL        ")
	copy(v.b[e:], "WINLABEL   ")
	out, err := exec.Command("blkid", "-p", "-o", "value", "-s", "LABEL", v.save()).Output()
	if err != nil {
		t.Fatal(err)
	}
	vl, err := v.open()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := vl.Label, strings.TrimSpace(string(out)); got != want || vl.BPB.Label != "VOL" {
		t.Fatalf("label %q, blkid %q (boot sector %q)", got, want, vl.BPB.Label)
	}
}
