package bootmedium

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// CmdlineParam is the kernel parameter the medium's grub.cfg sets to its volume UUID, so that the
// station can tell its own boot medium from an inserted stick.
const CmdlineParam = "airlock.medium"

// ErrNotISO is returned by VolumeUUID for a device without an ISO 9660 primary volume descriptor.
var ErrNotISO = errors.New("no ISO 9660 primary volume descriptor")

// VolumeUUID reads the ISO 9660 primary volume descriptor (sector 16 of 2048 bytes) of r and
// returns its volume UUID as GRUB spells it (search --fs-uuid): the modification date
// YYYYMMDDhhmmsscc as YYYY-MM-DD-hh-mm-ss-cc. name is used in errors. The bytes come from any
// inserted device, so every field is checked and nothing else is read.
func VolumeUUID(name string, r io.ReaderAt) (string, error) {
	var pvd [2048]byte
	if _, err := r.ReadAt(pvd[:], 16*2048); err != nil {
		return "", fmt.Errorf("%s: %w (%v)", name, ErrNotISO, err)
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" || pvd[6] != 1 {
		return "", fmt.Errorf("%s: %w", name, ErrNotISO)
	}
	d := pvd[830:846] // volume modification date and time, 16 digits (then a time zone byte)
	for _, c := range d {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("%s: ISO 9660 modification date %q is not 16 digits", name, d)
		}
	}
	s := string(d)
	return strings.Join([]string{s[0:4], s[4:6], s[6:8], s[8:10], s[10:12], s[12:14], s[14:16]}, "-"), nil
}

// FromCmdline returns the value of CmdlineParam in a kernel command line ("" if absent).
func FromCmdline(cmdline string) string {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, CmdlineParam+"="); ok {
			return v
		}
	}
	return ""
}
