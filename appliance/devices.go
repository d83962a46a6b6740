package appliance

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	"github.com/airlock-appliance/airlock/media"
)

// MediaDevices is the Devices part over package media: kernel uevents plus coldplug, identity
// from sysfs and ioctls, the device guard, and userspace filesystem reading.
type MediaDevices struct {
	// SysfsRoot is "/sys" unless set.
	SysfsRoot string
	// Guard decides which devices the station may touch.
	Guard_ media.Guard
	// LoopDir, when set (host mode), admits only loop devices whose backing file lies under it,
	// so a station on a shared host never touches another program's loop devices.
	LoopDir string
	// USB, when set, judges every USB device plugged in (after the boot's lock-down): it is
	// authorized only when every interface is mass storage; the others are reported as
	// USBUnauthorized.
	USB *media.USBAuthorizer
	// BootMedium, when set, reports whether a disk is the medium the appliance booted from
	// (IsBootMedium): the guard refuses it.
	BootMedium func(dev string) bool

	mu  sync.Mutex
	ids map[string]*media.Identity
}

// Watch implements Devices.
func (d *MediaDevices) Watch(ctx context.Context, out chan<- DeviceEvent) error {
	ch, err := media.Watch(ctx, media.WatchOptions{SysfsRoot: d.SysfsRoot, AllowLoop: d.Guard_.AllowLoop, USB: d.USB != nil})
	if err != nil {
		return fmt.Errorf("watch devices: %w", err)
	}
	send := func(ev DeviceEvent) error {
		select {
		case out <- ev:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if d.USB != nil {
		// Devices plugged in between the lock-down and the watch: judged once now.
		vs, err := d.USB.AuthorizePending()
		if err != nil {
			return fmt.Errorf("USB authorization: %w", err)
		}
		for _, v := range vs {
			if !v.Authorized {
				if err := send(unauthorized(v)); err != nil {
					return err
				}
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-ch:
			if !ok {
				return ctx.Err()
			}
			if ev.Kind == media.USBAdded && d.USB != nil {
				// The BadUSB defense: a device is admitted only if every interface is mass storage.
				v, err := d.USB.Authorize(ev.SysPath)
				if err != nil || v.Authorized {
					continue
				}
				if err := send(unauthorized(v)); err != nil {
					return err
				}
				continue
			}
			de, ok := d.convert(ev)
			if !ok {
				continue
			}
			if err := send(de); err != nil {
				return err
			}
		}
	}
}

func unauthorized(v *media.USBVerdict) DeviceEvent {
	var cls []string
	for _, i := range v.Interfaces {
		cls = append(cls, fmt.Sprintf("%02x(%s)", i.Class, media.ClassName(i.Class)))
	}
	return DeviceEvent{Kind: USBUnauthorized, ID: Identity{VIDPID: v.USBID}, Classes: strings.Join(cls, ",")}
}

func (d *MediaDevices) convert(ev media.Event) (DeviceEvent, bool) {
	if ev.Name != ev.Disk && ev.Disk != "" {
		return DeviceEvent{}, false // partitions: the station works on whole disks
	}
	node := "/dev/" + ev.Name
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ids == nil {
		d.ids = map[string]*media.Identity{}
	}
	switch ev.Kind {
	case media.DiskRemoved:
		if _, known := d.ids[node]; !known {
			return DeviceEvent{}, false
		}
		delete(d.ids, node)
		return DeviceEvent{Kind: DeviceRemoved, ID: Identity{Dev: node}}, true
	case media.DiskAdded, media.MediaChanged:
	default:
		return DeviceEvent{}, false
	}
	mid := ev.Identity
	if mid == nil {
		var err error
		mid, err = media.Identify(d.sysfs(), ev.Name)
		if err != nil {
			return DeviceEvent{}, false
		}
	}
	if mid.Bus == "loop" {
		if d.LoopDir == "" || mid.BackingFile == "" || !under(mid.BackingFile, d.LoopDir) {
			return DeviceEvent{}, false
		}
		if mid.Size == 0 {
			// A detached loop device reports a change to size 0: that is a removal.
			if _, known := d.ids[node]; known {
				delete(d.ids, node)
				return DeviceEvent{Kind: DeviceRemoved, ID: Identity{Dev: node}}, true
			}
			return DeviceEvent{}, false
		}
	}
	_, known := d.ids[node]
	d.ids[node] = mid
	id := fromMedia(mid)
	kind := DeviceAdded
	if known {
		kind = MediaChanged
	}
	return DeviceEvent{Kind: kind, ID: id}, true
}

func under(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func (d *MediaDevices) sysfs() string {
	if d.SysfsRoot == "" {
		return "/sys"
	}
	return d.SysfsRoot
}

func fromMedia(m *media.Identity) Identity {
	node := m.Node
	if node == "" {
		node = "/dev/" + m.Name
	}
	return Identity{Dev: node, Bus: m.Bus, Vendor: strings.TrimSpace(m.Vendor), Model: strings.TrimSpace(m.Model),
		Serial: strings.TrimSpace(m.Serial), VIDPID: m.USBID(), Size: m.Size, Removable: m.Removable,
		Optical: m.Optical}
}

// Guard implements Devices.
func (d *MediaDevices) Guard(id Identity) error {
	d.mu.Lock()
	mid := d.ids[id.Dev]
	d.mu.Unlock()
	if mid == nil {
		return fmt.Errorf("%s: unknown device", id.Dev)
	}
	if d.BootMedium != nil && d.BootMedium(id.Dev) {
		return &media.Refusal{Device: id.Dev, Rule: media.RuleBoot, Reason: "it carries the boot medium's volume UUID"}
	}
	g := d.Guard_
	if id.Optical {
		g.AllowOptical = true // discs are only ever read (check mode)
	}
	return g.Check(mid)
}

// OpenFS implements Devices.
func (d *MediaDevices) OpenFS(ctx context.Context, id Identity) (fs.FS, io.Closer, error) {
	m, err := media.Open(ctx, id.Dev)
	if err != nil {
		return nil, nil, err
	}
	return m, m, nil
}

// Unchanged implements Devices.
func (d *MediaDevices) Unchanged(id Identity) error {
	now, err := media.Identify(d.sysfs(), id.Dev)
	if err != nil {
		return fmt.Errorf("%s: %w (%v)", id.Dev, ErrDeviceRemoved, err)
	}
	if now.Size != id.Size {
		if now.Size == 0 {
			return fmt.Errorf("%s: %w", id.Dev, ErrDeviceRemoved)
		}
		return fmt.Errorf("%s: size changed from %d to %d during the job: %w", id.Dev, id.Size, now.Size, ErrDeviceRemoved)
	}
	if strings.TrimSpace(now.Serial) != id.Serial {
		return fmt.Errorf("%s: serial changed during the job: %w", id.Dev, ErrDeviceRemoved)
	}
	return nil
}
