package media

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeSys builds a sysfs tree with real symlinks, shaped like the kernel's.
type fakeSys struct {
	t    testing.TB
	root string
}

func newFakeSys(t testing.TB) *fakeSys {
	return &fakeSys{t: t, root: t.TempDir()}
}

func (f *fakeSys) write(rel, content string) {
	f.t.Helper()
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeSys) link(rel, target string) {
	f.t.Helper()
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	rt, err := filepath.Rel(filepath.Dir(p), filepath.Join(f.root, target))
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := os.Lstat(p); err == nil {
		return
	}
	if err := os.Symlink(rt, p); err != nil {
		f.t.Fatal(err)
	}
}

// disk adds a block disk at devices path dir (relative, ending in block/NAME) with partitions.
func (f *fakeSys) disk(dir, dev string, removable bool, sectors string, parts ...string) {
	name := filepath.Base(dir)
	f.write(dir+"/dev", dev+"\n")
	rm := "0\n"
	if removable {
		rm = "1\n"
	}
	f.write(dir+"/removable", rm)
	f.write(dir+"/ro", "0\n")
	f.write(dir+"/size", sectors+"\n")
	f.write(dir+"/queue/logical_block_size", "512\n")
	f.link("class/block/"+name, dir)
	for i, p := range parts {
		f.write(dir+"/"+p+"/partition", "1\n")
		f.write(dir+"/"+p+"/dev", dev[:len(dev)-1]+string(rune('1'+i))+"\n")
		f.link("class/block/"+p, dir+"/"+p)
	}
}

// usbStick adds a USB device 1-N with the given interface classes and a SCSI disk NAME under it.
func (f *fakeSys) usbStick(port, name, dev string, removable bool, classes ...byte) string {
	usb := "devices/pci0000:00/0000:00:14.0/usb1/" + port
	f.write("devices/pci0000:00/0000:00:14.0/usb1/authorized_default", "1\n")
	f.link("bus/usb/devices/usb1", "devices/pci0000:00/0000:00:14.0/usb1")
	f.write(usb+"/idVendor", "0781\n")
	f.write(usb+"/idProduct", "5567\n")
	f.write(usb+"/serial", "4C530001230515117154\n")
	f.write(usb+"/manufacturer", "SanDisk\n")
	f.write(usb+"/product", "Cruzer Blade\n")
	f.write(usb+"/authorized", "0\n")
	f.link("bus/usb/devices/"+port, usb)
	// raw descriptors: device (18 bytes), config (9), then one interface (9) per class
	desc := []byte{18, 1, 0, 2, 0, 0, 0, 64, 0x81, 0x07, 0x67, 0x55, 0, 1, 1, 2, 3, 1}
	desc = append(desc, 9, 2, 0, 0, byte(len(classes)), 1, 0, 0x80, 50)
	for i, c := range classes {
		desc = append(desc, 9, 4, byte(i), 0, 2, c, 6, 0x50, 0)
	}
	f.write(usb+"/descriptors", string(desc))
	f.write(usb+"/"+port+":1.0/bInterfaceClass", "08\n")
	blk := usb + "/" + port + ":1.0/host6/target6:0:0/6:0:0:0"
	f.write(blk+"/vendor", "SanDisk \n")
	f.write(blk+"/model", "Cruzer Blade    \n")
	f.write(blk+"/type", "0\n")
	f.disk(blk+"/block/"+name, dev, removable, "31266816", name+"1")
	return filepath.Join(f.root, usb)
}
