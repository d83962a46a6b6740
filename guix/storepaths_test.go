package guix

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadStorePaths(t *testing.T) {
	dir := t.TempDir()
	good := StoreDir + "/" + strings.Repeat("0", 32) + "-hello-2.12"
	p := filepath.Join(dir, "present")
	os.WriteFile(p, []byte("# high side, 2026-12-03\n\n  "+good+"  \n"), 0o644)
	got, err := LoadStorePaths(p)
	if err != nil || !reflect.DeepEqual(got, []string{good}) {
		t.Fatalf("LoadStorePaths = %q, %v", got, err)
	}
	// A mistyped path would silently never match: it fails with file and line.
	os.WriteFile(p, []byte(good+"\n/gnu/store/not-a-hash-hello\n"), 0o644)
	_, err = LoadStorePaths(p)
	if !errors.Is(err, ErrStorePath) || !strings.Contains(err.Error(), p+":2:") {
		t.Fatalf("bad line: %v", err)
	}
	if _, err := LoadStorePaths(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("absent file: %v", err)
	}
}
