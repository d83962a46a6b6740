package appliance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/media"
)

// TestLogMediumCandidates: the boot duties mount a candidate (disk or partition) only when its
// labelled FAT filesystem starts at its first byte: a disk partitioned as airlock log init
// leaves it is found through its partition, never mounted whole; a superfloppy FAT (mkfs.fat on
// the whole disk) is found as the disk; a disk found by serial needs a FAT where it is mounted.
func TestLogMediumCandidates(t *testing.T) {
	testenv.Need(t, "mkfs.fat", "dd")
	ctx := context.Background()
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	os.WriteFile(disk, nil, 0o644)
	os.Truncate(disk, 64<<20)
	if _, err := media.Reformat(ctx, disk, media.FormatOptions{Label: "AIRLOCK-LOG", Files: []media.File{{Name: LogSubdir + "/checkpoint", Data: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(dir, "part.img") // what the kernel shows as the disk's partition 1
	if out, err := exec.Command("dd", "if="+disk, "of="+part, "bs=1M", "skip=1", "status=none").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v %s", err, out)
	}
	floppy := filepath.Join(dir, "floppy.img")
	os.WriteFile(floppy, nil, 0o644)
	os.Truncate(floppy, 32<<20)
	if out, err := exec.Command("mkfs.fat", "-n", "AIRLOCK-LOG", floppy).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.fat: %v %s", err, out)
	}
	for _, c := range []struct {
		dev    string
		label  string
		anyFAT bool
		want   bool
	}{
		{disk, "AIRLOCK-LOG", false, false}, // the label is in partition 1: mounting the disk would fail
		{part, "AIRLOCK-LOG", false, true},
		{part, "airlock-log", false, true},
		{part, "OTHER", false, false},
		{floppy, "AIRLOCK-LOG", false, true},
		{disk, "", true, false}, // found by serial: the disk itself holds no filesystem
		{part, "", true, true},
		{floppy, "", true, true},
		{part, "", false, false},
	} {
		if got := fatAtStart(ctx, c.dev, c.label, c.anyFAT); got != c.want {
			t.Errorf("fatAtStart(%s, %q, anyFAT=%v) = %v, want %v", filepath.Base(c.dev), c.label, c.anyFAT, got, c.want)
		}
	}
}
