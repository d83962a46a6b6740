package guix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestResignFile(t *testing.T) {
	f := newQuorumFixture(t, 2)
	appliance, _ := GenerateKey(testRand(200))
	b := f.export(t, 0, nil)
	path := filepath.Join(t.TempDir(), "closure.export")
	os.WriteFile(path, b, 0o600)
	// The spool file changed after the scan: refused, left alone.
	if _, _, err := ResignFile(context.Background(), path, sha256.Sum256([]byte("other")), appliance); !errors.Is(err, ErrChanged) {
		t.Fatalf("err %v, want ErrChanged", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, b) {
		t.Fatal("file changed by a refused re-sign")
	}
	sum, size, err := ResignFile(context.Background(), path, sha256.Sum256(b), appliance)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(path)
	if sum != sha256.Sum256(out) || size != int64(len(out)) {
		t.Fatalf("returned %x %d for %d bytes", sum, size, len(out))
	}
	rep := verifyBytes(t, out, NewACL(appliance.Public()))
	if !rep.Accept || len(rep.Items) != 3 {
		t.Fatalf("re-signed export: %v", rep.Reasons())
	}
	if rep := verifyBytes(t, out, NewACL(f.keys[0].Public())); rep.Accept {
		t.Fatal("still accepted under the builder's key")
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}
