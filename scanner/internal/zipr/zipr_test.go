package zipr

import (
	"archive/zip"
	"bytes"
	"testing"
)

func mkZip(t testing.TB, names ...string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("data of " + n))
	}
	zw.Close()
	return b.Bytes()
}

// TestAgreeingZipHasNoProblems: what archive/zip writes (data descriptors included) has one view.
func TestAgreeingZipHasNoProblems(t *testing.T) {
	z := mkZip(t, "a", "b/c", "d")
	a, err := Open(bytes.NewReader(z), int64(len(z)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Entries) != 3 || len(a.Problems) != 0 || a.Base != 0 {
		t.Fatalf("entries %d, base %d, problems %q", len(a.Entries), a.Base, a.Problems)
	}
	prefixed := append([]byte("#!/bin/sh\nexit 0\n"), z...)
	a, err = Open(bytes.NewReader(prefixed), int64(len(prefixed)), Limits{})
	if err != nil || a.Base != 17 || len(a.Problems) != 0 || a.PrefixHasLocal() {
		t.Fatalf("prefixed: %v base %d problems %q", err, a.Base, a.Problems)
	}
}

// FuzzOpen: any bytes give an archive or an error, never a panic, and entries stay inside the file.
func FuzzOpen(f *testing.F) {
	f.Add(mkZip(f, "a", "b"))
	f.Add(append([]byte("prefix"), mkZip(f, "x")...))
	f.Add(append(mkZip(f, "x"), "trailing"...))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Open(bytes.NewReader(data), int64(len(data)), Limits{MaxEntries: 1000, MaxName: 4096})
		if err != nil {
			return
		}
		for i := range a.Entries {
			e := &a.Entries[i]
			if r, err := a.Data(e); err == nil && (e.DataOffset < 0 || e.DataOffset+r.Size() > int64(len(data))) {
				t.Fatalf("entry %q data [%d,+%d) outside the file of %d bytes", e.Name, e.DataOffset, r.Size(), len(data))
			}
		}
		a.PrefixHasLocal()
	})
}
