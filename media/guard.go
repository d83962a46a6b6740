package media

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrRefused is wrapped by every refusal of the Guard.
var ErrRefused = errors.New("refused by the device guard")

// Guard rules, named in every refusal.
const (
	RuleBoot        = "boot-medium"       // the medium the appliance booted from
	RuleLog         = "audit-log-medium"  // the medium holding the audit log
	RuleMounted     = "mounted"           // the disk or one of its partitions is mounted or used as swap
	RuleLoop        = "loop-not-allowed"  // a loop device without AllowLoop
	RuleBus         = "usb-only"          // not on the USB bus
	RuleRemovable   = "removable-only"    // USB but not removable
	RuleMassStorage = "mass-storage-only" // a USB device with interfaces other than mass storage
	RuleOptical     = "not-optical"       // an optical drive (read by the import, never wiped)
)

// Refusal says which rule refused which device.
type Refusal struct {
	Device string
	Rule   string
	Reason string
}

// Error names the device, the rule and the reason.
func (r *Refusal) Error() string {
	return fmt.Sprintf("%s: %v: rule %s: %s", r.Device, ErrRefused, r.Rule, r.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (r *Refusal) Unwrap() error { return ErrRefused }

// Guard decides which disks airlock may read or destroy: only removable USB mass storage (or loop
// devices when AllowLoop), never the boot medium, the audit-log medium, or anything mounted.
type Guard struct {
	// AllowLoop admits loop devices (tests and `--allow-loop`).
	AllowLoop bool
	// BootDisks and LogDisks are kernel names ("sda") or nodes ("/dev/sda") of whole disks or of
	// partitions; the disk holding any of them is refused.
	BootDisks, LogDisks []string
	// MountInfo is the mountinfo file to consult; default /proc/self/mountinfo.
	MountInfo string
	// Swaps is the swaps file to consult; default /proc/swaps.
	Swaps string
	// AllowOptical admits optical drives for reading (imports from disc); never for wiping.
	AllowOptical bool
}

// Check returns nil when id may be used, else a *Refusal naming the rule.
func (g *Guard) Check(id *Identity) error {
	refuse := func(rule, format string, args ...any) error {
		return &Refusal{Device: id.Node, Rule: rule, Reason: fmt.Sprintf(format, args...)}
	}
	names := append([]string{id.Name}, id.Partitions...)
	has := func(list []string) string {
		for _, l := range list {
			l = filepath.Base(l)
			for _, n := range names {
				if l == n {
					return l
				}
			}
		}
		return ""
	}
	if n := has(g.BootDisks); n != "" {
		return refuse(RuleBoot, "%s is on the boot medium", n)
	}
	if n := has(g.LogDisks); n != "" {
		return refuse(RuleLog, "%s holds the audit log", n)
	}
	if where, err := g.mounted(id); err != nil {
		return refuse(RuleMounted, "cannot read the mount table: %v", err)
	} else if where != "" {
		return refuse(RuleMounted, "%s", where)
	}
	switch {
	case id.Bus == "loop":
		if !g.AllowLoop {
			return refuse(RuleLoop, "loop devices are admitted only in test mode (--allow-loop)")
		}
		return nil
	case id.Optical:
		if !g.AllowOptical {
			return refuse(RuleOptical, "optical drives are never written")
		}
		return nil
	case id.Bus != "usb":
		return refuse(RuleBus, "bus %s is not USB", id.Bus)
	case !id.Removable:
		return refuse(RuleRemovable, "USB disk %s %s is not removable", id.Vendor, id.Model)
	case !id.MassStorageOnly():
		return refuse(RuleMassStorage, "USB device %s has interfaces %s", id.USBID(), classes(id.Interfaces))
	}
	return nil
}

func classes(ifs []USBInterface) string {
	var s []string
	for _, i := range ifs {
		s = append(s, fmt.Sprintf("%#02x(%s)", i.Class, ClassName(i.Class)))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// ClassName names a USB interface class.
func ClassName(c byte) string {
	switch c {
	case 0x01:
		return "audio"
	case 0x02, 0x0a:
		return "cdc"
	case 0x03:
		return "hid"
	case 0x06:
		return "image"
	case 0x07:
		return "printer"
	case 0x08:
		return "mass-storage"
	case 0x09:
		return "hub"
	case 0x0e:
		return "video"
	case 0xe0:
		return "wireless"
	case 0xef:
		return "misc"
	case 0xff:
		return "vendor"
	}
	return "other"
}

// mounted reports how id (or one of its partitions) is in use by a mount or swap, or "".
func (g *Guard) mounted(id *Identity) (string, error) {
	devs := map[string]string{}
	if id.Dev != "" {
		devs[id.Dev] = id.Name
	}
	for _, p := range id.Partitions {
		if d := readAttr(filepath.Join(id.SysPath, p), "dev"); d != "" {
			devs[d] = p
		}
	}
	mi := g.MountInfo
	if mi == "" {
		mi = "/proc/self/mountinfo"
	}
	f, err := os.Open(mi)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if n, ok := devs[fields[2]]; ok {
			return fmt.Sprintf("%s is mounted on %s", n, unescapeMount(fields[4])), nil
		}
		for i, fld := range fields {
			if fld == "-" && i+2 < len(fields) {
				src := filepath.Base(fields[i+2])
				for _, n := range devs {
					if src == n && strings.HasPrefix(fields[i+2], "/dev/") {
						return fmt.Sprintf("%s is mounted on %s", n, unescapeMount(fields[4])), nil
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	sw := g.Swaps
	if sw == "" {
		sw = "/proc/swaps"
	}
	if b, err := os.ReadFile(sw); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) > 0 && strings.HasPrefix(fields[0], "/dev/") {
				for _, n := range devs {
					if filepath.Base(fields[0]) == n {
						return fmt.Sprintf("%s is in use as swap", n), nil
					}
				}
			}
		}
	}
	return "", nil
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}
