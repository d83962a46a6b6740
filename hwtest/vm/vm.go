// Package vm boots the appliance image in QEMU (TCG) and drives it like an operator and a hostile
// world would: it reads the serial console line by line, types answers into it, and through QMP
// hot-plugs USB sticks, pulls them, plugs a USB optical drive and changes its disc, and plugs a
// USB keyboard.
//
// A test starts one VM, waits for console lines, acts, and closes it:
//
//	m, err := vm.Start(ctx, vm.Config{Kernel: k, Initramfs: img, Disks: []vm.Disk{{ID: "target", Path: t}}})
//	defer m.Close()
//	if _, err := m.Expect(ctx, 30*time.Second, `^airlock: state READY$`); err != nil { ... }
//	m.PlugStick("stick1", "/tmp/stick.img", true)
//	m.Expect(ctx, 20*time.Second, `^airlock: prompt operator: `)
//	m.SendLine("alice")
//
// The machine is q35 with one qemu-xhci controller (id "xhci"), no network device, the serial
// console on QEMU's stdio (so the console is a pair of pipes, not a pty) and a QMP unix socket.
// Disks attached at boot are virtio-blk (guest /dev/vda, /dev/vdb, ... in the order given); hot
// plugged sticks are usb-storage on the xhci bus, so the guest sees them as /dev/sdX.
//
// QMP goes through github.com/digitalocean/go-qemu/qmp; this package only composes its commands.
package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
	"github.com/u-root/u-root/pkg/cpio"
)

// ErrExited is returned by Expect when QEMU exited (or the console closed) before the line came.
var ErrExited = errors.New("vm: qemu exited")

// ErrTimeout is returned by Expect when the line did not come in time.
var ErrTimeout = errors.New("vm: timed out waiting for console line")

// maxLine bounds one console line: the guest is under test and may print anything.
const maxLine = 64 << 10

// Config describes one VM.
type Config struct {
	// Kernel and Initramfs are the boot image (scripts/image.sh: build/vmlinuz-airlock and
	// build/airlock-initramfs.cpio.xz).
	Kernel    string
	Initramfs string
	// QEMU is the emulator; default qemu-system-x86_64 from PATH.
	QEMU string
	// MemoryMiB is the guest RAM (the import spool is RAM); default 1024.
	MemoryMiB int
	// Append is added to the kernel command line after "console=ttyS0 panic=-1".
	Append []string
	// Disks are virtio-blk disks attached at boot: the burn target and the audit log medium.
	Disks []Disk
	// Log, if set, receives every console line as it arrives (e.g. a t.Log adapter).
	Log func(line string)
	// Dir holds the QMP socket; default a new temporary directory removed by Close.
	Dir string
	// Overlay files are appended to the initramfs as a second cpio archive (the kernel unpacks
	// concatenated archives in order, later files replacing earlier ones). Tests use it to run a
	// probe instead of the station (u-root's init tries /bbin/uinit before /bin/uinit); nil
	// boots the image exactly as built.
	Overlay []File

	// Medium, when set, boots the machine through its firmware from this image (the hybrid ISO of
	// scripts/boot-medium.sh) attached as MediumAs says, instead of handing QEMU Kernel and
	// Initramfs: the medium's own boot loader then loads the kernel, and Kernel, Initramfs,
	// Append and Overlay are unused.
	Medium   string
	MediumAs MediumKind
	// Firmware is the machine's firmware: SeaBIOS (QEMU's default) or OVMF (UEFI).
	Firmware Firmware
}

// MediumKind is how Config.Medium is attached.
type MediumKind int

// The ways of attaching a boot medium.
const (
	// MediumCD is a read-only ATAPI CD-ROM on the q35 machine's AHCI controller.
	MediumCD MediumKind = iota
	// MediumUSB is a read-only usb-storage disk on the xhci controller (a written stick).
	MediumUSB
)

// String names the kind as test names do.
func (k MediumKind) String() string {
	if k == MediumUSB {
		return "usb"
	}
	return "cd"
}

// Firmware is the VM's firmware.
type Firmware int

// The firmwares a VM can boot with.
const (
	// SeaBIOS is QEMU's default BIOS.
	SeaBIOS Firmware = iota
	// OVMF is Debian's UEFI firmware for QEMU (package ovmf), at OVMFPath.
	OVMF
)

// String names the firmware as test names do.
func (f Firmware) String() string {
	if f == OVMF {
		return "ovmf"
	}
	return "seabios"
}

// OVMFPath is Debian's combined OVMF image (code and variables, package ovmf); booted with
// -bios, its variables are not kept between runs.
const OVMFPath = "/usr/share/ovmf/OVMF.fd"

// File is one file of an initramfs overlay.
type File struct {
	Path string // inside the guest, without the leading slash
	Mode uint64 // permission bits
	Data string
}

// Disk is a file-backed virtio-blk disk attached at boot.
type Disk struct {
	ID       string // QEMU node name and device id
	Path     string // raw image file
	Serial   string // what the guest sees in /sys/block/vdX/serial
	ReadOnly bool
}

// VM is one running QEMU.
type VM struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	mon     *qmp.SocketMonitor
	dir     string
	rmDir   bool
	started time.Time

	lines chan string   // console lines not consumed by Expect yet
	done  chan struct{} // closed when QEMU exited
	err   error         // QEMU's exit status, valid after done

	mu         sync.Mutex
	transcript []string
	events     []qmp.Event
	eventCh    chan struct{} // signalled on every QMP event
}

// Start boots a VM and connects to its QMP socket. The caller must Close it.
func Start(ctx context.Context, c Config) (*VM, error) {
	if c.QEMU == "" {
		c.QEMU = "qemu-system-x86_64"
	}
	if c.MemoryMiB == 0 {
		c.MemoryMiB = 1024
	}
	boot := []string{c.Kernel, c.Initramfs}
	if c.Medium != "" {
		boot = []string{c.Medium}
	}
	if c.Firmware == OVMF {
		boot = append(boot, OVMFPath)
	}
	for _, f := range boot {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("vm: boot image: %w (run make image, make boot-medium; OVMF: make deps)", err)
		}
	}
	v := &VM{lines: make(chan string, 4096), done: make(chan struct{}), eventCh: make(chan struct{}, 1)}
	v.dir = c.Dir
	if v.dir == "" {
		d, err := os.MkdirTemp("", "airlock-vm-")
		if err != nil {
			return nil, fmt.Errorf("vm: %w", err)
		}
		v.dir, v.rmDir = d, true
	}
	sock := filepath.Join(v.dir, "qmp.sock")
	if len(c.Overlay) > 0 && c.Medium == "" {
		img, err := withOverlay(c.Initramfs, filepath.Join(v.dir, "initramfs"), c.Overlay)
		if err != nil {
			v.removeDir()
			return nil, err
		}
		c.Initramfs = img
	}
	args := []string{
		"-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", fmt.Sprint(c.MemoryMiB),
		"-nodefaults", "-nic", "none", "-display", "none", "-no-reboot",
		"-serial", "stdio", "-monitor", "none",
		"-qmp", "unix:" + sock + ",server=on,wait=off",
	}
	if c.Firmware == OVMF {
		args = append(args, "-bios", OVMFPath)
	}
	if c.Medium == "" {
		args = append(args, "-kernel", c.Kernel, "-initrd", c.Initramfs,
			"-append", strings.Join(append([]string{"console=ttyS0", "panic=-1"}, c.Append...), " "))
	}
	args = append(args, "-device", "qemu-xhci,id=xhci")
	if c.Medium != "" {
		// bootindex=0 puts the medium first in the firmware's boot order (fw_cfg bootorder, read
		// by SeaBIOS and OVMF alike).
		args = append(args, "-blockdev",
			fmt.Sprintf("driver=raw,node-name=bootmedium,read-only=on,file.driver=file,file.filename=%s", c.Medium))
		switch c.MediumAs {
		case MediumUSB:
			args = append(args, "-device", "usb-storage,bus=xhci.0,drive=bootmedium,id=bootmedium-dev,removable=on,bootindex=0")
		default:
			args = append(args, "-device", "ide-cd,bus=ide.0,drive=bootmedium,id=bootmedium-dev,bootindex=0")
		}
	}
	for _, d := range c.Disks {
		ro := "off"
		if d.ReadOnly {
			ro = "on"
		}
		args = append(args,
			"-blockdev", fmt.Sprintf("driver=raw,node-name=%s,read-only=%s,file.driver=file,file.filename=%s", d.ID, ro, d.Path),
			"-device", fmt.Sprintf("virtio-blk-pci,drive=%s,id=%s-dev,serial=%s", d.ID, d.ID, d.Serial))
	}
	v.cmd = exec.Command(c.QEMU, args...)
	stdout, err := v.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	v.cmd.Stderr = v.cmd.Stdout // QEMU's own warnings land in the transcript
	if v.stdin, err = v.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	v.started = time.Now()
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("vm: start %s: %w", c.QEMU, err)
	}
	go v.readConsole(stdout, c.Log)
	go func() { v.err = v.cmd.Wait(); close(v.done) }()

	// QEMU creates the socket before it starts the guest; connect as soon as it is there.
	deadline := time.Now().Add(10 * time.Second)
	for {
		v.mon, err = qmp.NewSocketMonitor("unix", sock, 5*time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || v.exited() {
			v.Close()
			return nil, fmt.Errorf("vm: qmp socket %s: %w\n%s", sock, err, v.Transcript())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := v.mon.Connect(); err != nil {
		v.Close()
		return nil, fmt.Errorf("vm: qmp handshake: %w", err)
	}
	evs, err := v.mon.Events(ctx)
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("vm: qmp events: %w", err)
	}
	go v.collectEvents(evs)
	return v, nil
}

// readConsole splits the serial output into lines (CR and ANSI noise stripped) and queues them.
func (v *VM) readConsole(r io.Reader, log func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		line = strings.TrimLeft(line, "\a") // the station's bell is a byte before the line
		v.mu.Lock()
		v.transcript = append(v.transcript, fmt.Sprintf("%6.2fs %s", time.Since(v.started).Seconds(), line))
		v.mu.Unlock()
		if log != nil {
			log(line)
		}
		select {
		case v.lines <- line:
		default: // nobody reads: the transcript keeps it
		}
	}
	close(v.lines)
}

// collectEvents keeps every QMP event (the qmp package blocks its reader unless events are drained).
func (v *VM) collectEvents(evs <-chan qmp.Event) {
	for e := range evs {
		v.mu.Lock()
		v.events = append(v.events, e)
		v.mu.Unlock()
		select {
		case v.eventCh <- struct{}{}:
		default:
		}
	}
}

func (v *VM) exited() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// Since is how long ago QEMU was started.
func (v *VM) Since() time.Duration { return time.Since(v.started) }

// Transcript is every console line so far, each prefixed with the seconds since start.
func (v *VM) Transcript() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return strings.Join(v.transcript, "\n")
}

// Expect consumes console lines until one matches pattern (a regexp) and returns the whole line
// followed by the pattern's submatches.
// Lines before it are consumed too (they stay in the Transcript). It fails with ErrTimeout after
// timeout, with ErrExited if QEMU exits first.
func (v *VM) Expect(ctx context.Context, timeout time.Duration, pattern string) ([]string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("vm: expect: %w", err)
	}
	return v.ExpectAny(ctx, timeout, re)
}

// ExpectAny is Expect for several patterns: it returns the first line that matches any of them,
// followed by that pattern's submatches.
func (v *VM) ExpectAny(ctx context.Context, timeout time.Duration, res ...*regexp.Regexp) ([]string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-v.lines:
			if !ok {
				return nil, fmt.Errorf("%w (waiting for %v)", ErrExited, res)
			}
			for _, re := range res {
				if m := re.FindStringSubmatch(line); m != nil {
					return append([]string{line}, m[1:]...), nil
				}
			}
		case <-timer.C:
			return nil, fmt.Errorf("%w after %v: %v", ErrTimeout, timeout, res)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// SendLine types s and a newline on the serial console.
func (v *VM) SendLine(s string) error {
	if _, err := io.WriteString(v.stdin, s+"\n"); err != nil {
		return fmt.Errorf("vm: console write: %w", err)
	}
	return nil
}

// QMP runs one QMP command and returns its "return" value as raw JSON.
func (v *VM) QMP(execute string, args any) (json.RawMessage, error) {
	cmd, err := json.Marshal(qmp.Command{Execute: execute, Args: args})
	if err != nil {
		return nil, err
	}
	out, err := v.mon.Run(cmd)
	if err != nil {
		return nil, fmt.Errorf("vm: qmp %s: %w", execute, err)
	}
	var r struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("vm: qmp %s: %w", execute, err)
	}
	return r.Return, nil
}

func (v *VM) blockdevAdd(node, path string, readOnly bool) error {
	_, err := v.QMP("blockdev-add", map[string]any{
		"driver": "raw", "node-name": node, "read-only": readOnly,
		"file": map[string]any{"driver": "file", "filename": path},
	})
	return err
}

// Stick describes a USB stick to hot-plug.
type Stick struct {
	ID       string // QEMU device id (used to pull it)
	Path     string // raw image file
	Serial   string // USB serial number string (empty: QEMU's default)
	ReadOnly bool   // the host file is opened read-only (an import stick)
}

// PlugStick hot-plugs a USB mass-storage stick (removable) on the xhci bus.
func (v *VM) PlugStick(s Stick) error {
	if err := v.blockdevAdd(s.ID+"-blk", s.Path, s.ReadOnly); err != nil {
		return err
	}
	args := map[string]any{"driver": "usb-storage", "id": s.ID, "drive": s.ID + "-blk", "bus": "xhci.0",
		"removable": true}
	if s.Serial != "" {
		args["serial"] = s.Serial
	}
	_, err := v.QMP("device_add", args)
	return err
}

// Unplug pulls a USB device (stick, optical drive or keyboard) and waits until QEMU reports it
// gone; a stick's block node is then deleted too.
func (v *VM) Unplug(ctx context.Context, id string) error {
	v.mu.Lock()
	seen := len(v.events)
	v.mu.Unlock()
	if _, err := v.QMP("device_del", map[string]any{"id": id}); err != nil {
		return err
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		v.mu.Lock()
		for _, e := range v.events[seen:] {
			if e.Event == "DEVICE_DELETED" && e.Data["device"] == id {
				v.mu.Unlock()
				// Only a stick has a node of this name; for other devices this fails harmlessly.
				_, _ = v.QMP("blockdev-del", map[string]any{"node-name": id + "-blk"})
				return nil
			}
		}
		seen = len(v.events)
		v.mu.Unlock()
		select {
		case <-v.eventCh:
		case <-timer.C:
			return fmt.Errorf("vm: device_del %s: no DEVICE_DELETED event", id)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// PlugOpticalDrive hot-plugs an empty USB optical drive: a usb-bot bridge with one scsi-cd. Its
// disc is changed with ChangeDisc and taken out with EjectDisc, both by the same id.
func (v *VM) PlugOpticalDrive(id string) error {
	if _, err := v.QMP("device_add", map[string]any{"driver": "usb-bot", "id": id, "bus": "xhci.0"}); err != nil {
		return err
	}
	if _, err := v.QMP("device_add", map[string]any{"driver": "scsi-cd", "id": id + "-cd", "bus": id + ".0", "lun": 0}); err != nil {
		return err
	}
	// A hot-plugged usb-bot stays detached until its SCSI devices are there; then attach it.
	_, err := v.QMP("qom-set", map[string]any{"path": "/machine/peripheral/" + id, "property": "attached", "value": true})
	return err
}

// ChangeDisc puts the ISO image at path into the optical drive id (read-only, as a pressed disc).
func (v *VM) ChangeDisc(id, path string) error {
	_, err := v.QMP("blockdev-change-medium", map[string]any{"id": id + "-cd", "filename": path, "format": "raw",
		"read-only-mode": "read-only"})
	return err
}

// EjectDisc opens the tray of optical drive id, takes the disc out and closes the tray empty.
func (v *VM) EjectDisc(id string) error {
	if _, err := v.QMP("eject", map[string]any{"id": id + "-cd", "force": true}); err != nil {
		return err
	}
	_, err := v.QMP("blockdev-close-tray", map[string]any{"id": id + "-cd"})
	return err
}

// PlugKeyboard hot-plugs a USB keyboard (a BadUSB stand-in the station must refuse).
func (v *VM) PlugKeyboard(id string) error {
	_, err := v.QMP("device_add", map[string]any{"driver": "usb-kbd", "id": id, "bus": "xhci.0"})
	return err
}

// Close stops QEMU (QMP quit, then kill) and removes the temporary directory.
func (v *VM) Close() error {
	if v.mon != nil && !v.exited() {
		_, _ = v.QMP("quit", nil)
	}
	select {
	case <-v.done:
	case <-time.After(5 * time.Second):
		_ = v.cmd.Process.Kill()
		<-v.done
	}
	if v.mon != nil {
		_ = v.mon.Disconnect()
	}
	v.removeDir()
	return nil
}

func (v *VM) removeDir() {
	if v.rmDir {
		os.RemoveAll(v.dir)
	}
}

// withOverlay writes base followed by a newc archive of files to out.
func withOverlay(base, out string, files []File) (string, error) {
	img, err := os.ReadFile(base)
	if err != nil {
		return "", fmt.Errorf("vm: overlay: %w", err)
	}
	var b bytes.Buffer
	b.Write(img)
	for b.Len()%4 != 0 { // each archive starts 4-byte aligned
		b.WriteByte(0)
	}
	w := cpio.Newc.Writer(&b)
	recs := make([]cpio.Record, 0, len(files))
	for _, f := range files {
		recs = append(recs, cpio.StaticFile(f.Path, f.Data, f.Mode))
	}
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		return "", fmt.Errorf("vm: overlay: %w", err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return "", fmt.Errorf("vm: overlay: %w", err)
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("vm: overlay: %w", err)
	}
	return out, nil
}

// Wait waits until QEMU exits by itself (the guest powered off) or ctx ends.
func (v *VM) Wait(ctx context.Context) error {
	select {
	case <-v.done:
		return v.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
