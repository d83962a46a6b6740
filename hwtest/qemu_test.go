//go:build qemu || bench

package hwtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/hwtest/vm"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// Timeouts of the QEMU suite. Boot to the uinit takes about 5 s under TCG on an idle machine; the
// limits leave room for a loaded 2-core CI box without letting a hung guest eat the 30-minute budget.
const (
	bootTimeout    = 90 * time.Second
	hotplugTimeout = 30 * time.Second
)

// bootImage returns the kernel and initramfs `make image` built ($AIRLOCK_KERNEL and
// $AIRLOCK_INITRAMFS override them). The QEMU suite runs after `make image`, so a missing image is
// a failure, not a skip.
func bootImage(t *testing.T) (kernel, initramfs string) {
	t.Helper()
	testenv.Need(t, "qemu-system-x86_64")
	build := filepath.Join(testenv.RepoRoot(), "build")
	kernel, initramfs = os.Getenv("AIRLOCK_KERNEL"), os.Getenv("AIRLOCK_INITRAMFS")
	if kernel == "" {
		kernel = filepath.Join(build, "vmlinuz-airlock")
	}
	if initramfs == "" {
		initramfs = filepath.Join(build, "airlock-initramfs.cpio.xz")
	}
	for _, f := range []string{kernel, initramfs} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("boot image: %v (make image builds it)", err)
		}
	}
	return kernel, initramfs
}

// startVM boots the image with cfg (kernel and initramfs filled in) and closes it at the end of
// the test, logging the console transcript if the test failed.
func startVM(t *testing.T, cfg vm.Config) *vm.VM {
	t.Helper()
	cfg.Kernel, cfg.Initramfs = bootImage(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m, err := vm.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		if t.Failed() {
			t.Logf("console transcript:\n%s", m.Transcript())
		}
	})
	return m
}

// uinitLine matches the first line the uinit (/bin/airlock run) prints: the station's line view
// ("airlock: ...") or, while `run` is not implemented, its error ("airlock run: ...").
const uinitLine = `^airlock(:| run:) `

// TestQEMUBootToUinit boots the real image under TCG and measures the time from starting QEMU to
// the first line of the uinit.
func TestQEMUBootToUinit(t *testing.T) {
	m := startVM(t, vm.Config{Append: []string{"quiet"}})
	got, err := m.Expect(context.Background(), bootTimeout, uinitLine+`.*`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("boot to uinit: %.1f s under TCG (first line: %q)", m.Since().Seconds(), got[0])
	fmt.Printf("qemu: boot to the first uinit line: %.1f s\n", m.Since().Seconds())
}

// probeUinit replaces the station with a shell script (u-root's init runs /bbin/uinit before
// /bin/uinit): it prints probeReady and then runs the given shell lines, then idles so the guest
// stays up for hot-plug.
func probeUinit(lines ...string) []vm.File {
	script := "#!/bbin/gosh\necho " + probeReady + "\n" + strings.Join(lines, "\n") +
		"\nwhile true; do sleep 3600; done\n"
	return []vm.File{{Path: "bbin/uinit", Mode: 0o755, Data: script}}
}

const probeReady = "probe: ready"

// kernelHotplug boots the image's kernel and modules with a probe instead of the station: u-root's
// init loads the storage modules (modules_load=) and keeps the console log level high enough to
// show the SCSI layer's notices ("-- -v"), so hot-plug is observed in the guest kernel itself.
func kernelHotplug(t *testing.T, probe ...string) *vm.VM {
	t.Helper()
	mods := "xhci-pci,usb-storage,sd_mod,sr_mod,isofs,vfat"
	m := startVM(t, vm.Config{
		Append:  []string{"loglevel=7", "modules_load=" + mods, "--", "-v"},
		Overlay: probeUinit(probe...),
	})
	if _, err := m.Expect(context.Background(), bootTimeout, "^"+probeReady+"$"); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestQEMUHotplugStickKernel hot-plugs a USB stick through QMP, sees the guest kernel attach it as
// a removable SCSI disk of the right size, pulls it with device_del and sees the disconnect.
func TestQEMUHotplugStickKernel(t *testing.T) {
	testenv.Need(t, "mkfs.fat")
	ctx := context.Background()
	stick := fatImage(t, 16<<20, "LOWSIDE")
	m := kernelHotplug(t)
	if err := m.PlugStick(vm.Stick{ID: "stick1", Path: stick, Serial: "AIRLOCKTEST01", ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// sd_mod prints the capacity in 512-byte blocks: 16 MiB = 32768.
	got, err := m.Expect(ctx, hotplugTimeout, `\[(sd[a-z]+)\] 32768 512-byte logical blocks`)
	if err != nil {
		t.Fatal(err)
	}
	dev := got[1]
	if _, err := m.Expect(ctx, hotplugTimeout, `\[`+dev+`\] Attached SCSI removable disk`); err != nil {
		t.Fatal(err)
	}
	t.Logf("stick attached as %s %.1f s after device_add", dev, time.Since(start).Seconds())
	if err := m.Unplug(ctx, "stick1"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect(ctx, hotplugTimeout, `usb \d+-\d+: USB disconnect`); err != nil {
		t.Fatal(err)
	}
}

// TestQEMUOpticalDriveKernel plugs a USB optical drive (usb-bot + scsi-cd), inserts an ISO image
// with blockdev-change-medium, ejects it, and checks the guest kernel saw a CD-ROM drive.
func TestQEMUOpticalDriveKernel(t *testing.T) {
	testenv.Need(t, "xorriso")
	ctx := context.Background()
	iso := isoImage(t)
	// The probe reads the primary volume descriptor (sector 16) of whatever disc is in sr0 and
	// reports its volume label, proving the guest reads the disc through the USB drive.
	m := kernelHotplug(t,
		"while true; do",
		"  if dd if=/dev/sr0 of=/tmp/pvd bs=2048 skip=16 count=1; then",
		"    if grep -q AIRLOCKTEST /tmp/pvd; then echo probe: disc AIRLOCKTEST; break; fi",
		"  fi",
		"  sleep 1",
		"done")
	if err := m.PlugOpticalDrive("cd1"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect(ctx, hotplugTimeout, `scsi \d+:0:0:0: CD-ROM\s+QEMU`); err != nil {
		t.Fatal(err)
	}
	if err := m.ChangeDisc("cd1", iso); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect(ctx, hotplugTimeout, `^probe: disc AIRLOCKTEST$`); err != nil {
		t.Fatal(err)
	}
	if err := m.EjectDisc("cd1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Unplug(ctx, "cd1"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect(ctx, hotplugTimeout, `usb \d+-\d+: USB disconnect`); err != nil {
		t.Fatal(err)
	}
}

// fatImage makes a FAT-formatted stick image of size bytes with one small file.
func fatImage(t *testing.T, size int64, label string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stick.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, "mkfs.fat", "-n", label, p)
	return p
}

// isoImage makes a small ISO9660 image with xorriso.
func isoImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello from the low side\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "disc.iso")
	run(t, "xorriso", "-as", "mkisofs", "-R", "-V", "AIRLOCKTEST", "-o", p, src)
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
