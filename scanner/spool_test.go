package scanner

import (
	"bytes"
	"context"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"
)

// onceFS serves files as bare readers (no ReadAt, no Seek) and counts opens and bytes read.
type onceFS struct {
	fstest.MapFS
	mu    sync.Mutex
	opens map[string]int
	read  map[string]int64
}

type onceFile struct {
	fs.File
	fsys *onceFS
	name string
}

func (f *onceFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.fsys.mu.Lock()
	f.fsys.read[f.name] += int64(n)
	f.fsys.mu.Unlock()
	return n, err
}

func (o *onceFS) Open(name string) (fs.File, error) {
	f, err := o.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, _ := f.Stat(); st.IsDir() {
		return f, nil
	}
	o.mu.Lock()
	o.opens[name]++
	o.mu.Unlock()
	return &onceFile{File: f, fsys: o, name: name}, nil
}

type memSpool struct {
	mu    sync.Mutex
	files map[string]*spoolBuf
}

type spoolBuf struct{ bytes.Buffer }

func (b *spoolBuf) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(b.Bytes()).ReadAt(p, off)
}

func (m *memSpool) Spool(path string, size int64) (SpoolFile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &spoolBuf{}
	m.files[path] = b
	return b, nil
}

// TestOneReadWithSpool checks that every top-level byte is read from the source once, that the
// spool receives exactly those bytes, and that random access (a zip) is served from the spool.
func TestOneReadWithSpool(t *testing.T) {
	e := eicar()
	files := map[string][]byte{
		"a.zip":     mkZip(t, entry{"in/eicar.com", e}, entry{"ok.txt", []byte("ok")}),
		"b.tar.gz":  gz(t, mkTar(t, entry{"x", bytes.Repeat([]byte("y"), 300<<10)}, entry{"z.zip", mkZip(t, entry{"e", e})})),
		"plain.txt": []byte("nothing to see"),
	}
	fsys := &onceFS{MapFS: mapFS(files), opens: map[string]int{}, read: map[string]int64{}}
	spool := &memSpool{files: map[string]*spoolBuf{}}
	for _, budget := range []int64{0, 64 << 10} { // default budget, and one that forces block scans
		s := testScanner(t, Options{Spool: spool, MemoryBudget: budget, BlockSize: 32 << 10, BlockOverlap: 4 << 10})
		clear(fsys.opens)
		clear(fsys.read)
		res, err := s.ScanAll(context.Background(), fsys, ".")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			want := files[r.Path]
			if fsys.opens[r.Path] != 1 || fsys.read[r.Path] != int64(len(want)) {
				t.Errorf("%s: opened %d times, %d bytes read, size %d", r.Path, fsys.opens[r.Path], fsys.read[r.Path], len(want))
			}
			if !bytes.Equal(spool.files[r.Path].Bytes(), want) {
				t.Errorf("%s: spooled bytes differ", r.Path)
			}
		}
		if len(res) != 3 || res[0].Worst() != Match || findInner(res[0], "a.zip!in/eicar.com") == nil ||
			findInner(res[1], "b.tar.gz!z.zip!e") == nil || findInner(res[1], "b.tar.gz!z.zip!e").Verdict != Match || res[2].Worst() != Clean {
			t.Fatalf("budget %d: results %+v", budget, res)
		}
	}
}
