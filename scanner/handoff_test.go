package scanner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"reflect"
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
	got, err := s.ScanAll(context.Background(), fsys, ".")
	if err != nil {
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
			t.Errorf("%s: ScanFS\n%+v\nScanReader\n%+v", r.Path, r, ref)
		}
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
