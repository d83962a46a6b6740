// Command qemuprobe is the /init of the QEMU test of package burner (qemu_test.go): it loads the
// CD-ROM and isofs modules, reads the drive's status natively, reads the disc with OpenISO and
// with the kernel's isofs, reads it back, prints PROBE lines and powers off.
package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/airlock-appliance/airlock/burner"
	"golang.org/x/sys/unix"
)

func main() {
	defer unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for _, d := range []string{"/dev", "/proc", "/sys", "/mnt"} {
		os.MkdirAll(d, 0o755)
	}
	unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	unix.Mount("proc", "/proc", "proc", 0, "")
	unix.Mount("sysfs", "/sys", "sysfs", 0, "")
	mods, _ := os.ReadFile("/mods/order")
	for _, m := range splitLines(string(mods)) {
		f, err := os.Open("/mods/" + m)
		if err != nil {
			fmt.Println("PROBE error insmod", m, err)
			continue
		}
		if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
			fmt.Println("PROBE error insmod", m, err)
		}
		f.Close()
	}
	for i := 0; i < 200; i++ {
		if _, err := os.Stat("/dev/sr0"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	d, err := burner.Open("/dev/sr0")
	if err != nil {
		fmt.Println("PROBE error", err)
		return
	}
	st, err := d.Status(context.Background())
	fmt.Printf("PROBE status state=%q media=%q source=%q err=%v\n", st.State, st.Media, st.Source, err)
	fsys, f, err := burner.OpenFile("/dev/sr0")
	if err != nil {
		fmt.Println("PROBE openfile", err)
		return
	}
	vs, err := burner.VolumeSize(f)
	fmt.Println("PROBE volsize", vs, err)
	list("ours", fsys)
	r, err := d.OpenRead(context.Background())
	if err != nil {
		fmt.Println("PROBE error openread", err)
		return
	}
	h := sha256.New()
	n, err := io.CopyN(h, r, vs)
	fmt.Printf("PROBE readback %d %x %v\n", n, h.Sum(nil), err)
	if err := unix.Mount("/dev/sr0", "/mnt", "iso9660", unix.MS_RDONLY, ""); err != nil {
		fmt.Println("PROBE error mount", err)
		return
	}
	list("kernel", os.DirFS("/mnt"))
	fmt.Println("PROBE done")
}

func list(who string, fsys fs.FS) {
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		g, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer g.Close()
		h := sha256.New()
		io.Copy(h, g)
		fmt.Printf("PROBE file %s %x %s\n", who, h.Sum(nil), filepath.ToSlash(p))
		return nil
	})
	if err != nil {
		fmt.Println("PROBE error walk", who, err)
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
