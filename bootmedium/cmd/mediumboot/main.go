// Command mediumboot boots a boot medium (scripts/boot-medium.sh) in QEMU (TCG) through the
// machine's firmware, as a CD or as a USB stick, with SeaBIOS or OVMF, and waits until the
// station says READY: make demo's proof that the ISO itself boots (not a kernel QEMU is handed).
//
//	go run ./bootmedium/cmd/mediumboot [-as cd|usb] [-firmware seabios|ovmf] ISO
//
// The station gets the demo policy's disks: a zeroed burn target (guest /dev/vda) and a FAT audit
// log disk labelled AIRLOCK-LOG (/dev/vdb), both in a temporary folder.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlock-appliance/airlock/hwtest/vm"
)

func main() {
	as := flag.String("as", "cd", "attach the medium as a cd or a usb stick")
	fw := flag.String("firmware", "ovmf", "seabios (BIOS) or ovmf (UEFI)")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mediumboot [-as cd|usb] [-firmware seabios|ovmf] ISO")
		os.Exit(2)
	}
	c := vm.Config{Medium: flag.Arg(0), MemoryMiB: 2048}
	switch *as {
	case "cd":
		c.MediumAs = vm.MediumCD
	case "usb":
		c.MediumAs = vm.MediumUSB
	default:
		fmt.Fprintf(os.Stderr, "mediumboot: -as %q: cd or usb\n", *as)
		os.Exit(2)
	}
	switch *fw {
	case "seabios":
		c.Firmware = vm.SeaBIOS
	case "ovmf":
		c.Firmware = vm.OVMF
	default:
		fmt.Fprintf(os.Stderr, "mediumboot: -firmware %q: seabios or ovmf\n", *fw)
		os.Exit(2)
	}
	if err := run(c, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "mediumboot:", err)
		os.Exit(1)
	}
}

func run(c vm.Config, timeout time.Duration) error {
	dir, err := os.MkdirTemp("", "airlock-mediumboot-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	target, logDisk := filepath.Join(dir, "target.img"), filepath.Join(dir, "log.img")
	for _, d := range []struct {
		path string
		size int64
	}{{target, 64 << 20}, {logDisk, 32 << 20}} {
		if err := os.WriteFile(d.path, nil, 0o600); err != nil {
			return err
		}
		if err := os.Truncate(d.path, d.size); err != nil {
			return err
		}
	}
	if b, err := exec.Command("mkfs.fat", "-n", "AIRLOCK-LOG", logDisk).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.fat: %v: %s", err, b)
	}
	c.Disks = []vm.Disk{
		{ID: "target", Path: target, Serial: "AIRLOCK-TARGET"},
		{ID: "auditlog", Path: logDisk, Serial: "AIRLOCK-LOG"},
	}
	c.Log = func(line string) {
		if i := strings.Index(line, "airlock: "); i >= 0 && !strings.Contains(line, "airlock: led ") {
			fmt.Printf("  medium  | %s\n", line[i:])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, err := vm.Start(ctx, c)
	if err != nil {
		return err
	}
	defer m.Close()
	if _, err := m.Expect(ctx, timeout, `airlock: loading the kernel and initramfs from \(`); err != nil {
		return fmt.Errorf("the medium's GRUB did not start: %w\n%s", err, m.Transcript())
	}
	grub := m.Since()
	if _, err := m.Expect(ctx, timeout, `^airlock: state READY$`); err != nil {
		return fmt.Errorf("no READY: %w\n%s", err, m.Transcript())
	}
	fmt.Printf("demo: booted %s as %v under %v: GRUB at %.1f s, station READY at %.1f s (TCG)\n",
		filepath.Base(c.Medium), c.MediumAs, c.Firmware, grub.Seconds(), m.Since().Seconds())
	return nil
}
