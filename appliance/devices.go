package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

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
	// USB, when set, is polled for newly plugged USB devices, which are authorized only when
	// every interface is mass storage; the others are reported as USBUnauthorized.
	USB *media.USBAuthorizer

	mu  sync.Mutex
	ids map[string]*media.Identity
}

// Watch implements Devices.
func (d *MediaDevices) Watch(ctx context.Context, out chan<- DeviceEvent) error {
	ch, err := media.Watch(ctx, media.WatchOptions{SysfsRoot: d.SysfsRoot, AllowLoop: d.Guard_.AllowLoop})
	if err != nil {
		return fmt.Errorf("watch devices: %w", err)
	}
	var usbTick <-chan time.Time
	reported := map[string]bool{}
	if d.USB != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		usbTick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-usbTick:
			vs, err := authorizeNew(d.USB)
			if err != nil {
				continue
			}
			for _, v := range vs {
				if v.Authorized || reported[v.Device] {
					continue
				}
				reported[v.Device] = true
				var cls []string
				for _, i := range v.Interfaces {
					cls = append(cls, fmt.Sprintf("%02x(%s)", i.Class, media.ClassName(i.Class)))
				}
				out <- DeviceEvent{Kind: USBUnauthorized, ID: Identity{VIDPID: v.USBID}, Classes: strings.Join(cls, ",")}
			}
		case ev, ok := <-ch:
			if !ok {
				return ctx.Err()
			}
			de, ok := d.convert(ev)
			if !ok {
				continue
			}
			select {
			case out <- de:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
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

// authorizeNew runs the authorizer over the USB devices plugged in since the lock-down. (The
// method's name changes in package media; both spellings are accepted until it settles.)
func authorizeNew(a *media.USBAuthorizer) ([]*media.USBVerdict, error) {
	switch x := any(a).(type) {
	case interface {
		AuthorizePending() ([]*media.USBVerdict, error)
	}:
		return x.AuthorizePending()
	case interface {
		AuthorizeAll() ([]*media.USBVerdict, error)
	}:
		return x.AuthorizeAll()
	}
	return nil, errors.New("media: no USB authorizer method")
}
