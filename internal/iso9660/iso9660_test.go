package iso9660_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/airlock-appliance/airlock/burner"
	"github.com/airlock-appliance/airlock/internal/iso9660"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

func opener(s string) func() (io.Reader, error) {
	return func() (io.Reader, error) { return strings.NewReader(s), nil }
}

// airlockImage is a small image from airlock's writer.
func airlockImage(t testing.TB) []byte {
	t.Helper()
	l, err := burner.NewLayout([]burner.File{
		{Path: "a/b", Size: 3, Open: opener("abc")},
		{Path: "a/c", Size: 5000, Open: opener(strings.Repeat("c", 5000))},
		{Path: "README.TXT", Size: 7, Open: opener("readme\n")},
		{Path: "deep/d2/d3", Dir: true},
	}, burner.Options{Epoch: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// record finds the directory record whose ISO identifier is id.
func record(t *testing.T, b []byte, id string) int {
	t.Helper()
	for i := 16 * 2048; i+33+len(id) <= len(b); i++ {
		if b[i+32] == byte(len(id)) && string(b[i+33:i+33+len(id)]) == id && int(b[i]) >= 33+len(id) {
			return i
		}
	}
	t.Fatalf("no record %q", id)
	return 0
}

func both32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

func open(b []byte, lim *iso9660.Limits) (*iso9660.Image, error) {
	return iso9660.Open(context.Background(), "test.iso", bytes.NewReader(b), int64(len(b)), lim)
}

func TestOpenAirlockImage(t *testing.T) {
	b := airlockImage(t)
	im, err := open(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !im.RockRidge || im.Joliet != nil || im.Boot || len(im.Compressed) != 0 || im.VolumeSize != int64(len(b)) {
		t.Errorf("image %+v", im)
	}
	if !im.Created.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || im.Label != "AIRLOCK" {
		t.Errorf("label %q created %v", im.Label, im.Created)
	}
	if err := fstest.TestFS(im.FS(), "a/b", "a/c", "README.TXT", "deep/d2/d3"); err != nil {
		t.Fatal(err)
	}
	got, _ := fs.ReadFile(im.FS(), "a/c")
	if string(got) != strings.Repeat("c", 5000) {
		t.Errorf("a/c reads %d bytes", len(got))
	}
}

// TestOpenHostile merges the hostile cases of burner's and media's former readers: each crafted
// damage is refused with ErrBad, an error naming the image and the reason, never a panic.
func TestOpenHostile(t *testing.T) {
	good := airlockImage(t)
	root := int(binary.LittleEndian.Uint32(good[16*2048+156+2:]))
	for _, tc := range []struct {
		name string
		mut  func(t *testing.T, b []byte) []byte
		lim  *iso9660.Limits
		want string
	}{
		{"truncated", func(t *testing.T, b []byte) []byte { return b[:17*2048] }, nil, "volume descriptor 17"},
		{"truncated-volume", func(t *testing.T, b []byte) []byte { return b[:len(b)-2048] }, nil, "larger than the medium"},
		{"no CD001", func(t *testing.T, b []byte) []byte { b[16*2048+1] = 'X'; return b }, nil, "no CD001 signature"},
		{"block size", func(t *testing.T, b []byte) []byte { b[16*2048+129] = 2; return b }, nil, "logical block size"},
		{"root outside", func(t *testing.T, b []byte) []byte { both32(b[16*2048+156+2:], 1<<30); return b }, nil, "past the end of the volume"},
		{"directory loop", func(t *testing.T, b []byte) []byte {
			both32(b[record(t, b, "A")+2:], uint32(root))
			return b
		}, nil, "a loop"},
		{"dir extent outside", func(t *testing.T, b []byte) []byte {
			both32(b[record(t, b, "A")+10:], uint32(len(b)))
			return b
		}, nil, "past the end of the volume"},
		{"file past end", func(t *testing.T, b []byte) []byte {
			both32(b[record(t, b, "README.TXT;1")+10:], 1<<31)
			return b
		}, nil, "past the end of the volume"},
		{"record length", func(t *testing.T, b []byte) []byte {
			b[record(t, b, "B.;1")] = 20
			return b
		}, nil, "bad directory record"},
		{"rock ridge name with slash", func(t *testing.T, b []byte) []byte {
			i := bytes.Index(b, []byte("NM\x0f\x01\x00README.TXT"))
			b[i+5+3] = '/'
			return b
		}, nil, `'/'`},
		{"overlapping files", func(t *testing.T, b []byte) []byte {
			c := record(t, b, "C.;1")
			copy(b[record(t, b, "B.;1")+2:], b[c+2:c+10])
			return b
		}, nil, "overlaps"},
		{"file over a directory", func(t *testing.T, b []byte) []byte {
			copy(b[record(t, b, "B.;1")+2:], b[record(t, b, "A")+2:record(t, b, "A")+10])
			return b
		}, nil, "overlaps"},
		{"RE hides a file", func(t *testing.T, b []byte) []byte {
			i := bytes.Index(b, []byte("NM\x06\x01\x00b"))
			copy(b[i:], "RE\x04\x01\x00\x00") // NM (6 bytes) -> RE + a 2-byte tail readers skip
			return b
		}, nil, "hidden by a Rock Ridge RE entry"},
		{"associated file", func(t *testing.T, b []byte) []byte { b[record(t, b, "B.;1")+25] |= 4; return b }, nil, "associated file"},
		{"interleaved", func(t *testing.T, b []byte) []byte { b[record(t, b, "B.;1")+26] = 1; return b }, nil, "interleaved"},
		{"depth", func(t *testing.T, b []byte) []byte { return b }, &iso9660.Limits{MaxDepth: 1, MaxEntries: 100,
			MaxDirBytes: 1 << 20, MaxAllDirBytes: 1 << 20, MaxPathBytes: 4096, MaxNameBytes: 1 << 20, MaxParts: 4}, "nested deeper than 1"},
		{"entries", func(t *testing.T, b []byte) []byte { return b }, &iso9660.Limits{MaxDepth: 8, MaxEntries: 3,
			MaxDirBytes: 1 << 20, MaxAllDirBytes: 1 << 20, MaxPathBytes: 4096, MaxNameBytes: 1 << 20, MaxParts: 4}, "more than 3 entries"},
		{"path bytes", func(t *testing.T, b []byte) []byte { return b }, &iso9660.Limits{MaxDepth: 8, MaxEntries: 100,
			MaxDirBytes: 1 << 20, MaxAllDirBytes: 1 << 20, MaxPathBytes: 8, MaxNameBytes: 1 << 20, MaxParts: 4}, "path longer than 8 bytes"},
		{"directory bytes", func(t *testing.T, b []byte) []byte { return b }, &iso9660.Limits{MaxDepth: 8, MaxEntries: 100,
			MaxDirBytes: 1 << 20, MaxAllDirBytes: 4096, MaxPathBytes: 4096, MaxNameBytes: 1 << 20, MaxParts: 4}, "bytes of directories"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mut(t, append([]byte(nil), good...))
			im, err := open(b, tc.lim)
			if err == nil {
				t.Fatalf("accepted: %+v", im)
			}
			var e *iso9660.Error
			if !errors.Is(err, iso9660.ErrBad) || !errors.As(err, &e) || e.Image != "test.iso" ||
				!strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want ErrBad naming test.iso and %q", err, tc.want)
			}
		})
	}
	im, err := open(good, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../a", "/a", "a/../a", ""} {
		if _, err := im.FS().Open(p); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q): %v", p, err)
		}
	}
	if _, err := im.FS().Open("a/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// TestPeerImages reads what xorriso and genisoimage write: relocated deep directories (CL, RE,
// PL), symbolic links (SL, with a 0-byte extent anywhere), zisofs files (ZF), and Joliet.
func TestPeerImages(t *testing.T) {
	testenv.Need(t, "xorriso", "genisoimage")
	src := t.TempDir()
	deep := filepath.Join(src, "a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
	os.MkdirAll(deep, 0o755)
	os.WriteFile(filepath.Join(deep, "file.txt"), []byte("deep\n"), 0o644)
	os.WriteFile(filepath.Join(src, "big.txt"), bytes.Repeat([]byte("compress me "), 4000), 0o644)
	os.Symlink("a/b/../b/c", filepath.Join(src, "link"))
	os.Symlink("/etc/passwd", filepath.Join(src, "abs"))
	dir := t.TempDir()
	openFile := func(p string) *iso9660.Image {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		im, err := open(b, nil)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(p), err)
		}
		return im
	}
	check := func(im *iso9660.Image) {
		t.Helper()
		b, err := fs.ReadFile(im.FS(), "a/b/c/d/e/f/g/h/i/j/file.txt")
		if err != nil || string(b) != "deep\n" {
			t.Errorf("deep file: %q %v", b, err)
		}
		for p, want := range map[string]string{"link": "a/b/../b/c", "abs": "/etc/passwd"} {
			n := iso9660.Lookup(im.Root, p)
			if n == nil || !n.Symlink || n.Target != want {
				t.Errorf("%s: %+v, want a symlink to %s", p, n, want)
			}
		}
	}
	geniso := filepath.Join(dir, "g.iso")
	run(t, "genisoimage", "-quiet", "-R", "-J", "-o", geniso, src)
	im := openFile(geniso)
	check(im)
	if im.Joliet == nil || im.CheckJoliet() != nil {
		t.Errorf("genisoimage -J: Joliet %v, %v", im.Joliet != nil, im.CheckJoliet())
	}
	if iso9660.Lookup(im.Root, "rr_moved") == nil {
		t.Log("rr_moved not shown")
	}

	xo := filepath.Join(dir, "x.iso")
	run(t, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-rr_reloc_dir", "rr_moved", "-o", xo, src)
	im = openFile(xo)
	check(im)
	if iso9660.Lookup(im.Root, "rr_moved") != nil {
		t.Error("xorriso's RE-marked rr_moved is shown")
	}

	zf := filepath.Join(dir, "z.iso")
	run(t, "xorriso", "-outdev", zf, "-rockridge", "on", "-zisofs", "level=6", "-map", src, "/",
		"-set_filter_r", "--zisofs", "/big.txt", "--", "-commit")
	im = openFile(zf)
	if len(im.Compressed) != 1 || im.Compressed[0] != "big.txt" {
		t.Errorf("zisofs files %v, want [big.txt]", im.Compressed)
	}
	if n := iso9660.Lookup(im.Root, "big.txt"); n == nil || !n.Compressed || n.RealSize != 48000 || n.Size >= 48000 {
		t.Errorf("big.txt: %+v", n)
	}
}

// TestJolietOverOtherExtents: a Joliet tree whose file is not a file of the Rock Ridge tree is
// exposed, and CheckJoliet names it.
func TestJolietOverOtherExtents(t *testing.T) {
	testenv.Need(t, "genisoimage")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("seen"), 0o644)
	os.WriteFile(filepath.Join(src, "b.txt"), []byte("other"), 0o644)
	img := filepath.Join(t.TempDir(), "j.iso")
	run(t, "genisoimage", "-quiet", "-R", "-J", "-o", img, src)
	b, _ := os.ReadFile(img)
	// Point the Joliet record of b.txt at an extent no Rock Ridge file has (the last sector):
	// what a Joliet reader would then extract, airlock's Rock Ridge view never holds.
	var jname []byte
	for _, r := range "b.txt" {
		jname = binary.BigEndian.AppendUint16(jname, uint16(r))
	}
	i := bytes.Index(b, jname)
	if i < 0 {
		t.Fatal("no Joliet record of b.txt")
	}
	rec := i - 33
	if b[rec+32] < 10 || b[rec+32] > 14 {
		t.Fatalf("Joliet record of b.txt not found (id length %d)", b[rec+32])
	}
	last := uint32(len(b)/2048 - 1)
	both32(b[rec+2:], last)
	im, err := open(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if im.Joliet == nil {
		t.Fatal("no Joliet tree")
	}
	if err := im.CheckJoliet(); err == nil || !strings.Contains(err.Error(), "/b.txt") {
		t.Errorf("CheckJoliet: %v", err)
	}
	if got, _ := fs.ReadFile(im.JolietFS(), "b.txt"); len(got) != 5 {
		t.Errorf("Joliet b.txt reads %q", got)
	}
}

// FuzzOpen feeds hostile bytes to the reader: an error or a tree that can be walked and read,
// never a panic, a loop or unbounded work.
func FuzzOpen(f *testing.F) {
	f.Add(airlockImage(f))
	f.Add(airlockImage(f)[:20*2048])
	f.Add(make([]byte, 20*2048))
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := open(data, nil)
		if err != nil {
			if !errors.Is(err, iso9660.ErrBad) {
				t.Fatalf("error not ErrBad: %v", err)
			}
			return
		}
		for _, fsys := range []fs.FS{im.FS(), im.JolietFS()} {
			if fsys == nil {
				continue
			}
			budget := int64(4 << 20)
			fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || budget <= 0 {
					return nil
				}
				if f, err := fsys.Open(p); err == nil {
					k, _ := io.Copy(io.Discard, io.LimitReader(f, budget))
					budget -= k
					f.Close()
				}
				return nil
			})
		}
		im.CheckJoliet()
	})
}
