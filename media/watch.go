package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pilebones/go-udev/netlink"
	"golang.org/x/sys/unix"
)

// EventKind is what happened to a device.
type EventKind string

// Event kinds.
const (
	DiskAdded        EventKind = "disk-added"
	DiskRemoved      EventKind = "disk-removed"
	PartitionAdded   EventKind = "partition-added"
	PartitionRemoved EventKind = "partition-removed"
	MediaChanged     EventKind = "media-changed" // optical disc inserted/removed, loop resized, ...
	EjectRequest     EventKind = "eject-request" // the drive's eject button
	// USB device events (WatchOptions.USB): a device plugged in after USBAuthorizer.LockDown
	// stays unauthorized, and so never shows up as a disk, until USBAuthorizer.Authorize admits it.
	USBAdded   EventKind = "usb-added"
	USBRemoved EventKind = "usb-removed"
)

// Event is one debounced device event.
type Event struct {
	Kind     EventKind `json:"kind"`
	Name     string    `json:"name"`               // kernel name: "sdb", "sdb1", "loop3"
	Disk     string    `json:"disk"`               // the disk of a partition; Name for disks
	Identity *Identity `json:"identity,omitempty"` // disks on add and change, when sysfs could describe them
	Coldplug bool      `json:"coldplug"`           // found by the walk at start, not by a uevent
	SysPath  string    `json:"sys_path,omitempty"` // USB events: the device's sysfs directory, for USBAuthorizer.Authorize
	Time     time.Time `json:"time"`
}

// WatchOptions configure Watch.
type WatchOptions struct {
	// SysfsRoot is "/sys" unless set (tests use a fake tree).
	SysfsRoot string
	// AllowLoop reports loop devices, treating attach and detach as insert and remove.
	AllowLoop bool
	// Debounce is how long a device must be quiet before its state is reported; default 300ms.
	Debounce time.Duration
	// UEvents, when set, replaces the kernel's netlink socket as the source of raw messages.
	UEvents <-chan []byte
	// NoColdplug skips the initial walk.
	NoColdplug bool
	// USB also reports USB devices (not interfaces) being added and removed.
	USB bool
}

// Watch reports block devices as they come and go. It binds the kernel uevent socket first, then
// walks sysfs (coldplug) so nothing present or arriving is missed, and runs one worker per device
// so that a slow device never delays another. Each worker waits until its device has been quiet
// for opts.Debounce and then reports the change of state it sees in sysfs, so bursts (a stick's
// add + partition rescans, an optical drive's repeated media-change events) become one event.
// The channel closes when ctx is done.
func Watch(ctx context.Context, opts WatchOptions) (<-chan Event, error) {
	if opts.SysfsRoot == "" {
		opts.SysfsRoot = "/sys"
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 300 * time.Millisecond
	}
	src := opts.UEvents
	var conn *netlink.UEventConn
	if src == nil {
		conn = &netlink.UEventConn{}
		if err := conn.Connect(netlink.KernelEvent); err != nil {
			return nil, err
		}
		_ = unix.SetsockoptInt(conn.Fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
		tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
		if err := unix.SetsockoptTimeval(conn.Fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			conn.Close()
			return nil, err
		}
		ch := make(chan []byte, 256)
		go func() {
			defer conn.Close()
			defer close(ch)
			for ctx.Err() == nil {
				msg, err := conn.ReadMsg()
				if err != nil {
					if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
						continue
					}
					return
				}
				select {
				case ch <- msg:
				case <-ctx.Done():
					return
				}
			}
		}()
		src = ch
	}
	w := &watcher{opts: opts, out: make(chan Event, 64), workers: map[string]chan string{}}
	go w.run(ctx, src)
	return w.out, nil
}

type watcher struct {
	opts    WatchOptions
	out     chan Event
	mu      sync.Mutex
	workers map[string]chan string // device name -> flags of raw events ("change", "media", "eject")
	wg      sync.WaitGroup
}

func (w *watcher) run(ctx context.Context, src <-chan []byte) {
	defer close(w.out)
	defer w.wg.Wait()
	if !w.opts.NoColdplug {
		w.coldplug(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-src:
			if !ok {
				<-ctx.Done()
				return
			}
			e, err := ParseUEvent(msg)
			if err != nil {
				continue
			}
			if w.opts.USB && e.Env["SUBSYSTEM"] == "usb" && e.Env["DEVTYPE"] == "usb_device" &&
				(e.Action == "add" || e.Action == "remove") {
				ev := Event{Kind: USBAdded, Name: filepath.Base(e.DevPath), SysPath: filepath.Join(w.opts.SysfsRoot, e.DevPath), Time: time.Now()}
				if e.Action == "remove" {
					ev.Kind = USBRemoved
				}
				select {
				case w.out <- ev:
				case <-ctx.Done():
					return
				}
				continue
			}
			if e.Env["SUBSYSTEM"] != "block" {
				continue
			}
			name := e.Env["DEVNAME"]
			if name == "" {
				name = filepath.Base(e.DevPath)
			}
			name = filepath.Base(name)
			if !w.wanted(name) {
				continue
			}
			flag := e.Action
			switch {
			case e.Env["DISK_EJECT_REQUEST"] == "1":
				flag = "eject"
			case e.Env["DISK_MEDIA_CHANGE"] == "1":
				flag = "media"
			}
			w.worker(ctx, name, e.Env["DEVTYPE"] == "partition") <- flag
		}
	}
}

func (w *watcher) wanted(name string) bool {
	switch {
	case strings.HasPrefix(name, "ram"), strings.HasPrefix(name, "zram"), strings.HasPrefix(name, "dm-"),
		strings.HasPrefix(name, "md"):
		return false
	case strings.HasPrefix(name, "loop"):
		return w.opts.AllowLoop
	}
	return true
}

// worker returns the channel of the device's worker, starting it (unknown state) if needed.
func (w *watcher) worker(ctx context.Context, name string, partition bool) chan string {
	return w.start(ctx, name, partition, false)
}

func (w *watcher) start(ctx context.Context, name string, partition, present bool) chan string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.workers[name]; ok {
		return ch
	}
	ch := make(chan string, 64)
	w.workers[name] = ch
	w.wg.Add(1)
	go w.device(ctx, name, partition, present, ch)
	return ch
}

// present reports whether sysfs shows the device as there (a loop device only while attached).
func (w *watcher) present(name string) bool {
	dir := filepath.Join(w.opts.SysfsRoot, "class", "block", name)
	if _, err := os.Stat(dir); err != nil {
		return false
	}
	if strings.HasPrefix(name, "loop") {
		size := readAttr(dir, "size")
		return size != "" && size != "0"
	}
	return true
}

func (w *watcher) diskOf(name string) string {
	dir, err := filepath.EvalSymlinks(filepath.Join(w.opts.SysfsRoot, "class", "block", name))
	if err == nil {
		if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
			return filepath.Base(filepath.Dir(dir))
		}
	}
	return ""
}

// device is the worker of one device: it collects raw events until the device is quiet, then
// reports the difference between the state it last reported and the state sysfs shows now.
func (w *watcher) device(ctx context.Context, name string, partition, known bool, ch chan string) {
	defer w.wg.Done()
	disk := name
	var last *Identity // as last reported
	for {
		var flags []string
		select {
		case <-ctx.Done():
			return
		case f := <-ch:
			flags = append(flags, f)
		}
		timer := time.NewTimer(w.opts.Debounce)
	collect:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case f := <-ch:
				flags = append(flags, f)
				timer.Reset(w.opts.Debounce)
			case <-timer.C:
				break collect
			}
		}
		now := w.present(name)
		if now && partition {
			if d := w.diskOf(name); d != "" {
				disk = d
			}
		}
		if partition && disk == name {
			disk = strings.TrimRight(name, "0123456789")
			disk = strings.TrimSuffix(disk, "p")
		}
		ev := Event{Name: name, Disk: disk, Time: time.Now()}
		var kinds []EventKind
		switch {
		case !known && now:
			kinds = append(kinds, pick(partition, PartitionAdded, DiskAdded))
		case known && !now:
			kinds = append(kinds, pick(partition, PartitionRemoved, DiskRemoved))
		case known && now && !partition:
			for _, f := range flags {
				if f == "eject" {
					kinds = append(kinds, EjectRequest)
					break
				}
			}
			for _, f := range flags {
				if f == "media" || (f == "change" && strings.HasPrefix(name, "loop")) {
					kinds = append(kinds, MediaChanged)
					break
				}
			}
		}
		known = now
		var id *Identity
		if now && !partition && len(kinds) > 0 {
			id, _ = Identify(w.opts.SysfsRoot, name)
		}
		// Opening an optical drive (Identify does) makes the kernel send media-change events of
		// its own: a change that leaves drive status and size as last reported is that echo.
		if len(kinds) > 0 && kinds[len(kinds)-1] == MediaChanged && id != nil && id.Optical && last != nil &&
			id.DriveStatus == last.DriveStatus && id.Size == last.Size {
			kinds = kinds[:len(kinds)-1]
		}
		if id != nil {
			last = id
		}
		for _, k := range kinds {
			ev.Kind = k
			ev.Identity = id
			select {
			case w.out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

func pick(partition bool, p, d EventKind) EventKind {
	if partition {
		return p
	}
	return d
}

// coldplug reports every device present at start, disks before their partitions.
func (w *watcher) coldplug(ctx context.Context) {
	entries, err := os.ReadDir(filepath.Join(w.opts.SysfsRoot, "class", "block"))
	if err != nil {
		return
	}
	var disks, parts []string
	for _, e := range entries {
		n := e.Name()
		if !w.wanted(n) || !w.present(n) {
			continue
		}
		if w.diskOf(n) != "" {
			parts = append(parts, n)
		} else {
			disks = append(disks, n)
		}
	}
	sort.Strings(disks)
	sort.Strings(parts)
	for _, group := range [][]string{disks, parts} {
		for _, n := range group {
			ev := Event{Kind: DiskAdded, Name: n, Disk: n, Coldplug: true, Time: time.Now()}
			partition := false
			if d := w.diskOf(n); d != "" {
				ev.Kind, ev.Disk, partition = PartitionAdded, d, true
			} else {
				ev.Identity, _ = Identify(w.opts.SysfsRoot, n)
			}
			w.start(ctx, n, partition, true)
			select {
			case w.out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}
