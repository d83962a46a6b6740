package burner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux ioctls that x/sys/unix does not define (linux/cdrom.h, scsi/sg.h).
const (
	ioctlCDROMEJECT       = 0x5309
	ioctlCDROMCLOSETRAY   = 0x5319
	ioctlCDROMDRIVESTATUS = 0x5326
	ioctlSGIO             = 0x2285

	cdsNoDisc    = 1
	cdsTrayOpen  = 2
	cdsNotReady  = 3
	cdsDiscOK    = 4
	cdslCurrent  = 0x7fffffff
	sgDxferFromD = -3
)

// sgIOHdr is struct sg_io_hdr (scsi/sg.h) on 64-bit Linux.
type sgIOHdr struct {
	interfaceID    int32
	dxferDirection int32
	cmdLen         uint8
	mxSbLen        uint8
	iovecCount     uint16
	dxferLen       uint32
	dxferp         uintptr
	cmdp           uintptr
	sbp            uintptr
	timeout        uint32
	flags          uint32
	packID         int32
	usrPtr         uintptr
	status         uint8
	maskedStatus   uint8
	msgStatus      uint8
	sbLenWr        uint8
	hostStatus     uint16
	driverStatus   uint16
	resid          int32
	duration       uint32
	info           uint32
}

// mmcIn runs one MMC command that reads data from the drive.
func mmcIn(f *os.File, cdb []byte, n int) ([]byte, error) {
	buf := make([]byte, n)
	sense := make([]byte, 32)
	h := sgIOHdr{interfaceID: 'S', dxferDirection: sgDxferFromD, cmdLen: uint8(len(cdb)), mxSbLen: uint8(len(sense)),
		dxferLen: uint32(n), dxferp: uintptr(unsafe.Pointer(&buf[0])), cmdp: uintptr(unsafe.Pointer(&cdb[0])),
		sbp: uintptr(unsafe.Pointer(&sense[0])), timeout: 20000}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ioctlSGIO, uintptr(unsafe.Pointer(&h)))
	runtime.KeepAlive(buf)
	runtime.KeepAlive(cdb)
	runtime.KeepAlive(sense)
	if errno != 0 {
		return nil, fmt.Errorf("SG_IO 0x%02x: %w", cdb[0], errno)
	}
	if h.status != 0 || h.hostStatus != 0 || h.driverStatus&0x0f != 0 {
		return nil, fmt.Errorf("MMC 0x%02x: status 0x%x host 0x%x driver 0x%x sense %x", cdb[0], h.status,
			h.hostStatus, h.driverStatus, sense[:h.sbLenWr])
	}
	return buf[:n-int(max(h.resid, 0))], nil
}

// profileName maps an MMC profile number (GET CONFIGURATION "current profile") to a media type.
func profileName(p uint16) (name string, rewritable, rom bool) {
	switch p {
	case 0x08:
		return "CD-ROM", false, true
	case 0x09:
		return "CD-R", false, false
	case 0x0A:
		return "CD-RW", true, false
	case 0x10:
		return "DVD-ROM", false, true
	case 0x11:
		return "DVD-R", false, false
	case 0x12:
		return "DVD-RAM", true, false
	case 0x13, 0x14:
		return "DVD-RW", true, false
	case 0x15, 0x16:
		return "DVD-R DL", false, false
	case 0x1A:
		return "DVD+RW", true, false
	case 0x1B:
		return "DVD+R", false, false
	case 0x2B:
		return "DVD+R DL", false, false
	case 0x40:
		return "BD-ROM", false, true
	case 0x41, 0x42:
		return "BD-R", false, false
	case 0x43:
		return "BD-RE", true, false
	case 0:
		return "", false, false
	}
	return fmt.Sprintf("profile 0x%04x", p), false, false
}

// parseConfiguration reads the current profile from a GET CONFIGURATION response header.
func parseConfiguration(b []byte) (uint16, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("GET CONFIGURATION: %d bytes", len(b))
	}
	return binary.BigEndian.Uint16(b[6:]), nil
}

// parseDiscInfo reads the disc status and erasable bit of READ DISC INFORMATION (MMC-5 6.22).
func parseDiscInfo(b []byte) (DiscState, bool, error) {
	if len(b) < 3 {
		return StateUnknown, false, fmt.Errorf("READ DISC INFORMATION: %d bytes", len(b))
	}
	erasable := b[2]&0x10 != 0
	switch b[2] & 3 {
	case 0:
		return StateBlank, erasable, nil
	case 1:
		return StateAppendable, erasable, nil
	case 2:
		return StateClosed, erasable, nil
	}
	return StateNotWritable, erasable, nil // "others": random-access media
}

// parseTrackFree reads Free Blocks from READ TRACK INFORMATION (MMC-5 6.27).
func parseTrackFree(b []byte) (int64, error) {
	if len(b) < 20 {
		return 0, fmt.Errorf("READ TRACK INFORMATION: %d bytes", len(b))
	}
	return int64(binary.BigEndian.Uint32(b[16:])) * SectorSize, nil
}

// nativeStatus reads the drive without xorriso: CDROM_DRIVE_STATUS for presence, then GET
// CONFIGURATION (profile), READ DISC INFORMATION (state), READ TRACK INFORMATION on the
// invisible track (free blocks).
func nativeStatus(dev string) (Status, error) {
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return Status{}, err
	}
	defer f.Close()
	st := Status{Source: "mmc"}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ioctlCDROMDRIVESTATUS, cdslCurrent)
	if errno != 0 {
		return Status{}, fmt.Errorf("%s: CDROM_DRIVE_STATUS: %w", dev, errno)
	}
	switch r {
	case cdsNoDisc, cdsTrayOpen:
		st.State = StateNoDisc
		return st, nil
	case cdsNotReady:
		return Status{}, fmt.Errorf("%s: drive not ready", dev)
	}
	cfg, err := mmcIn(f, []byte{0x46, 0x01, 0, 0, 0, 0, 0, 0, 8, 0}, 8)
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", dev, err)
	}
	prof, err := parseConfiguration(cfg)
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", dev, err)
	}
	if prof == 0 {
		st.State = StateNoDisc
		return st, nil
	}
	var rom bool
	st.Media, st.Rewritable, rom = profileName(prof)
	di, err := mmcIn(f, []byte{0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0}, 34)
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", dev, err)
	}
	var erasable bool
	if st.State, erasable, err = parseDiscInfo(di); err != nil {
		return Status{}, fmt.Errorf("%s: %w", dev, err)
	}
	st.Rewritable = st.Rewritable || erasable
	if rom {
		st.State = StateNotWritable
		return st, nil
	}
	if st.State == StateBlank || st.State == StateAppendable {
		// Track 0xFF: the invisible (next writable) track.
		ti, err := mmcIn(f, []byte{0x52, 0x01, 0, 0, 0, 0xFF, 0, 0, 36, 0}, 36)
		if err == nil {
			st.Capacity, _ = parseTrackFree(ti)
		}
	}
	return st, nil
}

func ejectDevice(dev string) error {
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("eject %s: %w", dev, err)
	}
	defer f.Close()
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ioctlCDROMEJECT, 0); errno != 0 {
		return fmt.Errorf("eject %s: %w", dev, errno)
	}
	return nil
}

// reloadDevice ejects and closes the tray, then waits for the disc, so that the kernel reads
// the capacity of the freshly burned medium (the sr driver caches it from before the burn).
func reloadDevice(ctx context.Context, dev string) error {
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("reload %s: %w", dev, err)
	}
	defer f.Close()
	unix.Syscall(unix.SYS_IOCTL, f.Fd(), ioctlCDROMEJECT, 0)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ioctlCDROMCLOSETRAY, 0); errno != 0 {
		return fmt.Errorf("reload %s: close tray: %w (reinsert the disc)", dev, errno)
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ioctlCDROMDRIVESTATUS, cdslCurrent)
		if errno == 0 && r == cdsDiscOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("reload %s: %w", dev, ctx.Err())
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("reload %s: %w", dev, errors.New("disc not ready after 90 s"))
}

// ioctlCDROMMULTISESSION asks a CD-ROM device where its last session starts (linux/cdrom.h).
const ioctlCDROMMULTISESSION = 0x5310

// lastSession returns the first sector of the last session of the disc in f; ok is false when f
// is not a CD-ROM device (a USB stick holding an image), which has one session by construction.
func lastSession(f *os.File) (int64, bool) {
	// struct cdrom_multisession { union cdrom_addr addr; __u8 xa_flag; __u8 addr_format; }
	var ms [8]byte
	ms[5] = 0x01 // CDROM_LBA
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ioctlCDROMMULTISESSION, uintptr(unsafe.Pointer(&ms[0])))
	if errno != 0 {
		return 0, false
	}
	return int64(int32(binary.NativeEndian.Uint32(ms[:4]))), true
}
