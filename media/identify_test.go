package media

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIdentifyUSBStick(t *testing.T) {
	fs := newFakeSys(t)
	fs.usbStick("1-1", "sdb", "8:16", true, 0x08)
	id, err := identify(fs.root, t.TempDir(), "/dev/sdb")
	if err != nil {
		t.Fatal(err)
	}
	if id.Bus != "usb" || id.USBID() != "0781:5567" || id.Serial != "4C530001230515117154" || id.Vendor != "SanDisk" ||
		id.Model != "Cruzer Blade" || id.Size != 31266816*512 || !id.Removable || id.LogicalSectorSize != 512 ||
		strings.Join(id.Partitions, ",") != "sdb1" || !id.MassStorageOnly() || id.Dev != "8:16" {
		t.Fatalf("identity %+v", id)
	}
	if _, err := identify(fs.root, t.TempDir(), "sdb1"); err == nil || !strings.Contains(err.Error(), "partition") {
		t.Fatalf("partition identified as disk: %v", err)
	}
}

func guardFor(t *testing.T, fs *fakeSys, mountinfo string) *Guard {
	mi := filepath.Join(t.TempDir(), "mountinfo")
	if err := os.WriteFile(mi, []byte(mountinfo), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Guard{MountInfo: mi, Swaps: filepath.Join(t.TempDir(), "none")}
}

func TestGuardRules(t *testing.T) {
	fs := newFakeSys(t)
	fs.usbStick("1-1", "sdb", "8:16", true, 0x08)
	fs.usbStick("1-2", "sdc", "8:32", true, 0x08, 0x03) // a stick that is also a keyboard
	fs.usbStick("1-3", "sdd", "8:48", false, 0x08)      // a USB hard disk
	fs.disk("devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda", "8:0", false, "1000000", "sda1", "sda2")
	fs.disk("devices/virtual/block/loop0", "7:0", false, "2048")
	mountinfo := "22 1 8:2 / / rw - ext4 /dev/sda2 rw\n"
	rule := func(g *Guard, name string) string {
		id, err := identify(fs.root, t.TempDir(), name)
		if err != nil {
			t.Fatal(err)
		}
		var r *Refusal
		if err := g.Check(id); errors.As(err, &r) {
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "rule "+r.Rule) {
				t.Errorf("refusal text %q", err)
			}
			return r.Rule
		} else if err != nil {
			t.Fatal(err)
		}
		return "ok"
	}
	g := guardFor(t, fs, mountinfo)
	for name, want := range map[string]string{"sdb": "ok", "sdc": RuleMassStorage, "sdd": RuleRemovable, "sda": RuleMounted, "loop0": RuleLoop} {
		if got := rule(g, name); got != want {
			t.Errorf("%s: rule %s, want %s", name, got, want)
		}
	}
	g.AllowLoop = true
	if got := rule(g, "loop0"); got != "ok" {
		t.Errorf("loop0 with AllowLoop: %s", got)
	}
	g.LogDisks = []string{"/dev/sdb1"}
	if got := rule(g, "sdb"); got != RuleLog {
		t.Errorf("log stick: %s", got)
	}
	g.LogDisks, g.BootDisks = nil, []string{"sdb"}
	if got := rule(g, "sdb"); got != RuleBoot {
		t.Errorf("boot stick: %s", got)
	}
	g = guardFor(t, fs, "30 22 8:17 / /media/x rw - vfat /dev/sdb1 rw\n")
	if got := rule(g, "sdb"); got != RuleMounted {
		t.Errorf("mounted stick: %s", got)
	}
	// An ata disk that is not mounted is still refused: not USB.
	g = guardFor(t, fs, "")
	if got := rule(g, "sda"); got != RuleBus {
		t.Errorf("sata disk: %s", got)
	}
}

func TestUSBAuthorization(t *testing.T) {
	fs := newFakeSys(t)
	stick := fs.usbStick("1-1", "sdb", "8:16", true, 0x08)
	badusb := fs.usbStick("1-2", "sdc", "8:32", true, 0x08, 0x03)
	netdev := fs.usbStick("1-4", "sde", "8:64", true, 0xff)
	keyboard := fs.usbStick("1-5", "sdf", "8:80", true, 0x03)
	fs.write("devices/pci0000:00/0000:00:14.0/usb1/1-5/authorized", "1\n") // present at boot
	a := &USBAuthorizer{SysfsRoot: fs.root}
	if err := a.LockDown(); err != nil {
		t.Fatal(err)
	}
	if got := readAttr(filepath.Join(fs.root, "bus/usb/devices/usb1"), "authorized_default"); got != "0" {
		t.Fatalf("authorized_default = %q", got)
	}
	vs, err := a.AuthorizePending()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*USBVerdict{}
	for _, v := range vs {
		got[v.Device] = v
	}
	if len(vs) != 3 || !got[stick].Authorized || got[badusb].Authorized || got[netdev].Authorized {
		t.Fatalf("verdicts %+v", vs)
	}
	if !strings.Contains(got[badusb].Reason, "hid") || !strings.Contains(got[netdev].Reason, "vendor") {
		t.Errorf("reasons %q, %q", got[badusb].Reason, got[netdev].Reason)
	}
	for dev, want := range map[string]string{stick: "1", badusb: "0", netdev: "0", keyboard: "1"} {
		if a := readAttr(dev, "authorized"); a != want {
			t.Errorf("%s authorized=%s, want %s", dev, a, want)
		}
	}
}
