package burner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var testEpoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// makeTree writes the awkward tree every image test uses: long and UTF-8 names, names that
// collide once reduced to ISO9660 d-characters, 10-level deep directories, empty files and
// directories, sizes around sector boundaries, and a directory whose records span sectors.
func makeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rnd := rand.New(rand.NewPCG(1, 2))
	put := func(p string, size int) {
		t.Helper()
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		if err := os.WriteFile(full, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	put("empty", 0)
	put("one", 1)
	put("bundle/sector-1.bin", 2047)
	put("bundle/sector.bin", 2048)
	put("bundle/sector+1.bin", 2049)
	put("bundle/big.nar", 300_000)
	put("bundle/empty.nar", 0)
	// ISO collisions: all of these are A_TXT / A.TXT / A_TXT_1 ... to a reader without Rock Ridge.
	for _, n := range []string{"a.txt", "A.TXT", "a_txt", "A_TXT", "a.TXT", "a-txt", "a txt", "a..txt"} {
		put("collide/"+n, len(n))
	}
	put("collide/dir.d/x", 3)
	put("collide/DIR.D/x", 4)
	put("collide/dir_d/x", 5)
	// Long names: 255 bytes (two NM entries, continuation area), UTF-8, spaces, leading dot/dash.
	put("names/"+strings.Repeat("x", 255), 10)
	put("names/"+strings.Repeat("é", 127), 11) // 254 bytes
	put("names/Ünïcödé 漢字 — ελληνικά.txt", 12)
	put("names/with space and 'quote'.tar.gz", 13)
	put("names/.hidden", 14)
	put("names/-dash", 15)
	put("names/UPPER.TXT", 16)
	put("names/upper.txt", 17)
	put("names/"+strings.Repeat("long-dir-name-", 10)+"/"+strings.Repeat("y", 200)+".json", 18)
	// Many entries: the directory and the continuation areas span several sectors.
	for i := range 150 {
		put("many/"+strings.Repeat("n", 100+i%100)+"-"+string(rune('a'+i%26))+string(rune('0'+i%10))+
			strings.Repeat("z", i%7)+".file", i)
	}
	// 10 levels deep, and deeper.
	deep := "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10"
	put(deep+"/deep.txt", 100)
	put(deep+"/d11/d12/deeper.txt", 101)
	put("d1/d2/d3/d4/d5/d6/d7/d8/leaf8.txt", 102)
	if err := os.MkdirAll(filepath.Join(dir, "emptydir", "nested-empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func buildImage(t *testing.T, src string, opts Options) (string, *Layout) {
	t.Helper()
	l, err := FromDir(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "out.iso")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	n, err := l.WriteTo(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n != l.Size() {
		t.Fatalf("wrote %d bytes, Size() said %d", n, l.Size())
	}
	if st, _ := os.Stat(img); st.Size() != l.Size() {
		t.Fatalf("image is %d bytes, Size() said %d", st.Size(), l.Size())
	}
	return img, l
}

func TestReadersAgree(t *testing.T) {
	src := makeTree(t)
	want, err := listDir(src)
	if err != nil {
		t.Fatal(err)
	}
	img, l := buildImage(t, src, Options{Label: "airlock-test", Epoch: testEpoch})
	checkReaders(t, img, l, want)
}

func TestDeterministic(t *testing.T) {
	src := makeTree(t)
	a, _ := buildImage(t, src, Options{Label: "x", Epoch: testEpoch})
	// Same content under other modes and times: the image must not change.
	filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			os.Chtimes(p, time.Now(), time.Now())
			if !d.IsDir() {
				os.Chmod(p, 0o755)
			}
		}
		return nil
	})
	b, _ := buildImage(t, src, Options{Label: "x", Epoch: testEpoch})
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		t.Fatal("two builds of the same tree differ")
	}
	c, _ := buildImage(t, src, Options{Label: "x", Epoch: testEpoch.Add(time.Second)})
	cb, _ := os.ReadFile(c)
	if bytes.Equal(ab, cb) {
		t.Fatal("a different epoch gave the same image")
	}
}

// TestStreamFromReaders builds from openers (as the appliance does from its spool) and checks
// that the bytes equal the build from the directory.
func TestStreamFromReaders(t *testing.T) {
	files := []File{
		{Path: "b/x", Size: 5, Open: func() (io.Reader, error) { return strings.NewReader("hello"), nil }},
		{Path: "a", Size: 0, Open: func() (io.Reader, error) { return strings.NewReader(""), nil }},
		{Path: "c", Dir: true},
	}
	l, err := NewLayout(files, Options{Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != l.Size() {
		t.Fatalf("wrote %d, Size %d", buf.Len(), l.Size())
	}
	fsys, err := OpenISO(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := listFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("hello"))
	empty := sha256.Sum256(nil)
	want := listing{"a": hexs(empty[:]), "b": "dir", "b/x": hexs(sum[:]), "c": "dir"}
	if d := got.diff(want); d != "" {
		t.Fatalf("read back:\n%s", d)
	}
}

func hexs(b []byte) string {
	const h = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, h[c>>4], h[c&15])
	}
	return string(out)
}

func TestSizeMismatch(t *testing.T) {
	for _, tc := range []struct {
		size int64
		data string
	}{{5, "four"}, {3, "four"}, {0, "x"}} {
		l, err := NewLayout([]File{{Path: "f", Size: tc.size, Open: func() (io.Reader, error) {
			return strings.NewReader(tc.data), nil
		}}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.WriteTo(io.Discard); !errors.Is(err, ErrSizeMismatch) {
			t.Errorf("size %d data %q: err %v, want ErrSizeMismatch", tc.size, tc.data, err)
		}
	}
}

func TestBadPaths(t *testing.T) {
	open := func() (io.Reader, error) { return strings.NewReader(""), nil }
	for _, p := range []string{"", "/abs", "a/../b", "a//b", "./a", "a/.", strings.Repeat("x", 256), "nul\x00", "bad\xff"} {
		if _, err := NewLayout([]File{{Path: p, Open: open}}, Options{}); !errors.Is(err, ErrBadPath) {
			t.Errorf("path %q: err %v, want ErrBadPath", p, err)
		}
	}
	if _, err := NewLayout([]File{{Path: "a", Open: open}, {Path: "a", Open: open}}, Options{}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate: err %v", err)
	}
	if _, err := NewLayout([]File{{Path: "a", Open: open}, {Path: "a/b", Open: open}}, Options{}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("file as dir: err %v", err)
	}
	if _, err := NewLayout(nil, Options{Epoch: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("epoch 2200 accepted")
	}
}

func TestISONamesUnique(t *testing.T) {
	nm := newISONamer()
	seen := map[string]bool{}
	for _, n := range []string{"a.txt", "A.TXT", "a_txt", "a.txt.", strings.Repeat("q", 40) + ".verylongextension",
		strings.Repeat("q", 40) + ".verylongextension2", "x", "x.", "X"} {
		id := nm.name(n, false)
		shown := strings.TrimSuffix(strings.TrimSuffix(id, ";1"), ".")
		if seen[shown] {
			t.Errorf("%q -> %q collides", n, id)
		}
		seen[shown] = true
		if base, ext, _ := splitID(id); len(base)+len(ext) > maxFileID {
			t.Errorf("%q -> %q too long", n, id)
		}
	}
}

func TestWriteCancelled(t *testing.T) {
	l, err := NewLayout([]File{{Path: "f", Size: 5, Open: constOpener("hello")}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Write(ctx, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write: %v", err)
	}
}

func TestFromFS(t *testing.T) {
	fsys := fstest.MapFS{
		"a/b.txt":    {Data: []byte("b")},
		"a/c/d.json": {Data: []byte("{}")},
		"e":          {Data: nil},
		"emptydir":   {Mode: fs.ModeDir | 0o755},
	}
	l, err := FromFS(fsys, Options{Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	iso, err := OpenISO(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := listFS(iso)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := listFS(fsys)
	if d := got.diff(want); d != "" {
		t.Fatalf("FromFS round trip:\n%s", d)
	}
	bad := fstest.MapFS{"link": {Mode: fs.ModeSymlink, Data: []byte("target")}}
	if _, err := FromFS(bad, Options{}); err == nil {
		t.Error("symlink accepted")
	}
}
