package burner

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestOpenISOPeerImages reads images made by xorriso: Rock Ridge (its layout, not ours) and
// Joliet-only (names from the Joliet tree).
func TestOpenISOPeerImages(t *testing.T) {
	testenv.Need(t, "xorriso")
	src := makeTree(t)
	want, err := listDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"rockridge", []string{"-R"}},
		{"rockridge-no-deep-relocation", []string{"-R", "-D"}},
		// Relocated deep directories (CL / RE / PL) appear at their original place.
		{"rockridge-relocated", []string{"-R", "-rr_reloc_dir", "rr_moved"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "x.iso")
			args := append(append([]string{"-as", "mkisofs"}, tc.args...), "-o", img, src)
			if out, err := exec.Command("xorriso", args...).CombinedOutput(); err != nil {
				t.Fatalf("xorriso: %v\n%s", err, out)
			}
			got, err := readOurs(t, img)
			if err != nil {
				t.Fatal(err)
			}
			if d := got.diff(want); d != "" {
				t.Errorf("OpenISO of xorriso's image:\n%s", d)
			}
		})
	}
	t.Run("joliet", func(t *testing.T) {
		small := t.TempDir()
		os.MkdirAll(filepath.Join(small, "Dir Ü"), 0o755)
		os.WriteFile(filepath.Join(small, "Dir Ü", "Mixed Case name.txt"), []byte("j"), 0o644)
		img := filepath.Join(t.TempDir(), "j.iso")
		if out, err := exec.Command("xorriso", "-as", "mkisofs", "-J", "-o", img, small).CombinedOutput(); err != nil {
			t.Fatalf("xorriso: %v\n%s", err, out)
		}
		got, err := readOurs(t, img)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := listDir(small)
		if d := got.diff(w); d != "" {
			t.Errorf("Joliet names:\n%s", d)
		}
	})
}

// TestOpenISOHostile: crafted damage is refused with ErrBadImage, never a panic.
func TestOpenISOHostile(t *testing.T) {
	files := []File{{Path: "a/b", Size: 3, Open: constOpener("abc")}, {Path: "a/c", Size: 1, Open: constOpener("x")}}
	l, err := NewLayout(files, Options{Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	l.WriteTo(&buf)
	good := buf.Bytes()
	a := l.root.children[0]
	rootExt := int(l.root.lba) * SectorSize
	aRec := rootExt + l.dotLen(l.root, true) + l.dotLen(l.root, false) // record of "a" in the root
	for _, tc := range []struct {
		name string
		mut  func(b []byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:17*SectorSize] }},
		{"no CD001", func(b []byte) []byte { b[16*SectorSize+1] = 'X'; return b }},
		{"block size", func(b []byte) []byte { b[16*SectorSize+129] = 2; return b }},
		{"root outside", func(b []byte) []byte {
			both32(b[16*SectorSize+156+2:], 1<<30)
			return b
		}},
		{"dir is its own child", func(b []byte) []byte {
			both32(b[aRec+2:], l.root.lba) // "a" points at the root's extent
			return b
		}},
		{"dir extent outside", func(b []byte) []byte {
			both32(b[aRec+10:], uint32(len(b)))
			return b
		}},
		{"record length", func(b []byte) []byte {
			b[int(a.lba)*SectorSize+l.dotLen(a, true)+l.dotLen(a, false)] = 20
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mut(append([]byte(nil), good...))
			fsys, err := OpenISO(bytes.NewReader(b), int64(len(b)))
			if err == nil {
				_, err = listFS(fsys)
			}
			if !errors.Is(err, ErrBadImage) {
				t.Errorf("err %v, want ErrBadImage", err)
			}
		})
	}
	// Paths that leave the tree are refused.
	fsys, err := OpenISO(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../a", "/a", "a/../a", ""} {
		if _, err := fsys.Open(p); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q): %v", p, err)
		}
	}
	if _, err := fsys.Open("a/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestVolumeSizeAndOpenFile(t *testing.T) {
	img, l := buildImage(t, makeTree(t), Options{Epoch: testEpoch})
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := VolumeSize(f); err != nil || n != l.Size() {
		t.Fatalf("VolumeSize %d %v, want %d", n, err, l.Size())
	}
	fsys, g, err := OpenFile(img)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := fs.Stat(fsys, "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deep.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := VolumeSize(bytes.NewReader(make([]byte, 20*SectorSize))); !errors.Is(err, ErrBadImage) {
		t.Errorf("zeros: %v", err)
	}
	if _, _, err := OpenFile(filepath.Join(t.TempDir(), "missing.iso")); err == nil {
		t.Error("missing file opened")
	}
}
