package scanner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// TestHandoffSameResults: inner files queued to other workers (ScanFS with several workers and
// archives full of small plain files) give exactly the results of a scan without the queue
// (ScanReader), hashes included; matches land on the right inner files.
func TestHandoffSameResults(t *testing.T) {
	var es []entry
	rng := rand.NewChaCha8([32]byte{1})
	want := map[string]string{} // inner name -> sha256
	for i := range 40 {
		data := make([]byte, 1000+i*1499)
		rng.Read(data)
		if i%7 == 3 {
			data = append(append([]byte("prefix "), eicar()...), data...)
		}
		name := fmt.Sprintf("d/f%02d", i)
		es = append(es, entry{name, data})
		sum := sha256.Sum256(data)
		want[name] = hex.EncodeToString(sum[:])
	}
	tarball := mkTar(t, es...)
	fsys := fstest.MapFS{}
	for i, data := range [][]byte{gz(t, tarball), zst(t, tarball), tarball} {
		fsys[fmt.Sprintf("a%d", i)] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	s := testScanner(t, Options{Workers: 3})
	for _, r := range scanSameAsReader(t, s, fsys, newPool()) {
		if len(r.Inner) != len(es) {
			t.Fatalf("%s: %d inner files, want %d", r.Path, len(r.Inner), len(es))
		}
		for i, f := range r.Inner {
			name := es[i].name
			if f.Path != r.Path+"!"+name || f.SHA256 != want[name] {
				t.Errorf("%s: inner %d = %s %s, want %s", r.Path, i, f.Path, f.SHA256, want[name])
			}
			if wantMatch := i%7 == 3; (f.Verdict == Match) != wantMatch || (!wantMatch && f.Verdict != Clean) {
				t.Errorf("%s: verdict %v, want match=%v", f.Path, f.Verdict, wantMatch)
			}
		}
	}
}

// TestHandoffRing: live allocations of the ring never overlap, whatever the order of releases,
// and a ring emptied is wholly usable again.
func TestHandoffRing(t *testing.T) {
	p := newPool()
	rng := rand.New(rand.NewPCG(3, 4))
	var live []*span
	allocs := 0
	for range 20000 {
		if len(live) > 0 && rng.IntN(2) == 0 {
			i := rng.IntN(len(live))
			p.release(live[i])
			live = append(live[:i], live[i+1:]...)
			continue
		}
		n := 1 + rng.IntN(handoffMax)
		sp, buf := p.alloc(n)
		if sp == nil {
			continue
		}
		allocs++
		if len(buf) != n || sp.end-sp.off != n || sp.off < 0 || sp.end > handoffRing {
			t.Fatalf("alloc(%d) = [%d,%d) len %d", n, sp.off, sp.end, len(buf))
		}
		for _, o := range live {
			if sp.off < o.end && o.off < sp.end {
				t.Fatalf("alloc [%d,%d) overlaps live [%d,%d)", sp.off, sp.end, o.off, o.end)
			}
		}
		live = append(live, sp)
	}
	if allocs < 1000 {
		t.Errorf("only %d allocations succeeded", allocs)
	}
	for _, sp := range live {
		p.release(sp)
	}
	if sp, _ := p.alloc(handoffRing); sp == nil {
		t.Error("empty ring cannot give its whole size")
	}
}

// TestLendSameResults: large plain inner files lent to other workers, from the reader's arena
// (over handoffMax) or as spilled temporary files (over the memory budget), next to small ones,
// nested archives and matches at both ends, give exactly the results of ScanReader, which lends
// nothing; the pool saw every kind of hand-off and ends with nothing held.
func TestLendSameResults(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{2})
	big := func(n int, mark int) []byte {
		data := make([]byte, n)
		rng.Read(data)
		switch mark {
		case 1:
			copy(data, eicar())
		case 2:
			copy(data[n-len(eicar()):], eicar())
		}
		return data
	}
	const budget = 8 << 20
	var es []entry
	for i, size := range []int{handoffMax + 1, 5 << 20, 6 << 20, 100, budget + 1, 9 << 20, 3 << 20, 7 << 20, handoffMax + 4096} {
		es = append(es, entry{fmt.Sprintf("big/%02d", i), big(size, i%3)})
	}
	nested := mkTar(t, entry{"n/a", big(5<<20, 1)}, entry{"n/b", big(9<<20, 0)}, entry{"n/c", big(1000, 2)})
	es = append(es[:4], append([]entry{{"nested.tar", nested}}, es[4:]...)...)
	tarball := mkTar(t, es...)
	files := map[string][]byte{}
	for _, e := range es {
		files[e.name] = e.data
	}
	fsys := fstest.MapFS{
		"a.tar.zst": &fstest.MapFile{Data: zst(t, tarball), Mode: 0o644},
		"b.tar":     &fstest.MapFile{Data: tarball, Mode: 0o644},
		"c.tar.gz":  &fstest.MapFile{Data: gz(t, tarball), Mode: 0o644},
		"d.nar":     &fstest.MapFile{Data: dumpDir(t, files), Mode: 0o644},
		// Cut short: the walk makes it unscannable while its own scan, elsewhere, finds EICAR.
		"e.tar": &fstest.MapFile{Data: tarball[:len(tarball)*2/3], Mode: 0o644},
	}
	for _, workers := range []int{2, 3} {
		s := testScanner(t, Options{Workers: workers, MemoryBudget: budget, TempDir: t.TempDir()})
		p := newPool()
		got := scanSameAsReader(t, s, fsys, p)
		// Each archive queued its small files to the ring, lent big ones both ways, and had
		// itself and nested.tar scanned by another worker.
		if p.copied < len(fsys) || p.lentArena < len(fsys) || p.lentFile < len(fsys) || p.containers < len(fsys) ||
			p.lent != 0 || len(p.live) != 0 {
			t.Errorf("workers %d: pool copied %d, lent %d from arenas and %d as files, scanned %d containers, %d lent and %d copies left",
				workers, p.copied, p.lentArena, p.lentFile, p.containers, p.lent, len(p.live))
		}
		for _, r := range got {
			matches := 0
			for _, f := range r.Inner {
				if f.Verdict == Match {
					matches++
				}
				if f.Format == "" && f.Type == "" && f.SHA256 == "" && f.Verdict != Unscannable {
					t.Errorf("%s: no hash", f.Path)
				}
			}
			if r.Path == "e.tar" {
				if r.Verdict != Match || !strings.Contains(r.Reason, "corrupt or unsupported tar") {
					t.Errorf("e.tar: %v %q, want match and the walk's reason", r.Verdict, r.Reason)
				}
				continue
			}
			if want := 9; matches != want { // 6 big files, 2 in nested.tar, and nested.tar itself
				t.Errorf("workers %d: %s: %d inner matches, want %d", workers, r.Path, matches, want)
			}
		}
	}
}

// scanSameAsReader scans every file of fsys with ScanFS's workers sharing p, checks that each
// result is exactly what ScanReader (one worker, no queue) gives, and returns the results.
func scanSameAsReader(t *testing.T, s *Scanner, fsys fstest.MapFS, p *pool) []Result {
	t.Helper()
	var got []Result
	if err := s.scanFS(context.Background(), fsys, ".", func(r Result) { got = append(got, r) }, p); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(fsys) {
		t.Fatalf("%d results, want %d", len(got), len(fsys))
	}
	for _, r := range got {
		ref, err := s.ScanReader(context.Background(), r.Path, bytes.NewReader(fsys[r.Path].Data), int64(len(fsys[r.Path].Data)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, ref) {
			t.Errorf("%s with %d workers: ScanFS\n%+v\nScanReader\n%+v", r.Path, s.opt.Workers, r, ref)
		}
	}
	return got
}
