package appliance

import (
	"testing"

	"github.com/airlock-appliance/airlock/media"
)

// convert decides which kernel events become station events: host mode must never offer
// another program's loop devices, partitions are not sessions, and a loop device that shrinks
// to nothing has been pulled.
func TestMediaDevicesConvert(t *testing.T) {
	d := &MediaDevices{LoopDir: "/tmp/sticks"}
	loop := func(kind media.EventKind, name, backing string, size int64) media.Event {
		return media.Event{Kind: kind, Name: name, Disk: name,
			Identity: &media.Identity{Name: name, Node: "/dev/" + name, Bus: "loop", BackingFile: backing, Size: size}}
	}
	for _, tc := range []struct {
		ev   media.Event
		ok   bool
		kind EventKind
	}{
		{loop(media.DiskAdded, "loop7", "/var/lib/other/disk.img", 1<<20), false, 0},
		{loop(media.DiskAdded, "loop8", "/tmp/sticksX/a.img", 1<<20), false, 0},
		{loop(media.DiskAdded, "loop3", "/tmp/sticks/a.img", 1<<20), true, DeviceAdded},
		{loop(media.DiskAdded, "loop3", "/tmp/sticks/a.img", 1<<20), true, MediaChanged},
		{media.Event{Kind: media.PartitionAdded, Name: "loop3p1", Disk: "loop3"}, false, 0},
		{loop(media.MediaChanged, "loop3", "/tmp/sticks/a.img", 0), true, DeviceRemoved},
		{loop(media.MediaChanged, "loop3", "/tmp/sticks/a.img", 0), false, 0},
		{media.Event{Kind: media.DiskRemoved, Name: "loop9", Disk: "loop9"}, false, 0},
		{media.Event{Kind: media.DiskAdded, Name: "sdb", Disk: "sdb", Identity: &media.Identity{Name: "sdb", Node: "/dev/sdb", Bus: "usb",
			USBVendorID: "0781", USBProductID: "5567", Serial: " 4C53 ", Size: 8 << 30, Removable: true}}, true, DeviceAdded},
		{media.Event{Kind: media.DiskRemoved, Name: "sdb", Disk: "sdb"}, true, DeviceRemoved},
	} {
		got, ok := d.convert(tc.ev)
		if ok != tc.ok || (ok && got.Kind != tc.kind) {
			t.Errorf("%s %s (%+v): got %v %v, want %v %v", tc.ev.Kind, tc.ev.Name, tc.ev.Identity, ok, got.Kind, tc.ok, tc.kind)
		}
		if ok && got.ID.Dev != "/dev/"+tc.ev.Name {
			t.Errorf("dev %q", got.ID.Dev)
		}
		if ok && tc.ev.Name == "sdb" && tc.kind == DeviceAdded && (got.ID.VIDPID != "0781:5567" || got.ID.Serial != "4C53" || got.ID.ConfirmCode() != "4C53") {
			t.Errorf("identity %+v", got.ID)
		}
	}
	// Without a loop directory (appliance mode) no loop device is ever offered.
	d = &MediaDevices{}
	if _, ok := d.convert(loop(media.DiskAdded, "loop3", "/tmp/sticks/a.img", 1<<20)); ok {
		t.Error("loop device offered without --allow-loop")
	}
}
