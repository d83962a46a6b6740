package media

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseUEvent(t *testing.T) {
	msg := []byte("change@/devices/virtual/block/loop0\x00ACTION=change\x00DEVPATH=/devices/virtual/block/loop0\x00SUBSYSTEM=block\x00DEVNAME=loop0\x00ID_FS_LABEL=a=b\x00")
	e, err := ParseUEvent(msg)
	if err != nil {
		t.Fatal(err)
	}
	if e.Action != "change" || e.Env["DEVNAME"] != "loop0" || e.Env["ID_FS_LABEL"] != "a=b" {
		t.Fatalf("%+v", e)
	}
	for _, bad := range []string{"", "add", "bogus@/x\x00", "add@/x\x00NOEQUALS\x00", "libudev\x00xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"} {
		if _, err := ParseUEvent([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseUEvent(f *testing.F) {
	f.Add([]byte("add@/devices/pci/usb1/1-1/block/sdb\x00ACTION=add\x00SUBSYSTEM=block\x00DEVTYPE=disk\x00DEVNAME=sdb\x00"))
	f.Add([]byte("change@/x\x00DISK_MEDIA_CHANGE=1\x00K=v=w\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseUEvent(b)
		if err == nil && (e.Action == "" || e.DevPath == "") {
			t.Fatalf("accepted %q as %+v", b, e)
		}
	})
}

func uevent(action, name, devtype string, extra ...string) []byte {
	s := action + "@/devices/x/block/" + name + "\x00ACTION=" + action + "\x00SUBSYSTEM=block\x00DEVNAME=" + name + "\x00DEVTYPE=" + devtype + "\x00"
	for _, e := range extra {
		s += e + "\x00"
	}
	return []byte(s)
}

func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func TestWatchFakeSysfs(t *testing.T) {
	fs := newFakeSys(t)
	fs.usbStick("1-1", "sdb", "8:16", true, 0x08)
	fs.disk("devices/virtual/block/loop0", "7:0", false, "0") // detached loop device
	src := make(chan []byte, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Watch(ctx, WatchOptions{SysfsRoot: fs.root, AllowLoop: true, UEvents: src, Debounce: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, ch); e.Kind != DiskAdded || e.Name != "sdb" || !e.Coldplug || e.Identity == nil || e.Identity.USBID() != "0781:5567" {
		t.Fatalf("coldplug disk: %+v", e)
	}
	if e := next(t, ch); e.Kind != PartitionAdded || e.Name != "sdb1" || e.Disk != "sdb" {
		t.Fatalf("coldplug partition: %+v", e)
	}
	// A burst of media-change events is one event.
	for i := 0; i < 5; i++ {
		src <- uevent("change", "sdb", "disk", "DISK_MEDIA_CHANGE=1")
	}
	if e := next(t, ch); e.Kind != MediaChanged || e.Name != "sdb" {
		t.Fatalf("media change: %+v", e)
	}
	src <- uevent("change", "sdb", "disk", "DISK_EJECT_REQUEST=1")
	if e := next(t, ch); e.Kind != EjectRequest {
		t.Fatalf("eject: %+v", e)
	}
	// Loop attach is a change event with a non-zero size.
	os.WriteFile(filepath.Join(fs.root, "devices/virtual/block/loop0/size"), []byte("2048\n"), 0o644)
	src <- uevent("change", "loop0", "disk")
	if e := next(t, ch); e.Kind != DiskAdded || e.Name != "loop0" || e.Identity == nil || e.Identity.Bus != "loop" {
		t.Fatalf("loop attach: %+v", e)
	}
	os.WriteFile(filepath.Join(fs.root, "devices/virtual/block/loop0/size"), []byte("0\n"), 0o644)
	src <- uevent("change", "loop0", "disk")
	if e := next(t, ch); e.Kind != DiskRemoved || e.Name != "loop0" {
		t.Fatalf("loop detach: %+v", e)
	}
	// Pull the stick: the partition and the disk go away.
	os.Remove(filepath.Join(fs.root, "class/block/sdb1"))
	os.Remove(filepath.Join(fs.root, "class/block/sdb"))
	src <- uevent("remove", "sdb1", "partition")
	src <- uevent("remove", "sdb", "disk")
	got := map[EventKind]string{}
	for i := 0; i < 2; i++ {
		e := next(t, ch)
		got[e.Kind] = e.Name + "/" + e.Disk
	}
	if got[PartitionRemoved] != "sdb1/sdb" || got[DiskRemoved] != "sdb/sdb" {
		t.Fatalf("removal: %v", got)
	}
	cancel()
	for range ch {
	}
}

func TestWatchUSBDevices(t *testing.T) {
	fs := newFakeSys(t)
	src := make(chan []byte, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Watch(ctx, WatchOptions{SysfsRoot: fs.root, UEvents: src, USB: true, NoColdplug: true})
	if err != nil {
		t.Fatal(err)
	}
	src <- []byte("add@/devices/pci0000:00/0000:00:14.0/usb1/1-3\x00ACTION=add\x00SUBSYSTEM=usb\x00DEVTYPE=usb_device\x00")
	src <- []byte("add@/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0\x00ACTION=add\x00SUBSYSTEM=usb\x00DEVTYPE=usb_interface\x00")
	src <- []byte("remove@/devices/pci0000:00/0000:00:14.0/usb1/1-3\x00ACTION=remove\x00SUBSYSTEM=usb\x00DEVTYPE=usb_device\x00")
	if e := next(t, ch); e.Kind != USBAdded || e.Name != "1-3" || e.SysPath != filepath.Join(fs.root, "devices/pci0000:00/0000:00:14.0/usb1/1-3") {
		t.Fatalf("%+v", e)
	}
	if e := next(t, ch); e.Kind != USBRemoved {
		t.Fatalf("%+v", e)
	}
}

// TestWatchOpticalEcho: media-change events that change nothing on an optical drive (the echo of
// opening it) are dropped; a real change (size) is reported.
func TestWatchOpticalEcho(t *testing.T) {
	fs := newFakeSys(t)
	dir := "devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0"
	fs.write(dir+"/type", "5\n")
	fs.disk(dir+"/block/sr0", "11:0", true, "2")
	src := make(chan []byte, 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Watch(ctx, WatchOptions{SysfsRoot: fs.root, UEvents: src, Debounce: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, ch); e.Kind != DiskAdded || !e.Identity.Optical {
		t.Fatalf("%+v", e)
	}
	src <- uevent("change", "sr0", "disk", "DISK_MEDIA_CHANGE=1")
	if e := next(t, ch); e.Kind != MediaChanged {
		t.Fatalf("%+v", e)
	}
	src <- uevent("change", "sr0", "disk", "DISK_MEDIA_CHANGE=1") // echo: nothing changed
	time.Sleep(100 * time.Millisecond)
	os.WriteFile(filepath.Join(fs.root, dir, "block/sr0/size"), []byte("9000\n"), 0o644)
	src <- uevent("change", "sr0", "disk", "DISK_MEDIA_CHANGE=1")
	if e := next(t, ch); e.Kind != MediaChanged || e.Identity.Size != 9000*512 {
		t.Fatalf("after a disc was inserted: %+v", e)
	}
}
