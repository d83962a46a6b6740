package appliance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/u-root/u-root/pkg/kmodule"
	"golang.org/x/sys/unix"

	"github.com/airlock-appliance/airlock/appliance/policy"
	"github.com/airlock-appliance/airlock/bootmedium"
	"github.com/airlock-appliance/airlock/media"
	"github.com/airlock-appliance/airlock/sealing"
)

// Paths of the appliance's boot duties.
const (
	// ModulesList names the kernel modules to load, in order (scripts/image.sh installs it).
	ModulesList = "/etc/airlock/modules"
	// PollParam enables media-change polling; without it no disc-change event ever comes.
	PollParam = "/sys/module/block/parameters/events_dfl_poll_msecs"
	// LogMount is where the audit log medium is mounted.
	LogMount = "/run/airlock/log"
	// LogSubdir is the log's directory on its medium.
	LogSubdir = "airlock-log"
)

// BootResult is what the boot duties found.
type BootResult struct {
	// LogDir is the audit log directory ("" when no log medium was found: the station then
	// logs onto every disc only, and says so).
	LogDir string
	// LogDisk is the disk holding the log (refused by the guard).
	LogDisk string
	// Notes are what the operator should know (modules that failed to load, ...).
	Notes []string
	// MediumUUID is the ISO volume UUID of the boot medium (kernel parameter airlock.medium,
	// set by scripts/boot-medium.sh's grub.cfg; "" when booted otherwise): the device guard
	// refuses the disk that carries it.
	MediumUUID string
}

// BootDuties performs the duties of the u-root uinit before the station starts: mount proc, sys,
// devtmpfs and a tmpfs spool, load the image's kernel modules (u-root's pkg/kmodule, which
// follows modules.dep), enable media-change polling, lock USB down to mass storage, and find and
// mount the audit log medium by label or serial. Each step that fails is either fatal (no
// /proc, no spool) or a note, so the station can show it.
func BootDuties(ctx context.Context, pol *policy.Policy) (*BootResult, error) {
	res := &BootResult{}
	note := func(format string, args ...any) { res.Notes = append(res.Notes, fmt.Sprintf(format, args...)) }
	for _, m := range []struct{ src, dir, fstype, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", "mode=0755"},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
	} {
		if err := mountOnce(m.src, m.dir, m.fstype, m.data); err != nil {
			return nil, fmt.Errorf("boot: mount %s: %w", m.dir, err)
		}
	}
	if err := os.MkdirAll(pol.Import.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("boot: spool: %w", err)
	}
	if err := mountOnce("tmpfs", pol.Import.SpoolDir, "tmpfs", fmt.Sprintf("mode=0700,size=%d", int64(pol.Import.SpoolMax)+64<<20)); err != nil {
		return nil, fmt.Errorf("boot: spool tmpfs: %w", err)
	}
	// USB lock-down: usbcore starts with authorized_default=0, so no USB device plugged in from
	// the moment the host controllers come up binds a driver before the authorizer judged it
	// (the controllers are modules: a lock-down through sysfs before loading them would find no
	// host, and one after would be too late). LockDown then covers a usbcore built in.
	params := map[string]string{"usb-storage": "delay_use=0", "usb_storage": "delay_use=0"}
	if pol.USB.Authorize {
		params["usbcore"] = "authorized_default=0"
	}
	for _, n := range loadModules(ModulesList, params) {
		note("%s", n)
	}
	if pol.USB.Authorize {
		a := &media.USBAuthorizer{SysfsRoot: "/sys"}
		if err := a.LockDown(); err != nil {
			note("USB lock-down: %v", err)
		}
	}
	if err := os.WriteFile(PollParam, []byte("2000"), 0); err != nil {
		note("media-change polling: %v", err)
	}
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		res.MediumUUID = bootmedium.FromCmdline(string(b))
	}
	dir, disk, err := findLogMedium(ctx, pol)
	if err != nil {
		if err := NoLogMedium(pol, err); err != nil {
			return nil, err
		}
		note("audit log medium: %v; audit.ephemeral_log = true: the log is EPHEMERAL (RAM, this boot only) and every disc says so", err)
	} else {
		res.LogDir, res.LogDisk = dir, disk
	}
	return res, nil
}

// ErrNoLogMedium: the appliance found no audit log medium and the policy does not allow an
// ephemeral log.
var ErrNoLogMedium = errors.New("no audit log medium")

// NoLogMedium decides what a boot without its log medium does: an error that refuses the start
// (ErrNoLogMedium, naming the policy key that would allow it), or nil when the policy allows an
// ephemeral log. A station that silently started with a log in RAM would make discs the high
// side rejects as a rollback of the log, with no hint why.
func NoLogMedium(pol *policy.Policy, why error) error {
	if pol.Audit.EphemeralLog {
		return nil
	}
	return fmt.Errorf("boot: %w (%v): refusing to start; attach the log medium (label %q, serial %q), or set audit.ephemeral_log = true to run with a log in RAM for this boot (every disc then says so)",
		ErrNoLogMedium, why, pol.Audit.LogLabel, pol.Audit.LogSerial)
}

// mountOnce mounts fstype on dir unless something is mounted there already (u-root's init
// mounts proc, sys and dev itself; mounting again would stack a second instance).
func mountOnce(src, dir, fstype, data string) error {
	if mounted(dir) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err := unix.Mount(src, dir, fstype, unix.MS_NOSUID|unix.MS_NODEV*b2u(fstype != "devtmpfs"), data)
	if errors.Is(err, unix.EBUSY) {
		return nil
	}
	return err
}

// mounted reports whether dir is a mount point: its device differs from its parent's, or, for
// /proc before anything is known, /proc/self exists.
func mounted(dir string) bool {
	if dir == "/proc" {
		_, err := os.Stat("/proc/self")
		return err == nil
	}
	var st, pst unix.Stat_t
	if unix.Stat(dir, &st) != nil || unix.Stat(filepath.Dir(dir), &pst) != nil {
		return false
	}
	return st.Dev != pst.Dev
}

func b2u(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}

// loadModules loads each module named in list (one per line, # comments) with its
// dependencies and the given parameters, and returns a note per failure. Modules a listed one
// depends on are loaded first by the prober, without parameters: list a module that needs
// parameters (usbcore) before the ones that depend on it.
func loadModules(list string, params map[string]string) []string {
	f, err := os.Open(list)
	if err != nil {
		return []string{"kernel modules: " + err.Error()}
	}
	defer f.Close()
	p, err := kmodule.NewProber(kmodule.ProbeOpts{})
	if err != nil {
		return []string{"kernel modules: " + err.Error()}
	}
	var notes []string
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		if err := p.Probe(name, params[name]); err != nil && !errors.Is(err, unix.EEXIST) {
			notes = append(notes, fmt.Sprintf("module %s: %v", name, err))
		}
	}
	return notes
}

// findLogMedium looks at every disk and partition for a FAT filesystem labelled
// audit.log_label (or a disk with serial audit.log_serial), mounts it at LogMount and returns
// the log directory on it.
func findLogMedium(ctx context.Context, pol *policy.Policy) (dir, disk string, err error) {
	if pol.Audit.LogDir != "" {
		return pol.Audit.LogDir, "", os.MkdirAll(pol.Audit.LogDir, 0o700)
	}
	disks, err := media.Disks("/sys")
	if err != nil {
		return "", "", err
	}
	for _, d := range disks {
		id, err := media.Identify("/sys", d)
		if err != nil || id.Optical {
			continue
		}
		if pol.Audit.LogSerial != "" && strings.TrimSpace(id.Serial) != pol.Audit.LogSerial {
			continue
		}
		cands := []string{"/dev/" + d}
		for _, p := range id.Partitions {
			cands = append(cands, "/dev/"+p)
		}
		for _, c := range cands {
			if !fatAtStart(ctx, c, pol.Audit.LogLabel, pol.Audit.LogSerial != "") {
				continue
			}
			if err := os.MkdirAll(LogMount, 0o700); err != nil {
				return "", "", err
			}
			clearReadOnly(c)
			if err := unix.Mount(c, LogMount, "vfat", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_SYNCHRONOUS, "flush"); err != nil {
				return "", "", fmt.Errorf("mount %s: %w", c, err)
			}
			dir := filepath.Join(LogMount, LogSubdir)
			return dir, d, os.MkdirAll(dir, 0o700)
		}
	}
	return "", "", fmt.Errorf("no disk with label %q or serial %q", pol.Audit.LogLabel, pol.Audit.LogSerial)
}

// hasLabel reports whether dev starts with a FAT filesystem labelled label (fatAtStart).
func hasLabel(ctx context.Context, dev, label string) bool { return fatAtStart(ctx, dev, label, false) }

// fatAtStart reports whether dev starts with a FAT filesystem labelled label (with anyFAT, with
// any label: a disk found by its serial), that is, one that mounting dev itself finds: a disk
// partitioned by airlock log init shows its labelled filesystem in its partition, not at its
// start. It reads dev's filesystems in userspace, not with media.Open, which sets the kernel's
// read-only flag (right for sticks, wrong for the log medium that is mounted next).
func fatAtStart(ctx context.Context, dev, label string, anyFAT bool) bool {
	if label == "" && !anyFAT {
		return false
	}
	f, err := os.Open(dev)
	if err != nil {
		return false
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size <= 0 {
		return false
	}
	m, err := media.ReadFS(ctx, f, size, 512)
	if err != nil {
		return false
	}
	for _, v := range m.Volumes {
		if v.Start != 0 || !strings.HasPrefix(v.Kind, "fat") {
			continue
		}
		if anyFAT || strings.EqualFold(strings.TrimSpace(v.Label), label) {
			return true
		}
	}
	return false
}

// clearReadOnly clears the kernel's read-only flag of dev (BLKROSET 0), which a userspace read
// of the device through media.Open would have set.
func clearReadOnly(dev string) {
	f, err := os.Open(dev)
	if err != nil {
		return
	}
	defer f.Close()
	unix.IoctlSetPointerInt(int(f.Fd()), unix.BLKROSET, 0)
}

// MaxPassphraseTries is how often AskPassphrase asks before the station refuses to start.
const MaxPassphraseTries = 5

// AskPassphrase asks on the line console (prompt id "passphrase") for the passphrase of the
// encrypted keys in pol.Keys.Dir, tries it on every one of them (seal.key, log.key) and asks
// again, saying so, while it opens none; a key file that is missing is left to Wire to report.
// read returns one typed line (without echo on a terminal).
func AskPassphrase(out io.Writer, read func() (string, error), pol *policy.Policy) (string, error) {
	for try := 1; ; try++ {
		fmt.Fprintln(out, "airlock: prompt passphrase: passphrase of the keys in "+pol.Keys.Dir+"?")
		p, err := read()
		if err != nil {
			return "", err
		}
		err = tryPassphrase(pol.Keys.Dir, p)
		if err == nil {
			return p, nil
		}
		if try >= MaxPassphraseTries {
			return "", fmt.Errorf("%d wrong tries, the last: %w", try, err)
		}
		fmt.Fprintf(out, "airlock: info wrong passphrase (%v); try %d of %d\n", err, try+1, MaxPassphraseTries)
	}
}

// tryPassphrase opens each secret key of dir that exists with p.
func tryPassphrase(dir, p string) error {
	seal, log := filepath.Join(dir, sealing.SealKeyFile), filepath.Join(dir, sealing.LogKeyFile)
	if _, err := os.Stat(seal); err == nil {
		if _, err := sealing.LoadSealKey(seal, p); err != nil {
			return err
		}
	}
	if _, err := os.Stat(log); err == nil {
		if _, err := sealing.LoadNoteSigner(log, p); err != nil {
			return err
		}
	}
	return nil
}

// IsBootMedium reports whether the disk dev carries the ISO volume UUID uuid: the stick or disc
// the appliance booted from, which it must never import from or wipe. A device that cannot be
// read is not it (the guard's other rules and the job's own reads judge it then).
func IsBootMedium(dev, uuid string) bool {
	if uuid == "" {
		return false
	}
	f, err := os.Open(dev)
	if err != nil {
		return false
	}
	defer f.Close()
	u, err := bootmedium.VolumeUUID(dev, f)
	return err == nil && u == uuid
}
