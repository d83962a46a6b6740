package media

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// USBAuthorizer is the BadUSB defence: with LockDown every USB host controller stops authorizing
// new devices by default, and Authorize admits a device only when every interface it presents is
// mass storage (class 0x08). A stick that also presents a keyboard (HID), a hub, a network or a
// vendor interface stays unauthorized, so no driver ever binds to it.
type USBAuthorizer struct {
	SysfsRoot string // "/sys"
}

// USBVerdict is the outcome of Authorize for one device.
type USBVerdict struct {
	Device     string // sysfs directory
	USBID      string // "vvvv:pppp"
	Interfaces []USBInterface
	Authorized bool
	Reason     string // why not, when not
}

// LockDown writes 0 to authorized_default of every USB host (root hub) under the sysfs root, so
// that devices plugged in afterwards stay unauthorized until Authorize admits them.
func (a *USBAuthorizer) LockDown() error {
	hosts, err := filepath.Glob(filepath.Join(a.SysfsRoot, "bus", "usb", "devices", "usb*"))
	if err != nil {
		return err
	}
	if len(hosts) == 0 {
		return nil // no USB host controller: nothing to lock
	}
	for _, h := range hosts {
		if err := os.WriteFile(filepath.Join(h, "authorized_default"), []byte("0"), 0); err != nil {
			return fmt.Errorf("usb lockdown %s: %w", filepath.Base(h), err)
		}
	}
	return nil
}

// Authorize inspects the USB device at sysfs directory dev (e.g. /sys/bus/usb/devices/1-1, or
// Event.SysPath of a USBAdded event) and, when every interface is mass storage, writes 1 to its
// authorized attribute; otherwise it writes 0. Call it for devices that arrive after LockDown.
func (a *USBAuthorizer) Authorize(dev string) (*USBVerdict, error) {
	v := &USBVerdict{Device: dev, Interfaces: USBInterfaces(dev)}
	v.USBID = strings.ToLower(readAttr(dev, "idVendor")) + ":" + strings.ToLower(readAttr(dev, "idProduct"))
	switch {
	case len(v.Interfaces) == 0:
		v.Reason = "no interfaces"
	default:
		for _, i := range v.Interfaces {
			if i.Class != 0x08 {
				v.Reason = fmt.Sprintf("presents a %s interface (class %#02x)", ClassName(i.Class), i.Class)
				break
			}
		}
	}
	if v.Reason != "" {
		// Make sure it stays unauthorized even if it was authorized before the lockdown.
		_ = os.WriteFile(filepath.Join(dev, "authorized"), []byte("0"), 0)
		return v, nil
	}
	if err := os.WriteFile(filepath.Join(dev, "authorized"), []byte("1"), 0); err != nil {
		return v, fmt.Errorf("authorize %s: %w", filepath.Base(dev), err)
	}
	v.Authorized = true
	return v, nil
}

// AuthorizePending applies Authorize to every USB device (not root hubs, not interfaces) that is
// currently unauthorized: the devices plugged in since LockDown. Devices authorized before (the
// operator's keyboard at boot) are left alone.
func (a *USBAuthorizer) AuthorizePending() ([]*USBVerdict, error) {
	devs, err := filepath.Glob(filepath.Join(a.SysfsRoot, "bus", "usb", "devices", "*"))
	if err != nil {
		return nil, err
	}
	var out []*USBVerdict
	for _, d := range devs {
		base := filepath.Base(d)
		if strings.HasPrefix(base, "usb") || strings.Contains(base, ":") || readAttr(d, "authorized") != "0" {
			continue
		}
		if real, err := filepath.EvalSymlinks(d); err == nil {
			d = real
		}
		v, err := a.Authorize(d)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// AuthorizeAll is AuthorizePending (kept for callers of the first API): it inspects only devices
// that are still unauthorized, so a device admitted before (the operator's keyboard) is never
// switched off.
func (a *USBAuthorizer) AuthorizeAll() ([]*USBVerdict, error) { return a.AuthorizePending() }
