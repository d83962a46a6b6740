//go:build qemu

package hwtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/hwtest/vm"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// mediumBootTimeout bounds one boot of the medium to READY. Under TCG on an idle machine a boot
// takes 15-25 s (firmware, GRUB reading 20 MiB through BIOS or UEFI calls, the kernel); the
// limit leaves room for a loaded 2-core CI box.
const mediumBootTimeout = 120 * time.Second

// buildBootMedium runs scripts/boot-medium.sh (the demo medium, from make image's kernel and
// initramfs) into out and returns the image's path and its SHA-256.
func buildBootMedium(t *testing.T, out string) (string, string) {
	t.Helper()
	cmd := exec.Command("bash", "scripts/boot-medium.sh")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "OUT="+out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/boot-medium.sh: %v\n%s", err, b)
	}
	img := filepath.Join(out, "airlock-demo.iso")
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return img, hex.EncodeToString(sum[:])
}

// TestQEMUBootMedium builds the demo boot medium twice (the two must be byte for byte the same),
// checks its layout with stock tools (xorriso's El Torito and system area reports, fdisk's view
// of the GPT, fsck.fat on the EFI system partition, isoinfo's file list), then boots it four
// ways, as a CD and as a USB stick, with SeaBIOS and with OVMF, each time until the station
// says READY.
func TestQEMUBootMedium(t *testing.T) {
	testenv.Need(t, "qemu-system-x86_64", "xorriso", "grub-mkimage", "mkfs.fat", "mcopy", "fdisk", "fsck.fat", "isoinfo")
	if _, err := os.Stat(vm.OVMFPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("OVMF: %v (make deps installs ovmf)", err)
		}
		t.Skipf("OVMF: %v (make deps installs ovmf)", err)
	}
	bootImage(t) // make image's kernel and initramfs must be there
	dir := t.TempDir()
	img, sum1 := buildBootMedium(t, filepath.Join(dir, "a"))
	time.Sleep(1100 * time.Millisecond) // a second build in another second, another folder
	_, sum2 := buildBootMedium(t, filepath.Join(dir, "b"))
	if sum1 != sum2 {
		t.Fatalf("two builds of the boot medium differ: %s and %s", sum1, sum2)
	}
	st, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("boot medium: %d bytes, sha256 %s (two builds)", st.Size(), sum1)
	checkMediumLayout(t, img)

	for _, as := range []vm.MediumKind{vm.MediumCD, vm.MediumUSB} {
		for _, fw := range []vm.Firmware{vm.SeaBIOS, vm.OVMF} {
			t.Run(fmt.Sprintf("%v-%v", as, fw), func(t *testing.T) {
				s := bootMedium(t, img, as, fw)
				if as == vm.MediumUSB {
					// The station sees its own boot stick as a USB disk: the guard must refuse it
					// (grub.cfg's airlock.medium names its volume UUID), not offer it a job.
					got, err := s.ExpectAny(context.Background(), hotplugTimeout,
						regexp.MustCompile(`^airlock: device ignored (/dev/sd[a-z]+) .*rule boot-medium`), promptRE)
					if err != nil {
						t.Fatal(err)
					}
					if promptRE.MatchString(got[0]) {
						t.Fatalf("the station offers a job for its own boot stick: %q", got[0])
					}
					t.Logf("boot stick %s refused: %q", got[1], got[0])
				}
				t.Logf("%v under %v: boot to READY %.1f s under TCG", as, fw, s.ready.Seconds())
				fmt.Printf("qemu: boot medium %v %v: READY in %.1f s\n", as, fw, s.ready.Seconds())
			})
		}
	}
}

// checkMediumLayout asserts what makes the image boot each way, as stock tools see it.
func checkMediumLayout(t *testing.T, img string) {
	t.Helper()
	rep := run(t, "xorriso", "-indev", img, "-report_el_torito", "plain", "-report_system_area", "plain")
	for _, want := range []string{
		"El Torito boot img :   1  BIOS  y   none",
		"El Torito img path :   1  /boot/grub/i386-pc/eltorito.img",
		"El Torito img path :   2  /efi.img",
		"System area summary: MBR protective-msdos-label grub2-mbr cyl-align-off GPT",
		"GPT partition path :   2  /efi.img",
		"GPT type GUID      :   2  28732ac11ff8d211ba4b00a0c93ec93b", // EFI system partition
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("xorriso report lacks %q:\n%s", want, rep)
		}
	}
	if !strings.Contains(rep, "UEFI  y   none") {
		t.Errorf("no bootable UEFI El Torito entry:\n%s", rep)
	}
	fd := run(t, "fdisk", "-l", img)
	if !strings.Contains(fd, "Disklabel type: gpt") || !strings.Contains(fd, "EFI System") {
		t.Errorf("fdisk sees no GPT with an EFI system partition:\n%s", fd)
	}
	// The EFI system partition as a stick's firmware reads it: its own FAT file system holding
	// the removable-media boot path.
	esp := filepath.Join(t.TempDir(), "efi.img")
	run(t, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/efi.img", esp)
	run(t, "fsck.fat", "-n", esp)
	if ls := run(t, "mdir", "-i", esp, "-b", "::/EFI/BOOT"); !strings.Contains(ls, "BOOTX64.EFI") {
		t.Errorf("efi.img has no /EFI/BOOT/BOOTX64.EFI:\n%s", ls)
	}
	files := run(t, "isoinfo", "-R", "-f", "-i", img)
	for _, f := range []string{"/boot/vmlinuz", "/boot/initramfs.cpio.xz", "/boot/grub/grub.cfg", "/SHA256SUMS"} {
		if !strings.Contains("\n"+files+"\n", "\n"+f+"\n") {
			t.Errorf("isoinfo does not list %s:\n%s", f, files)
		}
	}
	// The medium's own checksums hold for the files as a stock extractor reads them.
	x := filepath.Join(t.TempDir(), "x")
	run(t, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/", x)
	cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	cmd.Dir = x
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c SHA256SUMS on the medium: %v\n%s", err, b)
	}
	// The initramfs is make image's, byte for byte.
	want, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "build", "airlock-initramfs.cpio.xz"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(x, "boot", "initramfs.cpio.xz"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the medium's initramfs is not build/airlock-initramfs.cpio.xz")
	}
}

// bootMedium boots the machine from img through its firmware, with the station's target and
// audit log disks, and waits for the station's first READY.
func bootMedium(t *testing.T, img string, as vm.MediumKind, fw vm.Firmware) *station {
	t.Helper()
	dir := t.TempDir()
	s := &station{target: filepath.Join(dir, "target.img"), logDisk: filepath.Join(dir, "log.img")}
	mkfile(t, s.target, 64<<20)
	mkfile(t, s.logDisk, 32<<20)
	run(t, "mkfs.fat", "-n", "AIRLOCK-LOG", s.logDisk)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m, err := vm.Start(ctx, vm.Config{
		MemoryMiB: 2048,
		Medium:    img,
		MediumAs:  as,
		Firmware:  fw,
		Disks: []vm.Disk{
			{ID: "target", Path: s.target, Serial: "AIRLOCK-TARGET"},
			{ID: "auditlog", Path: s.logDisk, Serial: "AIRLOCK-LOG"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		if t.Failed() {
			t.Logf("console transcript:\n%s", m.Transcript())
		}
	})
	s.VM = m
	// GRUB's line proves the medium's loader ran (not a kernel QEMU was handed).
	if _, err := m.Expect(ctx, mediumBootTimeout, `airlock: loading the kernel and initramfs from \(`); err != nil {
		t.Fatal(err)
	}
	grub := m.Since()
	// The station's first line: the kernel and the initramfs are loaded and the uinit runs.
	if _, err := m.Expect(ctx, mediumBootTimeout, `^airlock: `); err != nil {
		t.Fatal(err)
	}
	uinit := m.Since()
	if _, err := m.Expect(ctx, mediumBootTimeout, `^airlock: state READY$`); err != nil {
		t.Fatal(err)
	}
	s.ready = m.Since()
	fmt.Printf("qemu: boot medium %v %v phases: firmware to GRUB %.1f s, GRUB loading + kernel to the station's first line %.1f s, boot duties to READY %.1f s\n",
		as, fw, grub.Seconds(), (uinit - grub).Seconds(), (s.ready - uinit).Seconds())
	return s
}
