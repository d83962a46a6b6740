package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestGuixVectors: every vector file the set lists is present and matches SHA256SUMS (which
// WriteGuixVectors checks, and this test checks again from the written files).
func TestGuixVectors(t *testing.T) {
	dir := GuixVectors(t)
	sums, err := readSums(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) < 25 {
		t.Fatalf("SHA256SUMS lists %d files", len(sums))
	}
	v := &vectorSet{sums: sums}
	for name := range sums {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.check(name, b); err != nil {
			t.Error(err)
		}
	}
}

// TestGuixVectorsTampered: a changed committed file, or a stale derived one, never passes.
func TestGuixVectorsTampered(t *testing.T) {
	src := filepath.Join(RepoRoot(), GuixVectorsSource)
	copyDir := func(t *testing.T) string {
		dst := t.TempDir()
		if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	t.Run("source", func(t *testing.T) {
		s := copyDir(t)
		p := filepath.Join(s, sansRandom)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WriteGuixVectors(s, t.TempDir()); !errors.Is(err, ErrVectorSum) {
			t.Fatalf("tampered %s: err = %v, want ErrVectorSum", sansRandom, err)
		}
	})
	t.Run("stale", func(t *testing.T) {
		dst := t.TempDir()
		if err := os.WriteFile(filepath.Join(dst, "truncated.export"), []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WriteGuixVectors(src, dst); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dst, "truncated.export"))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 3161788 {
			t.Fatalf("stale truncated.export kept: %d bytes", len(b))
		}
	})
}
