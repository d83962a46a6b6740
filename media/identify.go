package media

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Identity is what sysfs and the block ioctls say about a disk.
type Identity struct {
	Name    string `json:"name"`     // kernel name: "sdb", "loop3", "sr0"
	Node    string `json:"node"`     // device node: "/dev/sdb"
	SysPath string `json:"sys_path"` // resolved sysfs directory of the disk
	Dev     string `json:"dev"`      // "MAJOR:MINOR"
	Bus     string `json:"bus"`      // "usb", "ata", "nvme", "virtio", "mmc", "loop", "scsi" or "other"

	Vendor       string         `json:"vendor"`
	Model        string         `json:"model"`
	Serial       string         `json:"serial"`
	USBVendorID  string         `json:"usb_vendor_id"`  // four lower-case hex digits, USB only
	USBProductID string         `json:"usb_product_id"` // four lower-case hex digits, USB only
	USBDevice    string         `json:"usb_device"`     // sysfs directory of the USB device, USB only
	Interfaces   []USBInterface `json:"interfaces"`     // USB only

	Size              int64    `json:"size"` // bytes (BLKGETSIZE64 when the node opens, else sysfs)
	LogicalSectorSize int      `json:"logical_sector_size"`
	Removable         bool     `json:"removable"`
	ReadOnly          bool     `json:"read_only"`
	Partitions        []string `json:"partitions"`   // kernel names of the disk's partitions: "sdb1", ...
	BackingFile       string   `json:"backing_file"` // loop devices only

	Optical     bool   `json:"optical"`
	DriveStatus string `json:"drive_status"` // optical only: "no disc", "tray open", "not ready", "disc ok", "no info"
}

// USBInterface is one interface of a USB device's active configuration (or its descriptors).
type USBInterface struct {
	Number   int  `json:"number"`
	Class    byte `json:"class"` // 0x08 mass storage, 0x03 HID, 0x09 hub, 0x02/0x0a CDC/net, 0xe0 wireless, 0xff vendor
	SubClass byte `json:"subclass"`
	Protocol byte `json:"protocol"`
}

// USBID returns "vvvv:pppp", or "" for a non-USB disk.
func (id *Identity) USBID() string {
	if id.USBVendorID == "" {
		return ""
	}
	return id.USBVendorID + ":" + id.USBProductID
}

// MassStorageOnly reports whether the device is USB and every interface is mass storage.
func (id *Identity) MassStorageOnly() bool {
	if id.Bus != "usb" || len(id.Interfaces) == 0 {
		return false
	}
	for _, i := range id.Interfaces {
		if i.Class != 0x08 {
			return false
		}
	}
	return true
}

func readAttr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	if len(b) > 4096 {
		b = b[:4096]
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, string(b)))
}

// Identify describes the disk devName (a kernel name such as "sdb", or "/dev/sdb") from the sysfs
// tree at sysfsRoot ("/sys" on a real system) and, when its node exists under /dev, from the
// block ioctls.
//
// Device nodes are looked up in /dev for the sysfs root "/sys", and in the "dev" directory beside
// any other sysfs root (so a fake tree in a test never reaches the machine's real devices).
func Identify(sysfsRoot, devName string) (*Identity, error) {
	devDir := "/dev"
	if r := filepath.Clean(sysfsRoot); r != "/sys" {
		devDir = filepath.Join(filepath.Dir(r), "dev")
	}
	return identify(sysfsRoot, devDir, devName)
}

func identify(sysfsRoot, devDir, devName string) (*Identity, error) {
	name := filepath.Base(devName)
	link := filepath.Join(sysfsRoot, "class", "block", name)
	sys, err := filepath.EvalSymlinks(link)
	if err != nil {
		return nil, fmt.Errorf("identify %s: %w", name, err)
	}
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		return nil, fmt.Errorf("identify %s: is a partition of %s, not a disk", name, filepath.Base(filepath.Dir(sys)))
	}
	id := &Identity{Name: name, Node: filepath.Join(devDir, name), SysPath: sys, Dev: readAttr(sys, "dev")}
	id.Removable = readAttr(sys, "removable") == "1"
	id.ReadOnly = readAttr(sys, "ro") == "1"
	if n, err := strconv.ParseInt(readAttr(sys, "size"), 10, 64); err == nil {
		id.Size = n * 512
	}
	id.LogicalSectorSize, _ = strconv.Atoi(readAttr(sys, "queue/logical_block_size"))
	entries, _ := os.ReadDir(sys)
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(sys, e.Name(), "partition")); err == nil {
			id.Partitions = append(id.Partitions, e.Name())
		}
	}
	sort.Strings(id.Partitions)
	id.Vendor = readAttr(sys, "device/vendor")
	id.Model = readAttr(sys, "device/model")
	if id.Model == "" {
		id.Model = readAttr(sys, "device/name") // mmc
	}
	id.Serial = readAttr(sys, "device/serial")
	if id.Serial == "" {
		id.Serial = readAttr(sys, "serial") // virtio, nvme
	}
	id.Optical = strings.HasPrefix(name, "sr") || readAttr(sys, "device/type") == "5"
	switch {
	case strings.HasPrefix(name, "loop") || strings.Contains(sys, "/virtual/block/loop"):
		id.Bus = "loop"
		id.BackingFile = readAttr(sys, "loop/backing_file")
		id.Removable = true // a loop device is the test stand-in for a stick; the guard decides
		id.Model = "loop"
	case strings.Contains(sys, "/usb"):
		id.Bus = "usb"
		id.identifyUSB(sys)
	case strings.Contains(sys, "/nvme"):
		id.Bus = "nvme"
	case strings.Contains(sys, "/virtio"):
		id.Bus = "virtio"
	case strings.Contains(sys, "/mmc"):
		id.Bus = "mmc"
	case strings.Contains(sys, "/ata"):
		id.Bus = "ata"
	case strings.Contains(sys, "/host"):
		id.Bus = "scsi"
	default:
		id.Bus = "other"
	}
	id.fromNode()
	return id, nil
}

// identifyUSB walks up from the disk to the USB device (the first ancestor with idVendor).
func (id *Identity) identifyUSB(sys string) {
	for d := filepath.Dir(sys); len(d) > 1; d = filepath.Dir(d) {
		if readAttr(d, "idVendor") == "" {
			continue
		}
		id.USBDevice = d
		id.USBVendorID = strings.ToLower(readAttr(d, "idVendor"))
		id.USBProductID = strings.ToLower(readAttr(d, "idProduct"))
		if s := readAttr(d, "serial"); s != "" {
			id.Serial = s
		}
		if m := readAttr(d, "manufacturer"); m != "" && id.Vendor == "" {
			id.Vendor = m
		}
		if p := readAttr(d, "product"); p != "" && id.Model == "" {
			id.Model = p
		}
		id.Interfaces = USBInterfaces(d)
		return
	}
}

// USBInterfaces lists the interfaces of the USB device at sysfs directory dir, from its raw
// descriptors (present even while the device is unauthorized and has no active configuration),
// or else from its interface directories.
func USBInterfaces(dir string) []USBInterface {
	if b, err := os.ReadFile(filepath.Join(dir, "descriptors")); err == nil && len(b) > 0 {
		if ifs := parseDescriptors(b); len(ifs) > 0 {
			return ifs
		}
	}
	var out []USBInterface
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		c := readAttr(sub, "bInterfaceClass")
		if c == "" {
			continue
		}
		n, _ := strconv.ParseUint(readAttr(sub, "bInterfaceNumber"), 16, 8)
		cl, _ := strconv.ParseUint(c, 16, 8)
		sc, _ := strconv.ParseUint(readAttr(sub, "bInterfaceSubClass"), 16, 8)
		pr, _ := strconv.ParseUint(readAttr(sub, "bInterfaceProtocol"), 16, 8)
		out = append(out, USBInterface{Number: int(n), Class: byte(cl), SubClass: byte(sc), Protocol: byte(pr)})
	}
	return out
}

// parseDescriptors decodes the interface descriptors (type 4) of every configuration in the raw
// descriptor dump of a USB device. A hub's device class (9) counts as a hub interface.
func parseDescriptors(b []byte) []USBInterface {
	var out []USBInterface
	if len(b) >= 18 && b[1] == 1 && b[4] == 0x09 {
		out = append(out, USBInterface{Number: -1, Class: 0x09})
	}
	for len(b) >= 2 {
		l := int(b[0])
		if l < 2 || l > len(b) {
			break
		}
		if b[1] == 4 && l >= 9 {
			out = append(out, USBInterface{Number: int(b[2]), Class: b[5], SubClass: b[6], Protocol: b[7]})
		}
		b = b[l:]
	}
	return out
}

// fromNode asks the kernel for the exact size, sector size and (optical) drive status.
func (id *Identity) fromNode() {
	f, err := os.OpenFile(id.Node, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if id.Optical {
			id.DriveStatus = "no info"
		}
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeDevice == 0 {
		return
	}
	fd := int(f.Fd())
	if id.Optical {
		id.DriveStatus = DriveStatus(fd)
	}
	if size, ss, err := blockSize(fd); err == nil {
		id.Size, id.LogicalSectorSize = size, int(ss)
	}
	if ro, err := unix.IoctlGetInt(fd, unix.BLKROGET); err == nil && ro != 0 {
		id.ReadOnly = true
	}
}

// DriveStatus asks an open optical drive for its status (CDROM_DRIVE_STATUS).
func DriveStatus(fd int) string {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), CDROM_DRIVE_STATUS, CDSL_CURRENT)
	if e != 0 {
		return "no info"
	}
	switch r {
	case 1:
		return "no disc"
	case 2:
		return "tray open"
	case 3:
		return "not ready"
	case 4:
		return "disc ok"
	}
	return "no info"
}

// Eject opens the tray of the optical drive at node (CDROMEJECT).
func Eject(node string) error {
	f, err := os.OpenFile(node, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), CDROMEJECT, 0); e != 0 {
		return fmt.Errorf("eject %s: %w", node, e)
	}
	return nil
}

// Disks lists the kernel names of the disks (not partitions) in sysfsRoot/class/block.
func Disks(sysfsRoot string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(sysfsRoot, "class", "block"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(sysfsRoot, "class", "block", e.Name(), "partition")); errors.Is(err, os.ErrNotExist) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
