package appliance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// DriveBurner through the real xorriso into a stdio: pseudo-drive: burn, read back, catch a
// flipped byte with its sector, and refuse a written target instead of waiting for a disc.
func TestDriveBurnerStdio(t *testing.T) {
	testenv.Need(t, "xorriso")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "bundle"), 0o755)
	os.WriteFile(filepath.Join(tree, "bundle", "a.txt"), []byte(strings.Repeat("airlock\n", 2000)), 0o644)
	target := filepath.Join(dir, "disc.iso")
	b := &DriveBurner{Drive: "stdio:" + target}
	ctx := context.Background()
	if ok, err := b.Blank(ctx); !ok || err != nil {
		t.Fatalf("fresh target: blank=%v %v", ok, err)
	}
	var last int64
	res, err := b.Burn(ctx, tree, "TEST", 1700000000, "s1", func(done, total int64) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(target); st == nil || st.Size() < res.Size || last != res.Size {
		t.Fatalf("target %v, size %d, progress %d", st, res.Size, last)
	}
	if err := b.ReadBack(ctx, res, func(int64, int64) {}); err != nil {
		t.Fatalf("read-back of a good burn: %v", err)
	}
	if ok, err := b.Blank(ctx); ok || err == nil || !strings.Contains(err.Error(), "not blank") {
		t.Errorf("written target: blank=%v %v", ok, err)
	}
	// Flip a byte in sector 20 (the file's data): read-back names the sector.
	f, err := os.OpenFile(target, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 1)
	f.ReadAt(one, 20*2048+5)
	one[0] ^= 0xff
	f.WriteAt(one, 20*2048+5)
	f.Close()
	if err := b.ReadBack(ctx, res, func(int64, int64) {}); err == nil || !strings.Contains(err.Error(), "first bad sector 20") {
		t.Errorf("read-back of a flipped byte: %v", err)
	}
	// A fresh file per session in a stdio directory.
	d := &DriveBurner{Drive: "stdio:" + filepath.Join(dir, "discs") + "/"}
	res2, err := d.Burn(ctx, tree, "TEST", 1700000000, "s2", func(int64, int64) {})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Where != filepath.Join(dir, "discs", "s2.iso") || res2.SHA256 != res.SHA256 {
		t.Errorf("per-session image %s, deterministic: %v", res2.Where, res2.SHA256 == res.SHA256)
	}
}
