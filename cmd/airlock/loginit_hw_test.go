//go:build hwtest

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/airlock-appliance/airlock/appliance"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sealing"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
)

// TestHWLogInitLoop prepares a log medium on a loop device (partition scanning on) and finds
// it as the station's boot duties do: the kernel sees the new partition, its FAT label is the
// policy's audit.log_label, the kernel's vfat mounts it with the station's flags, and the log
// folder opens for appending with the log key.
func TestHWLogInitLoop(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.Need(t, "losetup")
	keys := keysFor(t, "appliance")
	backing := filepath.Join(t.TempDir(), "log.img")
	os.WriteFile(backing, nil, 0o644)
	os.Truncate(backing, 64<<20)
	out, err := exec.Command("losetup", "-f", "--show", "-P", backing).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	// The kernel's read-only flag outlives a detach (media/hw_test.go): start writable.
	exec.Command("blockdev", "--setrw", dev).Run()
	t.Cleanup(func() {
		exec.Command("blockdev", "--setrw", dev).Run()
		exec.Command("losetup", "-d", dev).Run()
	})
	if _, errOut, code := runCLI(t, "log", "init", "--key", filepath.Join(keys, "log.key"), "--allow-loop", "--yes", "--label", "SITE-LOG", dev); code != exitOK {
		t.Fatalf("log init %s: exit %d %s", dev, code, errOut)
	}
	name := filepath.Base(dev)
	part := ""
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && part == ""; time.Sleep(50 * time.Millisecond) {
		if id, err := media.Identify("/sys", name); err == nil && slices.Contains(id.Partitions, name+"p1") {
			part = "/dev/" + name + "p1"
		}
	}
	if part == "" {
		// Some kernels (this project's CI VM among them) scan no partition tables on loop
		// devices: the partition is then attached at its offset, as the kernel would expose it.
		t.Logf("%s: the kernel shows no partition; attaching the partition at 1 MiB", dev)
		out, err := exec.Command("losetup", "-f", "--show", "-o", "1048576", backing).Output()
		if err != nil {
			t.Fatalf("losetup -o: %v", err)
		}
		part = strings.TrimSpace(string(out))
		exec.Command("blockdev", "--setrw", part).Run()
		t.Cleanup(func() { exec.Command("losetup", "-d", part).Run() })
	}
	f, err := os.Open(part)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := f.Seek(0, 2)
	m, err := media.ReadFS(context.Background(), f, size, 512)
	f.Close()
	if err != nil || len(m.Volumes) == 0 || strings.TrimSpace(m.Volumes[0].Label) != "SITE-LOG" {
		t.Fatalf("label of %s: %v %+v", part, err, m)
	}
	if b, _ := os.ReadFile("/proc/filesystems"); !strings.Contains(string(b), "\tvfat\n") && exec.Command("modprobe", "vfat").Run() != nil {
		// A kernel capability the project cannot install (this machine's kernel has no vfat
		// and no modules): TestQEMULogMediumFromLogInit mounts it in the appliance's kernel.
		t.Skip("this kernel has no vfat: the mount is checked in the QEMU image (TestQEMULogMediumFromLogInit)")
	}
	mnt := t.TempDir()
	if err := unix.Mount(part, mnt, "vfat", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_SYNCHRONOUS, "flush"); err != nil {
		t.Fatalf("mount %s: %v", part, err)
	}
	defer unix.Unmount(mnt, 0)
	signer, _ := sealing.LoadNoteSigner(filepath.Join(keys, "log.key"), "")
	dir := filepath.Join(mnt, appliance.LogSubdir)
	l, err := auditlog.Open(dir, signer)
	if err != nil {
		t.Fatalf("open the log on the mounted medium: %v", err)
	}
	if i, err := l.Append(context.Background(), map[string]any{"type": "boot"}); err != nil || i != 1 {
		t.Errorf("append: %d %v", i, err)
	}
	if _, err := l.Checkpoint(); err != nil {
		t.Error(err)
	}
	l.Close()
	v, _ := sealing.LoadNoteVerifier(filepath.Join(keys, "log.vkey"))
	if _, err := auditlog.VerifyDir(dir, v); err != nil {
		t.Errorf("verify after the station's append: %v", err)
	}
}
