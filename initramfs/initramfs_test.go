package initramfs

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"
)

func archive(t testing.TB, compress bool, recs ...cpio.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w := cpio.Newc.Writer(&b)
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	if !compress {
		return b.Bytes()
	}
	var z bytes.Buffer
	zw, err := xz.NewWriter(&z)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b.Bytes())
	zw.Close()
	return z.Bytes()
}

func TestReadRoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		data := archive(t, compress,
			cpio.StaticFile("bin/airlock", "ELF...", 0o755),
			cpio.Symlink("bin/uinit", "airlock"),
			cpio.StaticFile("etc/uinit.flags", "run", 0o444))
		img, err := Read(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		if e := img.Entries["bin/airlock"]; string(e.Data) != "ELF..." || e.Mode&0o777 != 0o755 {
			t.Errorf("bin/airlock = %+v", e)
		}
		if e := img.Entries["bin/uinit"]; !e.IsSymlink() || e.Link != "airlock" {
			t.Errorf("bin/uinit = %+v", e)
		}
		if e := img.Entries["bin"]; !e.IsDir() {
			t.Errorf("bin = %+v, want a directory", e)
		}
	}
}

func TestReadRejectsGarbage(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not cpio":  []byte("hello world, this is not an archive at all"),
		"bad xz":    append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, bytes.Repeat([]byte{1}, 40)...),
		"truncated": archive(t, false, cpio.StaticFile("a", "x", 0o644))[:50],
	} {
		if _, err := Read(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: Read accepted it", name)
		}
	}
}

func TestReadBoundsSize(t *testing.T) {
	big := archive(t, true, cpio.StaticFile("big", string(make([]byte, 4096)), 0o644))
	if _, err := read(bytes.NewReader(big), 4096); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("read of a >4096-byte image with a 4096-byte bound: %v, want ErrTooLarge", err)
	}
	if _, err := read(bytes.NewReader(big), 1<<20); err != nil {
		t.Fatalf("read under the bound: %v", err)
	}
}

func TestModulesDep(t *testing.T) {
	deps, err := ModulesDep([]byte("kernel/drivers/scsi/sd_mod.ko: kernel/block/t10-pi.ko kernel/drivers/scsi/scsi_mod.ko\nkernel/fs/fat/fat.ko:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(deps["kernel/drivers/scsi/sd_mod.ko"]) != 2 || len(deps["kernel/fs/fat/fat.ko"]) != 0 {
		t.Errorf("deps = %v", deps)
	}
	if _, err := ModulesDep([]byte("no colon here\n")); err == nil {
		t.Error("ModulesDep accepted a line without a colon")
	}
	if got := ModuleName("kernel/drivers/usb/storage/usb-storage.ko.xz"); got != "usb_storage" {
		t.Errorf("ModuleName = %q", got)
	}
}

func TestListsParse(t *testing.T) {
	root := testenv.RepoRoot()
	mods, err := ModuleList(filepath.Join(root, "initramfs", "modules.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := ModuleList(filepath.Join(root, "initramfs", "commands.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) < 10 || len(cmds) < 5 || cmds[0] != "init" {
		t.Errorf("modules %v, commands %v", mods, cmds)
	}
	for _, c := range cmds {
		for _, net := range []string{"ip", "dhclient", "wget", "netcat", "sshd", "scp", "ping", "ntpdate", "netstat", "brctl"} {
			if c == net {
				t.Errorf("commands.txt has the network command %s", c)
			}
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(archive(f, false, cpio.StaticFile("bin/airlock", "x", 0o755)))
	f.Add(archive(f, true, cpio.Symlink("init", "bbin/init")))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Read(bytes.NewReader(data))
	})
}
