package bootmedium

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestVolumeUUID: the UUID of an image xorriso made with a fixed volume date is the one GRUB's
// search --fs-uuid is given; a FAT image is not an ISO.
func TestVolumeUUID(t *testing.T) {
	testenv.Need(t, "xorriso", "mkfs.fat")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	img := filepath.Join(t.TempDir(), "v.iso")
	if b, err := exec.Command("xorriso", "-as", "mkisofs", "--modification-date=2026120317114600", "-o", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if u, err := VolumeUUID(img, f); err != nil || u != "2026-12-03-17-11-46-00" {
		t.Errorf("VolumeUUID = %q, %v", u, err)
	}
	fat := filepath.Join(t.TempDir(), "fat.img")
	os.WriteFile(fat, make([]byte, 1<<20), 0o644)
	if b, err := exec.Command("mkfs.fat", fat).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.fat: %v\n%s", err, b)
	}
	g, _ := os.Open(fat)
	defer g.Close()
	if _, err := VolumeUUID(fat, g); !errors.Is(err, ErrNotISO) || !strings.Contains(err.Error(), fat) {
		t.Errorf("FAT image: %v", err)
	}
	if v := FromCmdline("console=ttyS0 airlock.medium=2026-12-03-17-11-46-00 quiet"); v != "2026-12-03-17-11-46-00" {
		t.Errorf("FromCmdline = %q", v)
	}
	if v := FromCmdline("console=ttyS0 quiet"); v != "" {
		t.Errorf("FromCmdline without it = %q", v)
	}
}

// FuzzVolumeUUID: any bytes give a UUID of the fixed form or an error, never a panic.
func FuzzVolumeUUID(f *testing.F) {
	seed := make([]byte, 17*2048)
	copy(seed[16*2048:], "\x01CD001\x01")
	copy(seed[16*2048+830:], "2026120317114600")
	f.Add(seed)
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := VolumeUUID("fuzz", bytes.NewReader(b))
		if err == nil && len(u) != 22 {
			t.Fatalf("UUID %q", u)
		}
	})
}
