package fstree

import (
	"bytes"
	"io"
	"io/fs"
	"math/rand/v2"
	"testing"
	"testing/fstest"
)

// TestFragmentedFile reads a file scattered over many extents at every alignment.
func TestFragmentedFile(t *testing.T) {
	dev := make([]byte, 1<<16)
	for i := range dev {
		dev[i] = byte(i * 13)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var want []byte
	var ext []Extent
	for i := 0; i < 200; i++ {
		off := rng.Int64N(int64(len(dev) - 64))
		n := 1 + rng.Int64N(63)
		ext = append(ext, Extent{Off: off, Len: n})
		want = append(want, dev[off:off+n]...)
	}
	root := &Node{Dir: true, Children: []*Node{{Name: "f", Size: int64(len(want)), Extents: ext},
		{Name: "d", Dir: true, Children: []*Node{{Name: "empty"}}}}}
	if err := root.Sort("/"); err != nil {
		t.Fatal(err)
	}
	fsys := &FS{R: bytes.NewReader(dev), Root: root}
	got, err := fs.ReadFile(fsys, "f")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadFile: %v", err)
	}
	f, _ := fsys.Open("f")
	ra := f.(io.ReaderAt)
	for off := 0; off < len(want); off += 37 {
		b := make([]byte, 100)
		n, err := ra.ReadAt(b, int64(off))
		if !bytes.Equal(b[:n], want[off:min(off+100, len(want))]) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt %d: %d %v", off, n, err)
		}
	}
	if err := fstest.TestFS(fsys, "f", "d/empty"); err != nil {
		t.Fatal(err)
	}
}

func TestCheckName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "a\\b", "a\x00", "\x1f", "a\x7f", "\xff", "a\u0085"} {
		if CheckName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"a", "ünïcødé 名前.txt", "...", ".hidden", "a b"} {
		if err := CheckName(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}

// TestReadAtEndAndModes: a read that fills p at the very end of a file returns no error (the
// ISO readers' callers check that), one past it io.EOF; Mode and Sys are the reader's when set.
func TestReadAtEndAndModes(t *testing.T) {
	dev := []byte("0123456789")
	rec := "the reader's record"
	root := &Node{Dir: true, Children: []*Node{
		{Name: "f", Size: 4, Extents: []Extent{{Off: 2, Len: 2}, {Off: 7, Len: 2}}, Sys: rec},
		{Name: "l", Mode: fs.ModeSymlink | 0o777},
	}}
	fsys := &FS{R: bytes.NewReader(dev), Root: root}
	f, err := fsys.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	ra := f.(io.ReaderAt)
	b := make([]byte, 2)
	if n, err := ra.ReadAt(b, 2); n != 2 || err != nil || string(b) != "78" {
		t.Fatalf("ReadAt at the end: %d %v %q", n, err, b)
	}
	if n, err := ra.ReadAt(make([]byte, 3), 2); n != 2 || err != io.EOF {
		t.Fatalf("ReadAt past the end: %d %v", n, err)
	}
	for name, want := range map[string]fs.FileMode{".": fs.ModeDir | 0o555, "f": 0o444, "l": fs.ModeSymlink | 0o777} {
		st, err := fsys.Stat(name)
		if err != nil || st.Mode() != want {
			t.Errorf("%s: mode %v %v, want %v", name, st.Mode(), err, want)
		}
	}
	if st, _ := fsys.Stat("f"); st.Sys() != rec {
		t.Errorf("Sys %v", st.Sys())
	}
}
