package appliance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func TestMounted(t *testing.T) {
	if !mounted("/proc") {
		t.Error("/proc not seen as mounted")
	}
	if _, err := os.Stat("/sys/kernel"); err == nil && !mounted("/sys") {
		t.Error("/sys not seen as mounted")
	}
	if mounted(t.TempDir()) {
		t.Error("a plain directory seen as a mount point")
	}
}

func TestLoadModulesNotes(t *testing.T) {
	notes := loadModules(filepath.Join(t.TempDir(), "missing"), nil)
	if len(notes) != 1 || !strings.Contains(notes[0], "kernel modules") {
		t.Errorf("notes %q", notes)
	}
}

// The log medium is found by its FAT label, read in userspace without touching the device's
// read-only flag (it is mounted read-write next).
func TestHasLabel(t *testing.T) {
	testenv.Need(t, "mkfs.vfat")
	img := filepath.Join(t.TempDir(), "log.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 40<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.vfat", "-n", "AIRLOCK-LOG", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v\n%s", err, out)
	}
	ctx := context.Background()
	if !hasLabel(ctx, img, "airlock-log") {
		t.Error("label not found")
	}
	if hasLabel(ctx, img, "OTHER") || hasLabel(ctx, img, "") || hasLabel(ctx, img+".missing", "AIRLOCK-LOG") {
		t.Error("wrong label, no label or a missing device accepted")
	}
}
